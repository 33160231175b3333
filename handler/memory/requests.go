package memory

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/profileflow/profileflow/handler/request"
)

// Requests is an in-memory request.Store and request.LockStore. Records are
// deep-copied through JSON, as a database would, so callers never share
// state with the store.
type Requests struct {
	recs  *Docs[[]byte]
	locks *Docs[[]byte]
}

// NewRequests returns an empty store.
func NewRequests() *Requests {
	return &Requests{recs: NewDocs[[]byte]("request"), locks: NewDocs[[]byte]("locks")}
}

var (
	_ request.Store     = (*Requests)(nil)
	_ request.LockStore = (*Requests)(nil)
)

func enc(v any) []byte { b, _ := json.Marshal(v); return b }

func (s *Requests) CreateRequest(ctx context.Context, r request.Record) (request.Record, error) {
	etag, err := s.recs.Create(ctx, r.ID, enc(r))
	r.ETag = etag
	return r, err
}

func (s *Requests) GetRequest(ctx context.Context, id string) (request.Record, error) {
	b, etag, err := s.recs.Get(ctx, id)
	if err != nil {
		return request.Record{}, err
	}
	var r request.Record
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	r.ETag = etag
	return r, nil
}

func (s *Requests) ReplaceRequest(ctx context.Context, r request.Record) (request.Record, error) {
	etag, err := s.recs.Replace(ctx, r.ID, enc(r), r.ETag)
	if err != nil {
		return r, err
	}
	r.ETag = etag
	return r, nil
}

func (s *Requests) GetLocks(ctx context.Context, profileID string) (request.Locks, error) {
	b, etag, err := s.locks.Get(ctx, request.LocksID(profileID))
	if err != nil {
		return request.Locks{}, err
	}
	var l request.Locks
	_ = json.Unmarshal(b, &l)
	l.ETag = etag
	return l, nil
}

func (s *Requests) CreateLocks(ctx context.Context, l request.Locks) (request.Locks, error) {
	etag, err := s.locks.Create(ctx, l.ID, enc(l))
	l.ETag = etag
	return l, err
}

func (s *Requests) ReplaceLocks(ctx context.Context, l request.Locks) (request.Locks, error) {
	etag, err := s.locks.Replace(ctx, l.ID, enc(l), l.ETag)
	l.ETag = etag
	return l, err
}

func (s *Requests) NeedingAttention(_ context.Context, updatedBefore time.Time, limit int) ([]string, error) {
	var ids []string
	s.recs.Each(func(id string, b []byte) {
		var r request.Record
		if json.Unmarshal(b, &r) == nil && r.Attention && r.LastUpdatedTime.Before(updatedBefore) && len(ids) < limit {
			ids = append(ids, id)
		}
	})
	sort.Strings(ids)
	return ids, nil
}
