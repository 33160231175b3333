package stores

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// Uploads is the upload.SessionStore on an uploads container. The document
// is the upload.Session JSON plus an end of life (docstore.ExpiryField and
// the matching "ttl", see docstore.Lifetime) UploadRetention after the
// upload window closed, when Azure has also discarded any uncommitted
// blocks. Past it the session is absent (docstore.Expiring) even before
// Cosmos DB's TTL deletes it.
type Uploads struct {
	docs docstore.Docs
	now  func() time.Time
}

var _ upload.SessionStore = (*Uploads)(nil)

// NewUploads returns the upload session store on docs.
func NewUploads(docs docstore.Docs, opts ...Option) *Uploads {
	o := newOptions(opts)
	return &Uploads{docs: o.expiring(docs), now: o.now}
}

// UploadRetention is how long a session document outlives its expiry
// (Azure discards uncommitted blocks after 7 days).
const UploadRetention = 7 * 24 * time.Hour

type uploadDoc struct {
	upload.Session
	DocExpiresAt *time.Time `json:"docExpiresAt,omitempty"`
	TTL          int64      `json:"ttl,omitempty"`
	// UnclaimedUntil is the session's ExpiresAt (fixed-width UTC, see
	// waitLayout) while no request claimed it and its blobs were not
	// deleted; absent otherwise. Unclaimed selects on it.
	UnclaimedUntil string `json:"sweepUnclaimedUntil,omitempty"`
}

var uploadMsgs = map[domain.Kind]string{
	domain.KindNotFound:  "upload not found",
	domain.KindConflict:  "upload already exists",
	domain.KindStale:     "upload was changed by another request",
	domain.KindTransient: "uploads are unavailable; retry later",
}

// doc is the stored form of sess with its end of life.
func (s *Uploads) doc(sess upload.Session) uploadDoc {
	doc := uploadDoc{Session: sess}
	if sess.RequestID == "" && sess.BlobsDeletedAt == nil && !sess.ExpiresAt.IsZero() {
		doc.UnclaimedUntil = sess.ExpiresAt.UTC().Format(waitLayout)
	}
	if !sess.ExpiresAt.IsZero() {
		now := s.now()
		exp, ttl := docstore.Lifetime(now, sess.ExpiresAt.Add(UploadRetention).Sub(now))
		doc.DocExpiresAt, doc.TTL = &exp, ttl
	}
	return doc
}

// CreateSession stores a new session; KindConflict if its id exists.
func (s *Uploads) CreateSession(ctx context.Context, sess upload.Session) (upload.Session, error) {
	doc := s.doc(sess)
	etag, err := s.docs.Create(ctx, sess.ID, doc)
	if err != nil {
		return upload.Session{}, docstore.Relabel(err, uploadMsgs)
	}
	sess.ETag = etag
	return sess, nil
}

// ReplaceSession saves sess if it is unchanged since read (sess.ETag):
// KindStale when another write came first, KindNotFound if it is gone.
func (s *Uploads) ReplaceSession(ctx context.Context, sess upload.Session) (upload.Session, error) {
	if sess.ETag == "" {
		return sess, domain.E(domain.KindInternal, "upload replaced without an ETag")
	}
	doc := s.doc(sess)
	etag, err := s.docs.Replace(ctx, sess.ID, doc, sess.ETag)
	if err != nil {
		return upload.Session{}, docstore.Relabel(err, uploadMsgs)
	}
	sess.ETag = etag
	return sess, nil
}

// GetSession returns the session id; KindNotFound "upload not found" if
// there is none.
func (s *Uploads) GetSession(ctx context.Context, id string) (upload.Session, error) {
	if docstore.CheckID(id) != nil {
		return upload.Session{}, domain.E(domain.KindNotFound, "upload not found")
	}
	var doc uploadDoc
	etag, err := s.docs.Read(ctx, id, &doc)
	if err != nil {
		return upload.Session{}, docstore.Relabel(err, uploadMsgs)
	}
	doc.Session.ETag = etag
	return doc.Session, nil
}

var _ upload.UnclaimedSessions = (*Uploads)(nil)

// Unclaimed lists up to limit sessions no request claimed, whose window
// closed before `before` and whose blobs were not deleted (one
// cross-partition query; sessions past their end of life are absent).
func (s *Uploads) Unclaimed(ctx context.Context, before time.Time, limit int) ([]upload.Session, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := docstore.Query{Where: []docstore.Cond{docstore.Where("sweepUnclaimedUntil", docstore.Lt, before.UTC().Format(waitLayout))}, Limit: limit}
	var out []upload.Session
	err := s.docs.Query(ctx, q, func(raw []byte) error {
		var d uploadDoc
		if err := docstore.Decode(raw, &d); err != nil {
			return err
		}
		out = append(out, d.Session)
		return nil
	})
	if err != nil {
		return nil, docstore.Relabel(err, uploadMsgs)
	}
	return out, nil
}
