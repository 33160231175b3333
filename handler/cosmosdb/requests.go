package cosmosdb

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// RequestStore implements request.Store and request.LockStore on the
// requests container: request records (type "request") and one lock
// document per profile (type "locks", id "locks-<profileId>").
type RequestStore struct {
	c *Container
}

var (
	_ request.Store     = (*RequestStore)(nil)
	_ request.LockStore = (*RequestStore)(nil)
)

// NewRequestStore returns a store on c (the requests container).
func NewRequestStore(c *Container) *RequestStore { return &RequestStore{c: c} }

var requestMsgs = map[domain.Kind]string{
	domain.KindNotFound:  "request not found",
	domain.KindConflict:  "request already exists",
	domain.KindStale:     "request was changed concurrently",
	domain.KindTransient: "requests are unavailable; retry later",
}

func (s *RequestStore) CreateRequest(ctx context.Context, r request.Record) (request.Record, error) {
	etag, err := s.c.Create(ctx, r.ID, r)
	if err != nil {
		return r, relabel(err, requestMsgs)
	}
	r.ETag = etag
	return r, nil
}

func (s *RequestStore) GetRequest(ctx context.Context, id string) (request.Record, error) {
	var r request.Record
	if checkID(id) != nil {
		return r, domain.E(domain.KindNotFound, "request not found")
	}
	etag, err := s.c.Read(ctx, id, &r)
	if err != nil {
		return request.Record{}, relabel(err, requestMsgs)
	}
	r.ETag = etag
	return r, nil
}

func (s *RequestStore) ReplaceRequest(ctx context.Context, r request.Record) (request.Record, error) {
	etag, err := s.c.Replace(ctx, r.ID, r, r.ETag)
	if err != nil {
		return r, relabel(err, requestMsgs)
	}
	r.ETag = etag
	return r, nil
}

func (s *RequestStore) GetLocks(ctx context.Context, profileID string) (request.Locks, error) {
	var l request.Locks
	etag, err := s.c.Read(ctx, request.LocksID(profileID), &l)
	if err != nil {
		return request.Locks{}, err
	}
	l.ETag = etag
	return l, nil
}

func (s *RequestStore) CreateLocks(ctx context.Context, l request.Locks) (request.Locks, error) {
	etag, err := s.c.Create(ctx, l.ID, l)
	l.ETag = etag
	return l, err
}

func (s *RequestStore) ReplaceLocks(ctx context.Context, l request.Locks) (request.Locks, error) {
	etag, err := s.c.Replace(ctx, l.ID, l, l.ETag)
	l.ETag = etag
	return l, err
}

// NeedingAttention queries records flagged for the sweeper.
func (s *RequestStore) NeedingAttention(ctx context.Context, updatedBefore time.Time, limit int) ([]string, error) {
	var ids []string
	q := fmt.Sprintf(`SELECT TOP %d c.id FROM c WHERE c.type = "request" AND c.attention = true AND c.lastUpdatedTime < @before`, max(limit, 1))
	err := s.c.Query(ctx, q, map[string]any{"@before": updatedBefore.UTC().Format(time.RFC3339Nano)}, func(raw []byte) error {
		if len(ids) >= limit {
			return nil
		}
		var row struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			return err
		}
		ids = append(ids, row.ID)
		return nil
	})
	if err != nil {
		return nil, relabel(err, requestMsgs)
	}
	return ids, nil
}
