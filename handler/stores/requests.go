package stores

import (
	"context"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// Requests is request.Store and request.LockStore on a requests container:
// request records (the request.Record JSON, "type": "request", with its
// request.Waits: see requests_waits.go), one lock
// document per profile (the request.Locks JSON, id request.LocksID) and the
// attention index (see NeedingAttention).
type Requests struct {
	docs docstore.Docs
	o    options
}

var (
	_ request.Store     = (*Requests)(nil)
	_ request.LockStore = (*Requests)(nil)
)

// NewRequests returns the request and lock store on docs; WithClock and
// WithAttentionIndex configure the attention index.
func NewRequests(docs docstore.Docs, opts ...Option) *Requests {
	return &Requests{docs: docs, o: newOptions(opts)}
}

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

// CreateRequest stores a new record (KindConflict if r.ID exists). A record
// with Attention set is first listed in the attention index.
func (s *Requests) CreateRequest(ctx context.Context, r request.Record) (request.Record, error) {
	return s.save(ctx, r, func(r request.Record) (string, error) { return s.docs.Create(ctx, r.ID, docOf(r)) })
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

// GetRequestStatus reads the status part of a request (request.StatusDoc);
// errors as GetRequest. The record has no ETag.
func (s *Requests) GetRequestStatus(ctx context.Context, id string) (request.Record, error) {
	if docstore.CheckID(id) != nil {
		return request.Record{}, domain.E(domain.KindNotFound, "request not found")
	}
	var d request.StatusDoc
	if _, err := s.docs.Read(ctx, id, &d); err != nil {
		return request.Record{}, docstore.Relabel(err, requestMsgs)
	}
	return d.Record(), nil
}

// ReplaceRequest writes r if the stored ETag equals r.ETag (KindStale
// otherwise; a record without ETag is KindInternal). The attention index
// follows r.Attention (see NeedingAttention).
func (s *Requests) ReplaceRequest(ctx context.Context, r request.Record) (request.Record, error) {
	if r.ETag == "" {
		return r, domain.E(domain.KindInternal, "request replaced without an ETag")
	}
	return s.save(ctx, r, func(r request.Record) (string, error) { return s.docs.Replace(ctx, r.ID, docOf(r), r.ETag) })
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

// openTaskFields are the fields an approvals page needs of a record.
var openTaskFields = []string{"id", "type", "name", "profileId", "owner", "input", "attachments", "runtimeStatus", "customStatus", "createdTime", "lastUpdatedTime", "taskIndex"}

// OpenTasks runs one query: request records whose taskIndex lists f.Group
// among its groups (or f.Actor among its actors) and whose taskIndex.latest
// is at least f.Since, projected onto the fields an approvals page shows,
// at most limit. Cosmos DB serves it from the index of the paths in
// QueriedPaths: ARRAY_CONTAINS on /taskIndex/groups/[] (or actors) and a
// range on /taskIndex/latest. Errors: KindTransient when throttled or unavailable.
func (s *Requests) OpenTasks(ctx context.Context, f request.TaskFilter, limit int) ([]request.Record, error) {
	where := []docstore.Cond{docstore.Where("type", docstore.Eq, "request")}
	switch {
	case f.Group != "":
		where = append(where, docstore.Where("taskIndex.groups", docstore.Contains, f.Group))
	case f.Actor != "":
		where = append(where, docstore.Where("taskIndex.actors", docstore.Contains, f.Actor))
	default:
		return nil, domain.E(domain.KindInvalid, "open tasks: a group or an actor is required")
	}
	if f.Since != "" {
		where = append(where, docstore.Where("taskIndex.latest", docstore.Ge, f.Since))
	}
	var out []request.Record
	err := s.docs.Query(ctx, docstore.Query{Where: where, Select: openTaskFields, Limit: limit}, func(raw []byte) error {
		var r request.Record
		if err := docstore.Decode(raw, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, docstore.Relabel(err, requestMsgs)
	}
	return out, nil
}
