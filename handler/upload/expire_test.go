package upload_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/upload"
)

// deleter records deleted blobs; fail makes deletes of that blob fail.
type deleter struct {
	deleted []string
	fail    map[string]bool
}

func (d *deleter) Delete(_ context.Context, ref upload.BlobRef) error {
	if d.fail[ref.Name] {
		return domain.E(domain.KindTransient, "storage busy")
	}
	d.deleted = append(d.deleted, ref.Container+"/"+ref.Name)
	return nil
}

// Expired sessions no request claimed lose their blobs in the container
// the client wrote to, once, bounded per run; claimed, open and recently
// closed sessions keep theirs.
func TestDeleteExpiredUploads(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const after = time.Hour
	session := func(id string, expires time.Time, requestID string, files ...string) upload.Session {
		s := upload.Session{ID: id, ProfileID: "1000", Owner: "user-1000", Account: "http://127.0.0.1:10000/acc", Container: "incoming",
			CreatedAt: expires.Add(-30 * time.Minute), ExpiresAt: expires, RequestID: requestID}
		for i, f := range files {
			s.Files = append(s.Files, upload.File{Index: i, Name: f, BlobName: fmt.Sprintf("%s/%d-%s", id, i, f), ContentType: "application/pdf", Size: 10})
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		sessions []upload.Session
		fail     map[string]bool
		limit    int
		want     []upload.ExpiryResult // per run
		deleted  []string
	}{
		{"expired unclaimed", []upload.Session{session("a1", t0.Add(-2*time.Hour), "", "x.pdf", "y.pdf")}, nil, 10,
			[]upload.ExpiryResult{{Sessions: 1, Blobs: 2}, {}}, []string{"incoming/a1/0-x.pdf", "incoming/a1/1-y.pdf"}},
		{"closed less than after ago", []upload.Session{session("a2", t0.Add(-30*time.Minute), "", "x.pdf")}, nil, 10,
			[]upload.ExpiryResult{{}}, nil},
		{"still open", []upload.Session{session("a3", t0.Add(10*time.Minute), "", "x.pdf")}, nil, 10,
			[]upload.ExpiryResult{{}}, nil},
		{"claimed by a request", []upload.Session{session("a4", t0.Add(-2*time.Hour), "req-1", "x.pdf")}, nil, 10,
			[]upload.ExpiryResult{{}}, nil},
		{"storage busy: retried by the next run", []upload.Session{session("a5", t0.Add(-2*time.Hour), "", "x.pdf", "y.pdf")}, map[string]bool{"a5/1-y.pdf": true}, 10,
			[]upload.ExpiryResult{{Blobs: 1, Failed: 1}, {Blobs: 1, Failed: 1}}, []string{"incoming/a5/0-x.pdf", "incoming/a5/0-x.pdf"}},
		{"bounded per run", []upload.Session{
			session("b1", t0.Add(-2*time.Hour), "", "x.pdf"), session("b2", t0.Add(-3*time.Hour), "", "x.pdf"), session("b3", t0.Add(-4*time.Hour), "", "x.pdf")}, nil, 2,
			[]upload.ExpiryResult{{Sessions: 2, Blobs: 2}, {Sessions: 1, Blobs: 1}, {}}, []string{"incoming/b1/0-x.pdf", "incoming/b2/0-x.pdf", "incoming/b3/0-x.pdf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := stores.NewUploads(memory.NewDocs(), stores.WithClock(func() time.Time { return t0 }))
			for _, s := range tc.sessions {
				if _, err := store.CreateSession(ctx, s); err != nil {
					t.Fatal(err)
				}
			}
			del := &deleter{fail: tc.fail}
			e := &upload.Expirer{Sessions: store, Blobs: del, Now: func() time.Time { return t0 }}
			for i, want := range tc.want {
				got, err := e.DeleteExpired(ctx, after, tc.limit)
				if err != nil || got != want {
					t.Fatalf("run %d: %+v %v, want %+v", i+1, got, err, want)
				}
			}
			slices.Sort(del.deleted)
			if !slices.Equal(del.deleted, tc.deleted) {
				t.Fatalf("deleted %v, want %v", del.deleted, tc.deleted)
			}
			for _, s := range tc.sessions {
				got, err := store.GetSession(ctx, s.ID)
				marked := got.BlobsDeletedAt != nil
				wantMarked := slices.Contains(tc.deleted, "incoming/"+s.Files[len(s.Files)-1].BlobName) && tc.fail == nil
				if err != nil || marked != wantMarked {
					t.Errorf("session %s: marked %v (want %v) %v", s.ID, marked, wantMarked, err)
				}
			}
		})
	}
}
