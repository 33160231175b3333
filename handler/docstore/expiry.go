package docstore

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// ExpiryField is the top-level document field ("docExpiresAt", an RFC 3339
// time) that ends a document's life. Cosmos DB's TTL ("ttl", seconds after
// the last write) only cleans up: Azure deletes expired items in the
// background, with no bound on the delay, and until then reads and queries
// still return them ("Time to Live (TTL) in Azure Cosmos DB", Microsoft
// Learn). Expiring enforces the time in code.
const ExpiryField = "docExpiresAt"

// Lifetime returns the expiry time and the matching "ttl" (whole seconds,
// at least 1, rounded up) of a document written at now that lives for d.
// The expiry is now + ttl seconds, so Cosmos DB never deletes a document
// before Expiring already treats it as absent.
func Lifetime(now time.Time, d time.Duration) (expiresAt time.Time, ttl int64) {
	ttl = max(int64(math.Ceil(d.Seconds())), 1)
	return now.UTC().Add(time.Duration(ttl) * time.Second), ttl
}

// Expiring wraps d so that a document whose ExpiryField is at or before
// now() is absent, whether or not the database has deleted it yet:
//
//	Read     KindNotFound
//	Create   succeeds over it, replacing it ETag-checked (a writer that
//	         re-creates it first wins; the loser gets KindConflict)
//	Query    skips it (when q.Select is not empty ExpiryField is added to
//	         the projection, to decide)
//
// Replace and Delete pass through: their ifMatch ETag comes from a read
// that saw the document live, and a conditional write to a document that
// expired since does no harm (it gets a new expiry from its writer).
// Documents without ExpiryField never expire. now nil means time.Now.
func Expiring(d Docs, now func() time.Time) Docs {
	if now == nil {
		now = time.Now
	}
	return &expiring{Docs: d, now: now}
}

type expiring struct {
	Docs
	now func() time.Time
}

type expiryHead struct {
	ExpiresAt *time.Time `json:"docExpiresAt"`
}

// expired reports whether the raw document is past its expiry at now.
func expired(raw []byte, now time.Time) bool {
	var h expiryHead
	if json.Unmarshal(raw, &h) != nil || h.ExpiresAt == nil {
		return false
	}
	return !now.Before(*h.ExpiresAt)
}

func (e *expiring) Read(ctx context.Context, id string, v any) (string, error) {
	var raw json.RawMessage
	etag, err := e.Docs.Read(ctx, id, &raw)
	if err != nil {
		return "", err
	}
	if expired(raw, e.now()) {
		return "", domain.E(domain.KindNotFound, "not found")
	}
	if err := Decode(raw, v); err != nil {
		return "", err
	}
	return etag, nil
}

func (e *expiring) Create(ctx context.Context, id string, v any) (string, error) {
	for range 3 {
		etag, err := e.Docs.Create(ctx, id, v)
		if !domain.Is(err, domain.KindConflict) {
			return etag, err
		}
		var raw json.RawMessage
		old, rerr := e.Docs.Read(ctx, id, &raw)
		switch {
		case domain.Is(rerr, domain.KindNotFound):
			continue // deleted meanwhile: create again
		case rerr != nil:
			return "", rerr
		case !expired(raw, e.now()):
			return "", err
		}
		etag, err = e.Docs.Replace(ctx, id, v, old)
		switch {
		case err == nil:
			return etag, nil
		case domain.Is(err, domain.KindNotFound):
			continue
		case domain.Is(err, domain.KindStale):
			// Someone wrote it since: it is live again.
			return "", domain.Wrap(domain.KindConflict, err, "already exists")
		default:
			return "", err
		}
	}
	return "", domain.E(domain.KindTransient, "document %s keeps changing; retry shortly", id)
}

func (e *expiring) Query(ctx context.Context, q Query, each func(raw []byte) error) error {
	if len(q.Select) > 0 {
		q.Select = append(q.Select[:len(q.Select):len(q.Select)], ExpiryField)
	}
	limit := q.Limit
	q.Limit = 0 // expired documents must not count
	n := 0
	err := e.Docs.Query(ctx, q, func(raw []byte) error {
		if expired(raw, e.now()) {
			return nil
		}
		if err := each(raw); err != nil {
			return err
		}
		n++
		if limit > 0 && n >= limit {
			return errQueryDone
		}
		return nil
	})
	if err == errQueryDone {
		return nil
	}
	return err
}

type queryDone struct{}

func (queryDone) Error() string { return "query done" }

var errQueryDone error = queryDone{}
