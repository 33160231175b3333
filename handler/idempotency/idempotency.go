// Package idempotency implements Idempotency-Key handling for unsafe API
// calls: the same key with the same body replays the stored response byte
// for byte, the same key with another body is refused (422), and a key whose
// first request is still running is refused (409). Keys are scoped to the
// caller and kept 24 hours (Cosmos TTL).
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// TTL is how long a key is remembered.
const TTL = 24 * time.Hour

// LeaseTimeout: a "processing" record older than this is taken over (its
// request died mid-way).
const LeaseTimeout = 2 * time.Minute

// Record is one remembered key.
type Record struct {
	ID       string            `json:"id"` // sha256(subject, key)
	BodyHash string            `json:"bodyHash"`
	State    string            `json:"state"` // processing | done
	Status   int               `json:"status,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     []byte            `json:"body,omitempty"`
	// RequestID is the request the key's first call is opening (Note),
	// so a call that takes the key over after that one stopped can answer
	// from the request instead of submitting the change again.
	RequestID string    `json:"requestId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	TTL       int       `json:"ttl"` // seconds, honoured by Cosmos DB
	ETag      string    `json:"-"`
}

// Store is the port for records (KindNotFound, KindConflict on duplicate
// create, KindStale on ETag mismatch).
type Store interface {
	GetIdem(ctx context.Context, id string) (Record, error)
	CreateIdem(ctx context.Context, r Record) (Record, error)
	ReplaceIdem(ctx context.Context, r Record) (Record, error)
	DeleteIdem(ctx context.Context, id, etag string) error
}

// Keys handles Idempotency-Key for one store.
type Keys struct {
	Store Store
	Now   func() time.Time
}

func (k *Keys) now() time.Time {
	if k.Now != nil {
		return k.Now().UTC()
	}
	return time.Now().UTC()
}

// ID scopes a key to the caller.
func ID(subject, key string) string {
	h := sha256.Sum256([]byte(subject + "\x00" + key))
	return "idem-" + hex.EncodeToString(h[:])
}

// Hash is the request fingerprint (method, path and body).
func Hash(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method + " " + path + "\x00"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ValidateKey checks the header value: 1–255 visible ASCII characters.
func ValidateKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return domain.E(domain.KindInvalid, "Idempotency-Key must be 1–255 characters")
	}
	for _, c := range []byte(key) {
		if c < 0x21 || c > 0x7e {
			return domain.E(domain.KindInvalid, "Idempotency-Key may hold only visible ASCII characters")
		}
	}
	return nil
}

// Begin claims a key. It returns (replay, nil) when a finished response is
// stored for the same body, or (lease, nil) — lease.State "processing" —
// when this caller now owns the key and must call Finish or Abandon.
// Errors: KindUnprocessable for another body under the key, KindConflict
// (RetryAfter 2 s) while the key's first request runs, KindTransient
// "Idempotency-Key is busy; retry shortly" when every attempt of
// docstore.Retry lost a race, and the store's errors.
func (k *Keys) Begin(ctx context.Context, subject, key, bodyHash string) (rec Record, replay bool, err error) {
	id := ID(subject, key)
	now := k.now()
	err = docstore.Retry(ctx, "Idempotency-Key", func(ctx context.Context) error {
		lease := Record{ID: id, BodyHash: bodyHash, State: "processing", CreatedAt: now, UpdatedAt: now, TTL: int(TTL.Seconds())}
		created, err := k.Store.CreateIdem(ctx, lease)
		if err == nil {
			rec = created
			return nil
		}
		if !domain.Is(err, domain.KindConflict) {
			return err
		}
		cur, err := k.Store.GetIdem(ctx, id)
		if domain.Is(err, domain.KindNotFound) {
			return lostRace(err) // expired or abandoned in between
		}
		if err != nil {
			return err
		}
		switch {
		case now.Sub(cur.CreatedAt) > TTL:
			if err := k.Store.DeleteIdem(ctx, id, cur.ETag); err != nil && !domain.Is(err, domain.KindNotFound) && !domain.Is(err, domain.KindStale) {
				return err
			}
			return lostRace(nil) // create again
		case cur.BodyHash != bodyHash:
			return domain.E(domain.KindUnprocessable, "Idempotency-Key was already used with a different request body")
		case cur.State == "done":
			rec, replay = cur, true
			return nil
		case now.Sub(cur.UpdatedAt) > LeaseTimeout:
			cur.UpdatedAt = now
			taken, err := k.Store.ReplaceIdem(ctx, cur)
			if err != nil {
				return err // KindStale: another caller took it over; start again
			}
			rec = taken
			return nil
		default:
			e := domain.E(domain.KindConflict, "a request with this Idempotency-Key is still being processed")
			e.RetryAfter = 2 * time.Second
			return e
		}
	})
	if err != nil {
		return Record{}, false, err
	}
	return rec, replay, nil
}

// lostRace asks docstore.Retry for another attempt from a fresh read.
func lostRace(cause error) error {
	return domain.Wrap(domain.KindStale, cause, "Idempotency-Key changed meanwhile")
}

// Finish stores the response for replays.
func (k *Keys) Finish(ctx context.Context, lease Record, status int, headers map[string]string, body []byte) error {
	lease.State, lease.Status, lease.Headers, lease.Body, lease.UpdatedAt = "done", status, headers, body, k.now()
	_, err := k.Store.ReplaceIdem(ctx, lease)
	return err
}

// Note records in the lease the request its call is opening, before
// anything is spent (see Record.RequestID); it returns the updated lease.
// Errors: KindStale when another call took the key over; the store's.
func (k *Keys) Note(ctx context.Context, lease Record, requestID string) (Record, error) {
	lease.RequestID, lease.UpdatedAt = requestID, k.now()
	return k.Store.ReplaceIdem(ctx, lease)
}

// Abandon forgets the key (the request failed transiently and may be retried).
func (k *Keys) Abandon(ctx context.Context, lease Record) error {
	err := k.Store.DeleteIdem(ctx, lease.ID, lease.ETag)
	if domain.Is(err, domain.KindNotFound) {
		return nil
	}
	return err
}
