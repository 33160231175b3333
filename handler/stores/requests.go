package stores

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// Requests is request.Store and request.LockStore on a requests container:
// request records (the request.Record JSON, "type": "request") and one lock
// document per profile (the request.Locks JSON, id request.LocksID).
type Requests struct{ docs docstore.Docs }

var (
	_ request.Store     = (*Requests)(nil)
	_ request.LockStore = (*Requests)(nil)
)

// NewRequests returns the request and lock store on docs.
func NewRequests(docs docstore.Docs) *Requests { return &Requests{docs: docs} }

var (
	requestMsgs = map[domain.Kind]string{
		domain.KindNotFound:  "request not found",
		domain.KindConflict:  "request already exists",
		domain.KindStale:     "request was changed concurrently",
		domain.KindTransient: "requests are unavailable; retry later",
	}
	lockMsgs = map[domain.Kind]string{
		domain.KindNotFound:  "no field locks for this profile",
		domain.KindConflict:  "field locks were changed concurrently",
		domain.KindStale:     "field locks were changed concurrently",
		domain.KindTransient: "requests are unavailable; retry later",
	}
)

// CreateRequest stores a new record (KindConflict if r.ID exists).
func (s *Requests) CreateRequest(ctx context.Context, r request.Record) (request.Record, error) {
	etag, err := s.docs.Create(ctx, r.ID, r)
	if err != nil {
		return r, docstore.Relabel(err, requestMsgs)
	}
	r.ETag = etag
	return r, nil
}

// GetRequest returns the record id: KindNotFound "request not found" if
// there is none (also for ids no document can have).
func (s *Requests) GetRequest(ctx context.Context, id string) (request.Record, error) {
	if docstore.CheckID(id) != nil {
		return request.Record{}, domain.E(domain.KindNotFound, "request not found")
	}
	var r request.Record
	etag, err := s.docs.Read(ctx, id, &r)
	if err != nil {
		return request.Record{}, docstore.Relabel(err, requestMsgs)
	}
	r.ETag = etag
	return r, nil
}

// ReplaceRequest writes r if the stored ETag equals r.ETag (KindStale
// otherwise; a record without ETag is KindInternal).
func (s *Requests) ReplaceRequest(ctx context.Context, r request.Record) (request.Record, error) {
	if r.ETag == "" {
		return r, domain.E(domain.KindInternal, "request replaced without an ETag")
	}
	etag, err := s.docs.Replace(ctx, r.ID, r, r.ETag)
	if err != nil {
		return r, docstore.Relabel(err, requestMsgs)
	}
	r.ETag = etag
	return r, nil
}

// GetLocks returns the profile's lock document (KindNotFound if none).
func (s *Requests) GetLocks(ctx context.Context, profileID string) (request.Locks, error) {
	var l request.Locks
	etag, err := s.docs.Read(ctx, request.LocksID(profileID), &l)
	if err != nil {
		return request.Locks{}, docstore.Relabel(err, lockMsgs)
	}
	l.ETag = etag
	return l, nil
}

// CreateLocks stores a new lock document (KindConflict if it exists).
func (s *Requests) CreateLocks(ctx context.Context, l request.Locks) (request.Locks, error) {
	etag, err := s.docs.Create(ctx, l.ID, l)
	if err != nil {
		return l, docstore.Relabel(err, lockMsgs)
	}
	l.ETag = etag
	return l, nil
}

// ReplaceLocks writes l if the stored ETag equals l.ETag (KindStale
// otherwise; a lock document without ETag is KindInternal).
func (s *Requests) ReplaceLocks(ctx context.Context, l request.Locks) (request.Locks, error) {
	if l.ETag == "" {
		return l, domain.E(domain.KindInternal, "field locks replaced without an ETag")
	}
	etag, err := s.docs.Replace(ctx, l.ID, l, l.ETag)
	if err != nil {
		return l, docstore.Relabel(err, lockMsgs)
	}
	l.ETag = etag
	return l, nil
}

var errEnough = errors.New("enough results")

// NeedingAttention returns, sorted, up to limit ids of request records with
// Attention set whose LastUpdatedTime is before updatedBefore.
//
// Records store their times in UTC as RFC 3339 strings, which the database
// compares as strings; as the number of fraction digits varies, the query
// asks for records before the next whole second and the exact bound is
// applied here.
func (s *Requests) NeedingAttention(ctx context.Context, updatedBefore time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	bound := updatedBefore.UTC().Truncate(time.Second).Add(time.Second).Format(time.RFC3339)
	q := docstore.Query{
		Where: []docstore.Cond{
			docstore.Where("type", docstore.Eq, "request"),
			docstore.Where("attention", docstore.Eq, true),
			docstore.Where("lastUpdatedTime", docstore.Lt, bound),
		},
		Select: []string{"id", "lastUpdatedTime"},
	}
	var ids []string
	err := s.docs.Query(ctx, q, func(raw []byte) error {
		var row struct {
			ID              string    `json:"id"`
			LastUpdatedTime time.Time `json:"lastUpdatedTime"`
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			return domain.Wrap(domain.KindInternal, err, "stored request is malformed")
		}
		if row.LastUpdatedTime.Before(updatedBefore) {
			ids = append(ids, row.ID)
		}
		if len(ids) >= limit {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, docstore.Relabel(err, requestMsgs)
	}
	slices.Sort(ids)
	return ids, nil
}
