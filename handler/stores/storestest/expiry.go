package storestest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/upload"
)

// wantExpiry fails unless the stored document id carries docExpiresAt at
// exp and a ttl of ttl seconds.
func wantExpiry(t *testing.T, ctx context.Context, d docstore.Docs, id string, exp time.Time, ttl int64) {
	t.Helper()
	var m struct {
		ExpiresAt time.Time `json:"docExpiresAt"`
		TTL       int64     `json:"ttl"`
	}
	if _, err := d.Read(ctx, id, &m); err != nil {
		t.Fatalf("raw read %s: %v", id, err)
	}
	if !m.ExpiresAt.Equal(exp) || m.TTL != ttl {
		t.Fatalf("%s: docExpiresAt %v ttl %d, want %v and %d", id, m.ExpiresAt, m.TTL, exp, ttl)
	}
}

// Every document that relies on TTL is absent once past its expiry, even
// though the database still holds it (the in-memory table never deletes,
// and the stand-in's TTL is far off), and can be created again.
func expiryCases() []Case {
	return []Case{
		{Name: "expiry: idempotency records", Run: func(t *testing.T, ctx context.Context, d docstore.Docs) {
			clock := NewClock(t0)
			s := stores.NewIdempotency(d, stores.WithClock(clock.Now))
			id := idempotency.ID("alice", "k")
			if _, err := s.CreateIdem(ctx, idempotency.Record{ID: id, BodyHash: "h1", State: "done", TTL: 60}); err != nil {
				t.Fatal(err)
			}
			wantExpiry(t, ctx, d, id, t0.Add(time.Minute), 60)
			clock.Set(t0.Add(time.Minute - time.Millisecond))
			if r, err := s.GetIdem(ctx, id); err != nil || r.BodyHash != "h1" {
				t.Fatalf("before expiry: %+v, %v", r, err)
			}
			clock.Set(t0.Add(time.Minute))
			_, err := s.GetIdem(ctx, id)
			wantErr(t, "GetIdem at expiry", err, domain.KindNotFound, "idempotency record not found")
			again, err := s.CreateIdem(ctx, idempotency.Record{ID: id, BodyHash: "h2", State: "processing", TTL: 60})
			if err != nil || again.ETag == "" {
				t.Fatalf("CreateIdem over the expired record: %+v, %v", again, err)
			}
			if r, err := s.GetIdem(ctx, id); err != nil || r.BodyHash != "h2" || r.ETag != again.ETag {
				t.Fatalf("re-created: %+v, %v", r, err)
			}
			_, err = s.CreateIdem(ctx, idempotency.Record{ID: id, BodyHash: "h3", TTL: 60})
			wantErr(t, "CreateIdem over the live record", err, domain.KindConflict, "")
			// Keys: an expired key starts afresh instead of replaying.
			k := &idempotency.Keys{Store: s}
			clock.Set(t0.Add(2 * time.Hour))
			if _, replay, err := k.Begin(ctx, "alice", "k", "h9"); err != nil || replay {
				t.Fatalf("Begin over an expired key: replay %v, %v", replay, err)
			}
		}},
		{Name: "expiry: mfa challenges, counters and token uses", Run: func(t *testing.T, ctx context.Context, d docstore.Docs) {
			clock := NewClock(t0)
			s := stores.NewMFA(d, stores.WithClock(clock.Now))
			c := mfa.Challenge{ID: "c1", ProfileID: "p1", Subject: "alice", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute), Status: mfa.StatusPending}
			if _, err := s.CreateChallenge(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SaveLimits(ctx, mfa.Limits{ProfileID: "p1", Sends: []time.Time{t0}}); err != nil {
				t.Fatal(err)
			}
			u := mfa.TokenUse{TokenID: "jti-1", ProfileID: "p1", Subject: "alice", UsedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
			if err := s.CreateTokenUse(ctx, u); err != nil {
				t.Fatal(err)
			}
			wantExpiry(t, ctx, d, "chal_c1", t0.Add(24*time.Hour), 24*3600)
			wantExpiry(t, ctx, d, "lim_p1", t0.Add(48*time.Hour), 48*3600)
			wantExpiry(t, ctx, d, "tok_jti-1", t0.Add(70*time.Minute), 70*60)

			clock.Set(t0.Add(70*time.Minute - time.Second))
			wantErr(t, "token replay before expiry", s.CreateTokenUse(ctx, u), domain.KindConflict, "MFA token already used")
			clock.Set(t0.Add(70 * time.Minute))
			if err := s.CreateTokenUse(ctx, u); err != nil {
				t.Fatalf("token use over the expired record: %v", err)
			}

			clock.Set(t0.Add(24 * time.Hour))
			_, err := s.GetChallenge(ctx, "c1")
			wantErr(t, "GetChallenge at expiry", err, domain.KindNotFound, "challenge not found")
			if _, err := s.CreateChallenge(ctx, c); err != nil {
				t.Fatalf("CreateChallenge over the expired one: %v", err)
			}
			if _, err := s.GetLimits(ctx, "p1"); err != nil {
				t.Fatalf("limits before expiry: %v", err)
			}

			clock.Set(t0.Add(48 * time.Hour))
			_, err = s.GetLimits(ctx, "p1")
			wantErr(t, "GetLimits at expiry", err, domain.KindNotFound, "no MFA counters")
			l, err := s.SaveLimits(ctx, mfa.Limits{ProfileID: "p1"})
			if err != nil {
				t.Fatalf("SaveLimits (create) over the expired counters: %v", err)
			}
			if back, err := s.GetLimits(ctx, "p1"); err != nil || back.ETag != l.ETag || len(back.Sends) != 0 {
				t.Fatalf("counters after re-creation: %+v, %v", back, err)
			}
		}},
		{Name: "expiry: upload sessions", Run: func(t *testing.T, ctx context.Context, d docstore.Docs) {
			clock := NewClock(t0)
			s := stores.NewUploads(d, stores.WithClock(clock.Now))
			sess := upload.Session{ID: upload.NewUploadID(), ProfileID: "1000", Owner: "user-1000", CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
			if _, err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			end := t0.Add(30*time.Minute + stores.UploadRetention)
			wantExpiry(t, ctx, d, sess.ID, end, int64(end.Sub(t0)/time.Second))
			clock.Set(end.Add(-time.Second))
			if _, err := s.GetSession(ctx, sess.ID); err != nil {
				t.Fatalf("before expiry: %v", err)
			}
			clock.Set(end)
			_, err := s.GetSession(ctx, sess.ID)
			wantErr(t, "GetSession at expiry", err, domain.KindNotFound, "upload not found")
			if _, err := s.CreateSession(ctx, sess); err != nil {
				t.Fatalf("CreateSession over the expired one: %v", err)
			}
		}},
		{Name: "expiry: queries skip expired documents", Run: func(t *testing.T, ctx context.Context, d docstore.Docs) {
			clock := NewClock(t0)
			x := docstore.Expiring(d, clock.Now)
			for i, id := range []string{"a", "b", "c", "d"} {
				exp, ttl := docstore.Lifetime(t0, time.Duration(i+1)*time.Minute)
				doc := map[string]any{"id": id, "kind": "k", docstore.ExpiryField: exp, "ttl": ttl}
				if _, err := x.Create(ctx, id, doc); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := x.Create(ctx, "forever", map[string]any{"id": "forever", "kind": "k"}); err != nil {
				t.Fatal(err)
			}
			clock.Set(t0.Add(2 * time.Minute)) // a and b expired
			for _, q := range []docstore.Query{
				{Where: []docstore.Cond{docstore.Where("kind", docstore.Eq, "k")}},
				{Where: []docstore.Cond{docstore.Where("kind", docstore.Eq, "k")}, Select: []string{"id"}},
			} {
				var ids []string
				err := x.Query(ctx, q, func(raw []byte) error {
					var m struct{ ID string }
					if err := json.Unmarshal(raw, &m); err != nil {
						return err
					}
					ids = append(ids, m.ID)
					return nil
				})
				slices.Sort(ids)
				if want := []string{"c", "d", "forever"}; err != nil || !slices.Equal(ids, want) {
					t.Fatalf("query %+v = %v, %v; want %v", q, ids, err, want)
				}
				q.Limit = 2
				n := 0
				if err := x.Query(ctx, q, func([]byte) error { n++; return nil }); err != nil || n != 2 {
					t.Fatalf("limit 2: %d results, %v", n, err)
				}
			}
		}},
	}
}
