package cosmosdb

import (
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

func TestUploadStoreRoundTrip(t *testing.T) {
	c := testContainer(t, nil)
	ctx := testCtx(t)
	s := NewUploadStore(c)
	now := time.Now().UTC().Truncate(time.Second)
	in := upload.Session{
		ID: upload.NewUploadID(), ProfileID: "1000", Owner: "user-1000",
		Account: "http://127.0.0.1:10000/devstoreaccount1", Container: "landing", BlockSize: 4 << 20,
		CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute),
		Files: []upload.File{{Index: 0, Name: "Müller.pdf", ContentType: "application/pdf", Size: 5 << 20, BlobName: "x/0-M_ller.pdf", BlockCount: 2}},
	}
	created, err := s.CreateSession(ctx, in)
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if created.ETag == "" {
		t.Error("no ETag")
	}
	got, err := s.GetSession(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if got.ETag != created.ETag || got.Owner != in.Owner || got.Account != in.Account || !got.ExpiresAt.Equal(in.ExpiresAt) ||
		len(got.Files) != 1 || got.Files[0] != in.Files[0] || got.BlockSize != in.BlockSize {
		t.Errorf("GetSession = %+v\nwant %+v", got, in)
	}
	var raw map[string]any
	if _, err := c.Read(ctx, in.ID, &raw); err != nil {
		t.Fatal(err)
	}
	ttl, _ := raw["ttl"].(float64)
	if want := (7*24*time.Hour + 30*time.Minute).Seconds(); ttl < want-60 || ttl > want {
		t.Errorf("ttl = %v, want ≈ %v", raw["ttl"], want)
	}
	if _, err := s.CreateSession(ctx, in); domain.KindOf(err) != domain.KindConflict {
		t.Errorf("duplicate create: %v", err)
	}
	for _, id := range []string{upload.NewUploadID(), "a/b", ""} {
		if _, err := s.GetSession(ctx, id); domain.KindOf(err) != domain.KindNotFound {
			t.Errorf("GetSession(%q): %v, want not found", id, err)
		}
	}
}
