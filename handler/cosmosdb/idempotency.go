package cosmosdb

import (
	"context"

	"github.com/profileflow/profileflow/handler/idempotency"
)

// IdempotencyStore implements idempotency.Store on the idempotency container
// (TTL enabled; each record carries ttl = 24 h).
type IdempotencyStore struct{ c *Container }

var _ idempotency.Store = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns a store on c.
func NewIdempotencyStore(c *Container) *IdempotencyStore { return &IdempotencyStore{c: c} }

func (s *IdempotencyStore) GetIdem(ctx context.Context, id string) (idempotency.Record, error) {
	var r idempotency.Record
	etag, err := s.c.Read(ctx, id, &r)
	r.ETag = etag
	return r, err
}

func (s *IdempotencyStore) CreateIdem(ctx context.Context, r idempotency.Record) (idempotency.Record, error) {
	etag, err := s.c.Create(ctx, r.ID, r)
	r.ETag = etag
	return r, err
}

func (s *IdempotencyStore) ReplaceIdem(ctx context.Context, r idempotency.Record) (idempotency.Record, error) {
	etag, err := s.c.Replace(ctx, r.ID, r, r.ETag)
	r.ETag = etag
	return r, err
}

func (s *IdempotencyStore) DeleteIdem(ctx context.Context, id, etag string) error {
	return s.c.Delete(ctx, id, etag)
}
