package request_test

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/upload"
)

// claimsEvidence is an Evidence port whose uploads are claimed by the
// requests in holder, since the times in since.
type claimsEvidence struct {
	holder map[string]string
	since  map[string]time.Time
	now    func() time.Time
}

func (e *claimsEvidence) Claim(_ context.Context, uploadID, requestID string) error {
	if h := e.holder[uploadID]; h != "" && h != requestID {
		return upload.NewClaimedError(uploadID, h, e.since[uploadID])
	}
	e.holder[uploadID], e.since[uploadID] = requestID, e.now()
	return nil
}

func (e *claimsEvidence) Release(_ context.Context, uploadID, requestID string) error {
	if e.holder[uploadID] == requestID {
		delete(e.holder, uploadID)
	}
	return nil
}

func (e *claimsEvidence) Pin(context.Context, upload.BlobRef, string, string) (string, error) {
	return `"pinned"`, nil
}

// An upload claimed by a request that was never created (its call stopped
// between the claim and the record) is taken over once the claim is older
// than the lock grace; a younger claim, or one of an existing request,
// stands (409).
func TestClaimOfARequestNeverCreatedIsTakenOver(t *testing.T) {
	for _, tc := range []struct {
		name   string
		holder string
		age    time.Duration
		taken  bool
	}{
		{"stale claim of a request never created", "req-ghost", 3 * time.Minute, true},
		{"young claim of a request being created", "req-ghost", 30 * time.Second, false},
		{"claim of an existing request", "", 3 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			ev := &claimsEvidence{holder: map[string]string{}, since: map[string]time.Time{}, now: func() time.Time { return f.now }}
			f.svc.Evidence, f.svc.Landing = ev, "landing"
			holder := tc.holder
			if holder == "" {
				rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("first")}), nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				holder = rec.ID
			}
			ev.holder["up-1"], ev.since["up-1"] = holder, f.now.Add(-tc.age)
			atts := []Attachment{{Name: "a.pdf", UploadID: "up-1", Source: "incoming", SourceETag: `"e1"`, Blob: "up-1/0-a.pdf", ContentType: "application/pdf", Size: 10}}
			rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), atts, nil)
			if tc.taken {
				if err != nil || ev.holder["up-1"] != rec.ID {
					t.Fatalf("stale claim not taken over: %v, holder %s", err, ev.holder["up-1"])
				}
				return
			}
			if !domain.Is(err, domain.KindConflict) || ev.holder["up-1"] != holder {
				t.Fatalf("claim taken from %s: %v, holder now %s", holder, err, ev.holder["up-1"])
			}
		})
	}
}
