package cosmosdb

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// UploadStore implements upload.SessionStore on the uploads container
// (pk /id). The document is the upload.Session JSON plus a per-item "ttl"
// (honoured when the container has a default TTL, e.g. -1) that removes it
// a week after the upload window closed, when Azure has also discarded any
// uncommitted blocks.
type UploadStore struct {
	c *Container
}

var _ upload.SessionStore = (*UploadStore)(nil)

// NewUploadStore returns an upload session store on c (the uploads container).
func NewUploadStore(c *Container) *UploadStore { return &UploadStore{c: c} }

// uploadRetention is how long a session document outlives its expiry.
const uploadRetention = 7 * 24 * time.Hour

type uploadDoc struct {
	upload.Session
	TTL int64 `json:"ttl,omitempty"`
}

var uploadMsgs = map[domain.Kind]string{
	domain.KindNotFound:  "upload not found",
	domain.KindConflict:  "upload already exists",
	domain.KindStale:     "upload was changed by another request",
	domain.KindTransient: "uploads are unavailable; retry later",
}

// CreateSession stores a new session; KindConflict if its id exists.
func (s *UploadStore) CreateSession(ctx context.Context, sess upload.Session) (upload.Session, error) {
	doc := uploadDoc{Session: sess}
	if !sess.ExpiresAt.IsZero() {
		doc.TTL = int64(time.Until(sess.ExpiresAt.Add(uploadRetention)) / time.Second)
		if doc.TTL < 1 {
			doc.TTL = 1
		}
	}
	etag, err := s.c.Create(ctx, sess.ID, doc)
	if err != nil {
		return upload.Session{}, relabel(err, uploadMsgs)
	}
	sess.ETag = etag
	return sess, nil
}

// GetSession returns the session id; KindNotFound if there is none.
func (s *UploadStore) GetSession(ctx context.Context, id string) (upload.Session, error) {
	if checkID(id) != nil {
		return upload.Session{}, domain.E(domain.KindNotFound, "upload not found")
	}
	var doc uploadDoc
	etag, err := s.c.Read(ctx, id, &doc)
	if err != nil {
		return upload.Session{}, relabel(err, uploadMsgs)
	}
	doc.Session.ETag = etag
	return doc.Session, nil
}
