// Package storestest is the contract suite of the entity stores of
// handler/stores: one table of cases over profiles, request records and
// locks, MFA, uploads and idempotency records, run against any
// docstore.Docs. The in-memory table and the Cosmos DB stand-in both run
// it, so store behaviour cannot differ between tests and production.
package storestest

import (
	"context"

	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/docstore/docstoretest"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/upload"
)

// Case is one contract case; it gets an empty container.
type Case = docstoretest.Case

// Run runs every case of Cases as a subtest, each against a fresh, empty
// container from newDocs. It returns the number of cases run.
func Run(t *testing.T, newDocs func(t *testing.T) docstore.Docs) int {
	return docstoretest.RunCases(t, Cases(), newDocs)
}

// wantErr fails unless err is a *domain.Error of kind k with message msg
// ("" = any message).
func wantErr(t *testing.T, what string, err error, k domain.Kind, msg string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != k || (msg != "" && de.Msg != msg) {
		t.Fatalf("%s: err = %v, want kind %v with message %q", what, err, k, msg)
	}
}

func raw(t *testing.T, ctx context.Context, d docstore.Docs, id string) map[string]any {
	t.Helper()
	var m map[string]any
	if _, err := d.Read(ctx, id, &m); err != nil {
		t.Fatalf("raw read %s: %v", id, err)
	}
	return m
}

// Cases returns the contract table.
func Cases() []Case {
	return append(append([]Case{
		{Name: "profiles: create, read, replace, stale and missing", Run: profiles},
		{Name: "profiles: ids no document can have are not found", Run: func(t *testing.T, ctx context.Context, d docstore.Docs) {
			s := stores.NewProfiles(d)
			for _, id := range []string{"9999", "a/b", "", "Müller"} {
				_, err := s.GetProfile(ctx, id)
				wantErr(t, fmt.Sprintf("GetProfile %q", id), err, domain.KindNotFound, "profile not found")
			}
		}},
		{Name: "requests: create, read, replace, stale and missing", Run: requests},
		{Name: "locks: create, read, replace, stale and missing", Run: locks},
		{Name: "mfa: challenges", Run: mfaChallenges},
		{Name: "mfa: limits create, replace and races are stale", Run: mfaLimits},
		{Name: "mfa: token uses are recorded once", Run: mfaTokenUses},
		{Name: "uploads: create, read, ttl, duplicate and missing", Run: uploads},
		{Name: "idempotency: records", Run: idemRecords},
		{Name: "idempotency: keys begin, replay, refuse and abandon", Run: idemKeys},
		{Name: "notices: intent once, marked sent, absent after NoticeTTL", Run: notices},
		{Name: "requests: the sweeper's queries select by saved waits", Run: waits},
	}, attentionCases()...), expiryCases()...)
}

func profiles(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewProfiles(d)
	in := domain.Profile{
		ID: "1000", Owner: "user-1000", FirstName: "Ada", LastName: "Lovelace",
		MaritalStatus: "single", Description: "first programmer", Phone: "+15550101000",
		Version: 1, UpdatedAt: time.Date(2026, 11, 24, 10, 30, 0, 123000000, time.UTC),
	}
	created, err := s.CreateProfile(ctx, in)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateProfile = %+v, %v", created, err)
	}
	got, err := s.GetProfile(ctx, "1000")
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	want := in
	want.ETag = created.ETag
	if !got.UpdatedAt.Equal(in.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, in.UpdatedAt)
	}
	got.UpdatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("GetProfile = %+v\nwant %+v", got, want)
	}
	// The stored document is the domain.Profile JSON without the ETag.
	doc := raw(t, ctx, d, "1000")
	for _, f := range []string{"id", "owner", "firstName", "lastName", "maritalStatus", "description", "phone", "version", "updatedAt"} {
		if _, ok := doc[f]; !ok {
			t.Errorf("stored document lacks %q: %v", f, doc)
		}
	}
	if _, ok := doc["ETag"]; ok {
		t.Error("stored document has an ETag field")
	}

	_, err = s.CreateProfile(ctx, in)
	wantErr(t, "duplicate CreateProfile", err, domain.KindConflict, "profile already exists")

	upd := got
	upd.ETag = created.ETag
	upd.Description, upd.Version = "analyst", 2
	replaced, err := s.ReplaceProfile(ctx, upd)
	if err != nil || replaced.ETag == "" || replaced.ETag == created.ETag {
		t.Fatalf("ReplaceProfile = %+v, %v (old ETag %q)", replaced, err, created.ETag)
	}
	stale := upd
	stale.Description = "lost update"
	_, err = s.ReplaceProfile(ctx, stale)
	wantErr(t, "ReplaceProfile with stale ETag", err, domain.KindStale, "profile was changed by another request")
	if now, err := s.GetProfile(ctx, "1000"); err != nil || now.Description != "analyst" || now.Version != 2 || now.ETag != replaced.ETag {
		t.Errorf("after replace: %+v, %v", now, err)
	}
	noETag := upd
	noETag.ETag = ""
	_, err = s.ReplaceProfile(ctx, noETag)
	wantErr(t, "ReplaceProfile without ETag", err, domain.KindInternal, "")
	missing := upd
	missing.ID = "9999"
	_, err = s.ReplaceProfile(ctx, missing)
	wantErr(t, "ReplaceProfile missing", err, domain.KindNotFound, "profile not found")
	bad := in
	bad.ID = "a/b"
	_, err = s.CreateProfile(ctx, bad)
	wantErr(t, "CreateProfile with a bad id", err, domain.KindInvalid, "")
}

func requests(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewRequests(d)
	at := time.Date(2026, 11, 30, 17, 30, 58, 500000000, time.UTC)
	in := request.Record{ID: "r-1", Type: "request", ProfileID: "1000", Owner: "user-1000", LastUpdatedTime: at, Attention: true}
	created, err := s.CreateRequest(ctx, in)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateRequest = %+v, %v", created, err)
	}
	_, err = s.CreateRequest(ctx, in)
	wantErr(t, "duplicate CreateRequest", err, domain.KindConflict, "request already exists")
	got, err := s.GetRequest(ctx, "r-1")
	if err != nil || got.ETag != created.ETag || got.ProfileID != "1000" || got.Owner != "user-1000" || !got.Attention || !got.LastUpdatedTime.Equal(at) {
		t.Fatalf("GetRequest = %+v, %v", got, err)
	}
	got.Attention = false
	replaced, err := s.ReplaceRequest(ctx, got)
	if err != nil || replaced.ETag == got.ETag {
		t.Fatalf("ReplaceRequest = %+v, %v", replaced, err)
	}
	_, err = s.ReplaceRequest(ctx, got) // the old ETag
	wantErr(t, "stale ReplaceRequest", err, domain.KindStale, "request was changed concurrently")
	if now, _ := s.GetRequest(ctx, "r-1"); now.Attention || now.ETag != replaced.ETag {
		t.Fatalf("after replace: %+v", now)
	}
	got.ETag = ""
	_, err = s.ReplaceRequest(ctx, got)
	wantErr(t, "ReplaceRequest without ETag", err, domain.KindInternal, "")
	for _, id := range []string{"no-such", "a/b", ""} {
		_, err := s.GetRequest(ctx, id)
		wantErr(t, fmt.Sprintf("GetRequest %q", id), err, domain.KindNotFound, "request not found")
	}
	gone := replaced
	gone.ID = "r-2"
	_, err = s.ReplaceRequest(ctx, gone)
	wantErr(t, "ReplaceRequest missing", err, domain.KindNotFound, "request not found")
}

func locks(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewRequests(d)
	_, err := s.GetLocks(ctx, "p1")
	wantErr(t, "GetLocks before any", err, domain.KindNotFound, "")
	since := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	l := request.Locks{ID: request.LocksID("p1"), Type: "locks", ProfileID: "p1", Fields: map[string]string{"lastName": "r-1"}, Since: map[string]time.Time{"lastName": since}}
	created, err := s.CreateLocks(ctx, l)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateLocks = %+v, %v", created, err)
	}
	_, err = s.CreateLocks(ctx, l)
	wantErr(t, "duplicate CreateLocks", err, domain.KindConflict, "")
	got, err := s.GetLocks(ctx, "p1")
	if err != nil || got.ETag != created.ETag || got.Fields["lastName"] != "r-1" || !got.Since["lastName"].Equal(since) {
		t.Fatalf("GetLocks = %+v, %v", got, err)
	}
	got.Fields["description"] = "r-2"
	replaced, err := s.ReplaceLocks(ctx, got)
	if err != nil || replaced.ETag == got.ETag {
		t.Fatalf("ReplaceLocks = %+v, %v", replaced, err)
	}
	got.Fields["maritalStatus"] = "r-3"
	_, err = s.ReplaceLocks(ctx, got) // the old ETag
	wantErr(t, "stale ReplaceLocks", err, domain.KindStale, "")
	if now, _ := s.GetLocks(ctx, "p1"); len(now.Fields) != 2 || now.Fields["description"] != "r-2" {
		t.Fatalf("after replace: %+v", now.Fields)
	}
	// Lock documents share the container with records but are not records.
	if _, err := s.GetRequest(ctx, "r-1"); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("GetRequest: %v", err)
	}
}

func mfaChallenges(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewMFA(d)
	now := time.Now().UTC().Truncate(time.Second)
	c := mfa.Challenge{ID: "c1", ProfileID: "p1", Subject: "alice", Phone: "+15555551000", VerificationID: "VE1",
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Status: mfa.StatusPending}
	created, err := s.CreateChallenge(ctx, c)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateChallenge = %+v, %v", created, err)
	}
	_, err = s.CreateChallenge(ctx, c)
	wantErr(t, "duplicate challenge", err, domain.KindConflict, "challenge already exists")
	got, err := s.GetChallenge(ctx, "c1")
	if err != nil || got.ETag != created.ETag || got.Subject != "alice" || got.VerificationID != "VE1" || !got.ExpiresAt.Equal(c.ExpiresAt) || got.Status != mfa.StatusPending {
		t.Fatalf("GetChallenge = %+v, %v", got, err)
	}
	got.Attempts = 1
	upd, err := s.ReplaceChallenge(ctx, got)
	if err != nil || upd.ETag == got.ETag {
		t.Fatalf("ReplaceChallenge = %+v, %v", upd, err)
	}
	got.Attempts = 2
	_, err = s.ReplaceChallenge(ctx, got) // the old ETag
	wantErr(t, "stale challenge replace", err, domain.KindStale, "challenge was changed by another request")
	if now, _ := s.GetChallenge(ctx, "c1"); now.Attempts != 1 {
		t.Fatalf("after stale replace: attempts %d", now.Attempts)
	}
	got.ETag = ""
	_, err = s.ReplaceChallenge(ctx, got)
	wantErr(t, "challenge replace without ETag", err, domain.KindInternal, "")
	for _, id := range []string{"nope", "bad/id"} {
		_, err = s.GetChallenge(ctx, id)
		wantErr(t, "GetChallenge "+id, err, domain.KindNotFound, "challenge not found")
	}
	doc := raw(t, ctx, d, "chal_c1")
	if doc["type"] != "challenge" || doc["challengeId"] != "c1" || doc["ttl"] != float64(24*3600) {
		t.Fatalf("challenge document = %v", doc)
	}
}

func mfaLimits(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewMFA(d)
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.GetLimits(ctx, "p1")
	wantErr(t, "no limits yet", err, domain.KindNotFound, "")
	l, err := s.SaveLimits(ctx, mfa.Limits{ProfileID: "p1", Sends: []time.Time{now}})
	if err != nil || l.ETag == "" {
		t.Fatalf("SaveLimits create = %+v, %v", l, err)
	}
	_, err = s.SaveLimits(ctx, mfa.Limits{ProfileID: "p1"})
	wantErr(t, "second create", err, domain.KindStale, "")
	l.Failures = []time.Time{now}
	l2, err := s.SaveLimits(ctx, l)
	if err != nil || l2.ETag == l.ETag {
		t.Fatalf("SaveLimits replace = %+v, %v", l2, err)
	}
	_, err = s.SaveLimits(ctx, l) // the old ETag
	wantErr(t, "stale replace", err, domain.KindStale, "")
	back, err := s.GetLimits(ctx, "p1")
	if err != nil || back.ETag != l2.ETag || len(back.Sends) != 1 || len(back.Failures) != 1 || !back.Sends[0].Equal(now) {
		t.Fatalf("GetLimits = %+v, %v", back, err)
	}
	// Counters deleted (TTL) since they were read: a race, so Stale.
	if err := d.Delete(ctx, "lim_p1", ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.SaveLimits(ctx, back)
	wantErr(t, "replace after expiry", err, domain.KindStale, "")
	_, err = s.GetLimits(ctx, "bad/id")
	wantErr(t, "GetLimits bad id", err, domain.KindInvalid, "invalid profile id")
	if _, err := s.SaveLimits(ctx, mfa.Limits{ProfileID: "p2"}); err != nil {
		t.Fatal(err)
	}
	if doc := raw(t, ctx, d, "lim_p2"); doc["type"] != "limits" || doc["ttl"] != float64(48*3600) {
		t.Fatalf("limits document = %v", doc)
	}
}

func mfaTokenUses(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewMFA(d)
	now := time.Now().UTC().Truncate(time.Second)
	u := mfa.TokenUse{TokenID: "jti-1_x", ProfileID: "p1", Subject: "alice", UsedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := s.CreateTokenUse(ctx, u); err != nil {
		t.Fatalf("CreateTokenUse: %v", err)
	}
	wantErr(t, "token replay", s.CreateTokenUse(ctx, u), domain.KindConflict, "MFA token already used")
	doc := raw(t, ctx, d, "tok_jti-1_x")
	if ttl, _ := doc["ttl"].(float64); doc["type"] != "token-use" || doc["jti"] != "jti-1_x" || ttl < 3600 || ttl > 4200 {
		t.Fatalf("token document = %v", doc)
	}
}

func uploads(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewUploads(d)
	now := time.Now().UTC().Truncate(time.Second)
	in := upload.Session{
		ID: upload.NewUploadID(), ProfileID: "1000", Owner: "user-1000",
		Account: "http://127.0.0.1:10000/devstoreaccount1", Container: "landing", BlockSize: 4 << 20,
		CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute),
		Files: []upload.File{{Index: 0, Name: "Müller.pdf", ContentType: "application/pdf", Size: 5 << 20, BlobName: "x/0-M_ller.pdf", BlockCount: 2}},
	}
	created, err := s.CreateSession(ctx, in)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateSession = %+v, %v", created, err)
	}
	in.Files[0].Name = "changed by the caller"
	got, err := s.GetSession(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.ETag != created.ETag || got.Owner != in.Owner || got.Account != in.Account || !got.ExpiresAt.Equal(in.ExpiresAt) ||
		len(got.Files) != 1 || got.Files[0].Name != "Müller.pdf" || got.Files[0].BlockCount != 2 || got.BlockSize != in.BlockSize {
		t.Errorf("GetSession = %+v\nwant %+v", got, in)
	}
	doc := raw(t, ctx, d, in.ID)
	ttl, _ := doc["ttl"].(float64)
	if want := (stores.UploadRetention + 30*time.Minute).Seconds(); ttl < want-60 || ttl > want {
		t.Errorf("ttl = %v, want ≈ %v", doc["ttl"], want)
	}
	_, err = s.CreateSession(ctx, in)
	wantErr(t, "duplicate CreateSession", err, domain.KindConflict, "upload already exists")

	// A claim is an ETag-checked replace: the second writer from the same
	// read loses, and the claim is read back.
	claimed := got
	claimed.RequestID = "req-1"
	saved, err := s.ReplaceSession(ctx, claimed)
	if err != nil || saved.ETag == "" || saved.ETag == got.ETag {
		t.Fatalf("ReplaceSession = %+v, %v", saved, err)
	}
	other := got
	other.RequestID = "req-2"
	_, err = s.ReplaceSession(ctx, other)
	wantErr(t, "ReplaceSession from a stale read", err, domain.KindStale, "upload was changed by another request")
	if back, err := s.GetSession(ctx, in.ID); err != nil || back.RequestID != "req-1" || back.ETag != saved.ETag {
		t.Errorf("after claim GetSession = %+v, %v; want requestId req-1", back, err)
	}
	doc = raw(t, ctx, d, in.ID)
	if ttl, _ := doc["ttl"].(float64); ttl <= 0 {
		t.Errorf("ttl after ReplaceSession = %v, want kept", doc["ttl"])
	}
	for _, id := range []string{upload.NewUploadID(), "a/b", ""} {
		_, err := s.GetSession(ctx, id)
		wantErr(t, fmt.Sprintf("GetSession %q", id), err, domain.KindNotFound, "upload not found")
	}
}

func idemRecords(t *testing.T, ctx context.Context, d docstore.Docs) {
	s := stores.NewIdempotency(d)
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	id := idempotency.ID("alice", "key-1")
	in := idempotency.Record{ID: id, BodyHash: "h1", State: "processing", CreatedAt: now, UpdatedAt: now, TTL: 86400}
	created, err := s.CreateIdem(ctx, in)
	if err != nil || created.ETag == "" {
		t.Fatalf("CreateIdem = %+v, %v", created, err)
	}
	_, err = s.CreateIdem(ctx, in)
	wantErr(t, "duplicate CreateIdem", err, domain.KindConflict, "")
	body := []byte("{\"Status\":\"InProgress\"}\n\x00\xff")
	done := created
	done.State, done.Status, done.Headers, done.Body = "done", 202, map[string]string{"Location": "/r"}, body
	replaced, err := s.ReplaceIdem(ctx, done)
	if err != nil || replaced.ETag == created.ETag {
		t.Fatalf("ReplaceIdem = %+v, %v", replaced, err)
	}
	_, err = s.ReplaceIdem(ctx, created) // the old ETag
	wantErr(t, "stale ReplaceIdem", err, domain.KindStale, "")
	got, err := s.GetIdem(ctx, id)
	if err != nil || got.ETag != replaced.ETag || got.State != "done" || got.Status != 202 || got.Headers["Location"] != "/r" || string(got.Body) != string(body) || got.TTL != 86400 {
		t.Fatalf("GetIdem = %+v, %v", got, err)
	}
	wantErr(t, "stale DeleteIdem", s.DeleteIdem(ctx, id, created.ETag), domain.KindStale, "")
	if err := s.DeleteIdem(ctx, id, replaced.ETag); err != nil {
		t.Fatalf("DeleteIdem: %v", err)
	}
	_, err = s.GetIdem(ctx, id)
	wantErr(t, "GetIdem deleted", err, domain.KindNotFound, "")
	wantErr(t, "DeleteIdem missing", s.DeleteIdem(ctx, id, ""), domain.KindNotFound, "")
	// The stored document keeps the record's ttl for the container's TTL.
	if _, err := s.CreateIdem(ctx, in); err != nil {
		t.Fatal(err)
	}
	if doc := raw(t, ctx, d, id); doc["ttl"] != float64(86400) {
		t.Fatalf("idempotency document = %v", doc)
	}
}

func idemKeys(t *testing.T, ctx context.Context, d docstore.Docs) {
	k := &idempotency.Keys{Store: stores.NewIdempotency(d)}
	lease, replay, err := k.Begin(ctx, "alice", "key", "h1")
	if err != nil || replay {
		t.Fatalf("Begin = %v, %v", replay, err)
	}
	_, _, err = k.Begin(ctx, "alice", "key", "h1")
	wantErr(t, "Begin while in flight", err, domain.KindConflict, "")
	if err := k.Finish(ctx, lease, 202, map[string]string{"Location": "/r"}, []byte(`{"Status":"InProgress"}`)); err != nil {
		t.Fatal(err)
	}
	rec, replay, err := k.Begin(ctx, "alice", "key", "h1")
	if err != nil || !replay || rec.Status != 202 || string(rec.Body) != `{"Status":"InProgress"}` {
		t.Fatalf("replay = %+v, %v, %v", rec, replay, err)
	}
	_, _, err = k.Begin(ctx, "alice", "key", "h2")
	wantErr(t, "Begin with another body", err, domain.KindUnprocessable, "")
	// Another caller's identical key is another record.
	if _, replay, err := k.Begin(ctx, "bob", "key", "h2"); err != nil || replay {
		t.Fatalf("bob's key: %v, %v", replay, err)
	}
	l2, _, err := k.Begin(ctx, "alice", "key2", "h1")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Abandon(ctx, l2); err != nil {
		t.Fatal(err)
	}
	if _, replay, err := k.Begin(ctx, "alice", "key2", "h1"); err != nil || replay {
		t.Fatalf("after Abandon: %v, %v", replay, err)
	}
	var n int
	if err := d.Query(ctx, docstore.Query{}, func([]byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d records stored, want 3 (alice/key, bob/key, alice/key2)", n)
	}
}
