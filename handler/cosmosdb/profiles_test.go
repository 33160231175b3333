package cosmosdb

import (
	"errors"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

func TestProfileStoreRoundTrip(t *testing.T) {
	c := testContainer(t, nil)
	ctx := testCtx(t)
	s := NewProfileStore(c)

	in := domain.Profile{
		ID: "1000", Owner: "user-1000", FirstName: "Ada", LastName: "Lovelace",
		MaritalStatus: "single", Description: "first programmer", Phone: "+15550101000",
		Version: 1, UpdatedAt: time.Date(2026, 11, 24, 10, 30, 0, 123000000, time.UTC),
	}
	created, err := s.CreateProfile(ctx, in)
	if err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	if created.ETag == "" {
		t.Fatal("CreateProfile returned no ETag")
	}

	got, err := s.GetProfile(ctx, "1000")
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	if got.ETag != created.ETag {
		t.Errorf("ETag = %q, want %q", got.ETag, created.ETag)
	}
	want := in
	want.ETag = got.ETag
	if !got.UpdatedAt.Equal(in.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, in.UpdatedAt)
	}
	got.UpdatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("GetProfile = %+v\nwant %+v", got, want)
	}

	// The stored document is the domain.Profile JSON and does not carry the ETag field.
	var raw map[string]any
	if _, err := c.Read(ctx, "1000", &raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "owner", "firstName", "lastName", "maritalStatus", "description", "phone", "version", "updatedAt"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("stored document lacks %q: %v", f, raw)
		}
	}
	if _, ok := raw["ETag"]; ok {
		t.Error("stored document has an ETag field")
	}

	_, err = s.CreateProfile(ctx, in)
	wantProfileErr(t, "duplicate CreateProfile", err, domain.KindConflict, "profile already exists")

	// Replace with the current ETag, then with the old one.
	upd := got
	upd.ETag = created.ETag
	upd.Description, upd.Version = "analyst", 2
	replaced, err := s.ReplaceProfile(ctx, upd)
	if err != nil {
		t.Fatalf("ReplaceProfile: %v", err)
	}
	if replaced.ETag == "" || replaced.ETag == created.ETag {
		t.Errorf("ReplaceProfile ETag = %q (old %q)", replaced.ETag, created.ETag)
	}
	stale := upd
	stale.Description = "lost update"
	_, err = s.ReplaceProfile(ctx, stale)
	wantProfileErr(t, "ReplaceProfile with stale ETag", err, domain.KindStale, "profile was changed by another request")
	if now, err := s.GetProfile(ctx, "1000"); err != nil || now.Description != "analyst" || now.Version != 2 || now.ETag != replaced.ETag {
		t.Errorf("after replace: %+v, %v", now, err)
	}

	noETag := upd
	noETag.ETag = ""
	_, err = s.ReplaceProfile(ctx, noETag)
	wantProfileErr(t, "ReplaceProfile without ETag", err, domain.KindInternal, "")

	missing := upd
	missing.ID = "9999"
	_, err = s.ReplaceProfile(ctx, missing)
	wantProfileErr(t, "ReplaceProfile missing", err, domain.KindNotFound, "profile not found")

	for _, id := range []string{"9999", "a/b", ""} {
		_, err = s.GetProfile(ctx, id)
		wantProfileErr(t, "GetProfile "+id, err, domain.KindNotFound, "profile not found")
	}
}

func wantProfileErr(t *testing.T, what string, err error, k domain.Kind, msg string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != k || (msg != "" && de.Msg != msg) {
		t.Fatalf("%s: err = %v, want kind %v with message %q", what, err, k, msg)
	}
}
