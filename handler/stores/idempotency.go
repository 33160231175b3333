package stores

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
)

// Idempotency is the idempotency.Store on an idempotency container (TTL
// on). The document is the idempotency.Record JSON plus its end of life,
// docstore.ExpiryField, the record's TTL seconds after each write (the
// record's "ttl" is Cosmos DB's cleanup of the same document). Past it the
// record is absent (docstore.Expiring) even before Cosmos DB deletes it,
// and the key can be used again.
type Idempotency struct {
	docs docstore.Docs
	now  func() time.Time
}

var _ idempotency.Store = (*Idempotency)(nil)

// NewIdempotency returns the idempotency record store on docs.
func NewIdempotency(docs docstore.Docs, opts ...Option) *Idempotency {
	o := newOptions(opts)
	return &Idempotency{docs: o.expiring(docs), now: o.now}
}

type idemDoc struct {
	idempotency.Record
	DocExpiresAt *time.Time `json:"docExpiresAt,omitempty"`
}

// doc adds the record's end of life; a record without TTL never expires.
func (s *Idempotency) doc(r idempotency.Record) idemDoc {
	d := idemDoc{Record: r}
	if r.TTL > 0 {
		exp, _ := docstore.Lifetime(s.now(), time.Duration(r.TTL)*time.Second)
		d.DocExpiresAt = &exp
	}
	return d
}

var idemMsgs = map[domain.Kind]string{
	domain.KindNotFound:  "idempotency record not found",
	domain.KindConflict:  "idempotency record already exists",
	domain.KindStale:     "idempotency record was changed by another request",
	domain.KindTransient: "idempotency records are unavailable; retry later",
}

// GetIdem returns the record id (KindNotFound if none).
func (s *Idempotency) GetIdem(ctx context.Context, id string) (idempotency.Record, error) {
	var r idempotency.Record
	etag, err := s.docs.Read(ctx, id, &r)
	if err != nil {
		return idempotency.Record{}, docstore.Relabel(err, idemMsgs)
	}
	r.ETag = etag
	return r, nil
}

// CreateIdem stores a new record (KindConflict if r.ID exists).
func (s *Idempotency) CreateIdem(ctx context.Context, r idempotency.Record) (idempotency.Record, error) {
	etag, err := s.docs.Create(ctx, r.ID, s.doc(r))
	if err != nil {
		return idempotency.Record{}, docstore.Relabel(err, idemMsgs)
	}
	r.ETag = etag
	return r, nil
}

// ReplaceIdem writes r if the stored ETag equals r.ETag (KindStale
// otherwise, KindNotFound if gone).
func (s *Idempotency) ReplaceIdem(ctx context.Context, r idempotency.Record) (idempotency.Record, error) {
	if r.ETag == "" {
		return idempotency.Record{}, domain.E(domain.KindInternal, "idempotency record replaced without an ETag")
	}
	etag, err := s.docs.Replace(ctx, r.ID, s.doc(r), r.ETag)
	if err != nil {
		return idempotency.Record{}, docstore.Relabel(err, idemMsgs)
	}
	r.ETag = etag
	return r, nil
}

// DeleteIdem removes the record id if its ETag equals etag ("" =
// unconditionally; KindStale, KindNotFound).
func (s *Idempotency) DeleteIdem(ctx context.Context, id, etag string) error {
	return docstore.Relabel(s.docs.Delete(ctx, id, etag), idemMsgs)
}
