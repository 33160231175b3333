package memory

import (
	"context"

	"github.com/profileflow/profileflow/handler/idempotency"
)

// Idempotency is an in-memory idempotency.Store.
type Idempotency struct{ d *Docs[idempotency.Record] }

// NewIdempotency returns an empty store.
func NewIdempotency() *Idempotency {
	return &Idempotency{d: NewDocs[idempotency.Record]("idempotency key")}
}

var _ idempotency.Store = (*Idempotency)(nil)

func (s *Idempotency) GetIdem(ctx context.Context, id string) (idempotency.Record, error) {
	r, etag, err := s.d.Get(ctx, id)
	r.ETag = etag
	return r, err
}

func (s *Idempotency) CreateIdem(ctx context.Context, r idempotency.Record) (idempotency.Record, error) {
	etag, err := s.d.Create(ctx, r.ID, r)
	r.ETag = etag
	return r, err
}

func (s *Idempotency) ReplaceIdem(ctx context.Context, r idempotency.Record) (idempotency.Record, error) {
	etag, err := s.d.Replace(ctx, r.ID, r, r.ETag)
	r.ETag = etag
	return r, err
}

func (s *Idempotency) DeleteIdem(ctx context.Context, id, etag string) error {
	return s.d.Delete(ctx, id, etag)
}
