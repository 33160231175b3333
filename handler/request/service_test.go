package request_test

import (
	"context"
	"encoding/json"
	"github.com/profileflow/profileflow/handler/scan"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

type recDispatcher struct {
	mu        sync.Mutex
	seen      map[string]int
	fail      bool
	seq       int64
	cancelled []int64 // sequence numbers of withdrawn timers
	notices   []Notice
}

func (d *recDispatcher) Dispatch(_ context.Context, _ string, p Effect) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail {
		return 0, domain.E(domain.KindTransient, "queue down")
	}
	if d.seen == nil {
		d.seen = map[string]int{}
	}
	d.seen[p.ID]++
	if p.Cancel != nil {
		d.cancelled = append(d.cancelled, p.Cancel.Sequence)
	}
	if p.Notice != nil {
		d.notices = append(d.notices, *p.Notice)
	}
	if p.Timer != nil {
		d.seq++
		return d.seq, nil
	}
	return 0, nil
}

type fixture struct {
	svc      *Service
	profiles *memory.Profiles
	store    *memory.Requests
	disp     *recDispatcher
	now      time.Time
	owner    domain.Principal
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	def, err := workflow.ParseFile("../../workflows/profile-update.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{profiles: memory.NewProfiles(), disp: &recDispatcher{}, now: t0,
		owner: domain.Principal{Subject: "user-1000"}}
	// The store's attention index reads the same clock as the service.
	f.store = stores.NewRequests(memory.NewDocs(), stores.WithClock(func() time.Time { return f.now }))
	n := 0
	f.svc = &Service{Requests: f.store, Locks: f.store, Profiles: f.profiles, Definition: def, Dispatcher: f.disp,
		Now: func() time.Time { return f.now }, NewID: func() string { n++; return "req-" + string(rune('a'+n-1)) }}
	if _, err := f.profiles.CreateProfile(context.Background(), domain.Profile{ID: "1000", Owner: "user-1000", FirstName: "Ada", LastName: "Lovelace", MaritalStatus: "Single", Description: "old", Phone: "+15550101000", Version: 1}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) profile(t *testing.T) domain.Profile {
	p, err := f.profiles.GetProfile(context.Background(), "1000")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) change(t *testing.T, in ChangeInput) Change {
	t.Helper()
	if in.Timestamp == nil {
		ts := f.now.Format(time.RFC3339)
		in.Timestamp = &ts
	}
	ch, err := Validate(in, f.profile(t), f.now)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func str(s string) *string { return &s }

var doc = []Attachment{{Name: "marriage.pdf", Blob: "u1/0-marriage.pdf", ContentType: "application/pdf", Size: 1234}}

func TestDescriptionOnlyAppliesSynchronously(t *testing.T) {
	f := newFixture(t)
	ch := f.change(t, ChangeInput{Description: str("new text")})
	consumed := 0
	rec, err := f.svc.Open(context.Background(), f.owner, f.profile(t), ch, nil, func(context.Context) error { consumed++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Completed || rec.CustomStatus.Stage != "applied" || consumed != 1 {
		t.Fatalf("status %s stage %s consumed %d", rec.RuntimeStatus, rec.CustomStatus.Stage, consumed)
	}
	p := f.profile(t)
	if p.Description != "new text" || p.Version != 2 || p.LastRequestID != rec.ID {
		t.Errorf("profile = %+v", p)
	}
	if !rec.LocksReleased {
		t.Error("locks of a completed request not released")
	}
	// A second change of the same field is allowed now.
	ch2 := f.change(t, ChangeInput{Description: str("newer")})
	if _, err := f.svc.Open(context.Background(), f.owner, f.profile(t), ch2, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(f.disp.seen) == 0 {
		t.Error("completion notification not dispatched")
	}
}

func TestLastNameWaitsForScanThenTwoApprovers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ch := f.change(t, ChangeInput{LastName: str("Byron")})
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Running || rec.CustomStatus.Stage != "waitingForScan" || rec.CustomStatus.WaitingFor[0] != "attachmentsScanned" {
		t.Fatalf("after submit: %s %+v", rec.RuntimeStatus, rec.CustomStatus)
	}
	if f.profile(t).LastName != "Lovelace" {
		t.Fatal("change applied before approval")
	}
	// A conflicting change of the same field names the open request.
	ch2 := f.change(t, ChangeInput{LastName: str("King")})
	_, err = f.svc.Open(ctx, f.owner, f.profile(t), ch2, doc, nil)
	if !domain.Is(err, domain.KindConflict) || !strings.Contains(err.Error(), rec.ID) {
		t.Fatalf("conflict err = %v", err)
	}
	rec, err = f.svc.RecordVerdict(ctx, rec.ID, "marriage.pdf", VerdictClean, "abc", "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.CustomStatus.Stage != "waitingForApproval" || rec.CustomStatus.Attachments[0].Verdict != VerdictClean {
		t.Fatalf("after scan: %+v", rec.CustomStatus)
	}
	// Verdict delivered twice: no change.
	again, err := f.svc.RecordVerdict(ctx, rec.ID, "marriage.pdf", VerdictClean, "abc", "")
	if err != nil || len(again.History) != len(rec.History) {
		t.Fatalf("duplicate verdict changed the record: %v %d→%d", err, len(rec.History), len(again.History))
	}
	approve := func(id, actor string) (Record, error) {
		open := rec.Workflow.OpenTasks()
		if len(open) != 1 {
			t.Fatalf("open tasks: %d", len(open))
		}
		return f.svc.Deliver(ctx, rec.ID, workflow.Event{ID: id, Type: workflow.EventTaskDecision, TaskID: open[0].ID, Decision: workflow.Approve, Actor: actor, Groups: []string{"ProfileApprover"}})
	}
	if rec, err = approve("d1", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := approve("d2", "alice"); !domain.Is(err, domain.KindForbidden) {
		t.Fatalf("same approver twice: %v", err)
	}
	if rec, err = approve("d3", "bob"); err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Completed || f.profile(t).LastName != "Byron" || len(rec.CustomStatus.Approvals) != 2 {
		t.Fatalf("final: %s %+v", rec.RuntimeStatus, rec.CustomStatus)
	}
	// The same decision event again changes nothing.
	before := canon(t, rec)
	dup, err := f.svc.Deliver(ctx, rec.ID, workflow.Event{ID: "d3", Type: workflow.EventTaskDecision, Decision: workflow.Approve, Actor: "bob"})
	after := canon(t, dup)
	if err != nil || string(before) != string(after) {
		t.Fatalf("duplicate event changed the record: %v\n%s\n%s", err, before, after)
	}
	if f.profile(t).Version != 2 {
		t.Error("change applied twice")
	}
}

func TestInfectedDocumentFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err = f.svc.RecordVerdict(ctx, rec.ID, "marriage.pdf", VerdictInfected, "abc", "Eicar")
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Failed || f.profile(t).FirstName != "Ada" || !rec.LocksReleased {
		t.Fatalf("infected: %s %+v", rec.RuntimeStatus, rec.Output)
	}
}

func TestEvidenceRequiredAndCancel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	consumed := 0
	_, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{MaritalStatus: str("Married")}), nil, func(context.Context) error { consumed++; return nil })
	if !domain.Is(err, domain.KindInvalid) || consumed != 0 {
		t.Fatalf("no evidence: %v consumed %d", err, consumed)
	}
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{MaritalStatus: str("Married")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	other := domain.Principal{Subject: "user-1001"}
	if _, err := f.svc.Cancel(ctx, other, rec.ID, ""); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("another user cancelled: %v", err)
	}
	if _, err := f.svc.Get(ctx, other, rec.ID); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("another user read: %v", err)
	}
	approver := domain.Principal{Subject: "alice", Roles: []string{"ProfileApprover"}, Groups: []string{"ProfileApprover"}}
	if _, err := f.svc.Get(ctx, approver, rec.ID); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("approver read a request with no task yet: %v", err)
	}
	rec, err = f.svc.Cancel(ctx, f.owner, rec.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Terminated || rec.History[len(rec.History)-1].Actor != "user-1000" {
		t.Fatalf("cancel: %s %+v", rec.RuntimeStatus, rec.History)
	}
	if _, err := f.svc.Cancel(ctx, f.owner, rec.ID, ""); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("cancel twice: %v", err)
	}
	// Locks released: a new marital status change is accepted.
	if _, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{MaritalStatus: str("Married")}), append([]Attachment(nil), doc...), nil); err != nil {
		t.Fatal(err)
	}
}

func TestMFAConsumeFailureReleasesLocks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ch := f.change(t, ChangeInput{Description: str("x")})
	_, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, nil, func(context.Context) error { return domain.E(domain.KindConflict, "MFA token already used") })
	if !domain.Is(err, domain.KindConflict) {
		t.Fatal(err)
	}
	if _, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, nil, nil); err != nil {
		t.Fatalf("locks left behind: %v", err)
	}
}

func TestDispatchFailureKeepsOutbox(t *testing.T) {
	f := newFixture(t)
	f.disp.fail = true
	rec, err := f.svc.Open(context.Background(), f.owner, f.profile(t), f.change(t, ChangeInput{Description: str("y")}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Outbox) == 0 {
		t.Fatal("failed dispatch lost the effect")
	}
	f.disp.fail = false
	rec, err = f.svc.Flush(context.Background(), rec.ID)
	if err != nil || len(rec.Outbox) != 0 {
		t.Fatalf("outbox not drained on the next event: %v %d", err, len(rec.Outbox))
	}
}

func TestValidate(t *testing.T) {
	cur := domain.Profile{FirstName: "Ada", LastName: "Lovelace", MaritalStatus: "Single", Description: "d"}
	ts := t0.Format(time.RFC3339)
	future := t0.Add(6 * time.Minute).Format(time.RFC3339)
	long := strings.Repeat("a", 101)
	for _, tc := range []struct {
		name string
		in   ChangeInput
		err  string
	}{
		{"ok first name with mark and apostrophe", ChangeInput{FirstName: str("  Zoë O'Brien-Smith "), Timestamp: &ts}, ""},
		{"NFC", ChangeInput{FirstName: str("Zoe\u0308"), Timestamp: &ts}, ""},
		{"missing timestamp", ChangeInput{FirstName: str("Bo")}, "timestamp: required"},
		{"bad timestamp", ChangeInput{FirstName: str("Bo"), Timestamp: str("yesterday")}, "timestamp"},
		{"future timestamp", ChangeInput{FirstName: str("Bo"), Timestamp: &future}, "future"},
		{"empty name", ChangeInput{FirstName: str("  "), Timestamp: &ts}, "firstName: must not be empty"},
		{"digits", ChangeInput{LastName: str("R2D2"), Timestamp: &ts}, "lastName: character"},
		{"script", ChangeInput{LastName: str("<script>"), Timestamp: &ts}, "lastName"},
		{"too long", ChangeInput{FirstName: &long, Timestamp: &ts}, "longer than 100"},
		{"bad marital", ChangeInput{MaritalStatus: str("Complicated"), Timestamp: &ts}, "maritalStatus: must be one of"},
		{"control in description", ChangeInput{Description: str("a\x07b"), Timestamp: &ts}, "control character"},
		{"bidi in description", ChangeInput{Description: str("a\u202eb"), Timestamp: &ts}, "control character"},
		{"long description", ChangeInput{Description: str(strings.Repeat("é", 1001)), Timestamp: &ts}, "1000"},
		{"no change", ChangeInput{FirstName: str("Ada"), Timestamp: &ts}, "no change"},
		{"empty uploadId", ChangeInput{Description: str("n"), UploadID: str(""), Timestamp: &ts}, "uploadId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := Validate(tc.in, cur, t0)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.name == "NFC" && ch.Fields[0].New != "Zoë" {
					t.Errorf("not NFC: %q", ch.Fields[0].New)
				}
				return
			}
			if !domain.Is(err, domain.KindInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"Ada", "Zoë", "O'Brien", "\u202e", "a\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ValidateName("firstName", s)
		if err != nil {
			return
		}
		if v == "" || len([]rune(v)) > 100 || strings.ContainsAny(v, "<>\"\x00\n/") {
			t.Fatalf("accepted %q as %q", s, v)
		}
	})
}

// canon is a record's JSON with map keys in one order, as stored.
func canon(t *testing.T, r Record) string {
	b, _ := json.Marshal(r)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(v)
	return string(b)
}

// flakyProfiles fails the next n profile writes with a transient error.
type flakyProfiles struct {
	*memory.Profiles
	fail int
}

func (f *flakyProfiles) ReplaceProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	if f.fail > 0 {
		f.fail--
		return domain.Profile{}, domain.E(domain.KindTransient, "cosmos throttled")
	}
	return f.Profiles.ReplaceProfile(ctx, p)
}

func TestSweepFinishesWorkLeftBehind(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flaky := &flakyProfiles{Profiles: f.profiles, fail: 1}
	f.svc.Profiles = flaky
	ch := f.change(t, ChangeInput{Description: str("after outage")})
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, nil, nil)
	if err != nil || rec.RuntimeStatus != Completed || rec.Applied {
		t.Fatalf("submit during outage: %v %s applied=%v (want accepted, not yet applied)", err, rec.RuntimeStatus, rec.Applied)
	}
	stored, _ := f.store.GetRequest(ctx, rec.ID)
	if !stored.Attention || f.profile(t).Description == "after outage" {
		t.Fatalf("left behind: attention=%v", stored.Attention)
	}
	// A sweep before the quiet period leaves it alone.
	res, err := f.svc.Sweep(ctx, time.Minute, 10)
	if err != nil || res.Seen != 0 {
		t.Fatalf("early sweep: %+v %v", res, err)
	}
	f.now = f.now.Add(2 * time.Minute)
	f.disp.fail = true // effects cannot be dispatched yet
	res, err = f.svc.Sweep(ctx, time.Minute, 10)
	if err != nil || res.Seen != 1 || res.Failed != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	stored, _ = f.store.GetRequest(ctx, rec.ID)
	if !stored.Applied || f.profile(t).Description != "after outage" || len(stored.Outbox) == 0 || !stored.Attention {
		t.Fatalf("after sweep: applied %v outbox %d attention %v", stored.Applied, len(stored.Outbox), stored.Attention)
	}
	f.disp.fail = false
	f.now = f.now.Add(2 * time.Minute)
	res, err = f.svc.Sweep(ctx, time.Minute, 10)
	if err != nil || res.Flushed != 1 {
		t.Fatalf("second sweep: %+v %v", res, err)
	}
	stored, _ = f.store.GetRequest(ctx, rec.ID)
	if stored.Attention || len(stored.Outbox) != 0 || !stored.LocksReleased {
		t.Fatalf("still needs attention: %+v", stored)
	}
	// Nothing left: a third sweep sees nothing; the profile changed once.
	if res, _ := f.svc.Sweep(ctx, 0, 10); res.Seen != 0 || f.profile(t).Version != 2 {
		t.Fatalf("third sweep: %+v version %d", res, f.profile(t).Version)
	}
}

// An engine start that fails leaves the request Pending; the sweeper starts it.
func TestSweepStartsPendingRequests(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := Record{ID: "req-pending", Type: "request", Name: "ProfileUpdate", ProfileID: "1000", Owner: "user-1000",
		Input: f.change(t, ChangeInput{Description: str("late")}), RuntimeStatus: Pending, Attention: true, CreatedTime: f.now, LastUpdatedTime: f.now}
	if _, err := f.store.CreateRequest(ctx, rec); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(5 * time.Minute)
	res, err := f.svc.Sweep(ctx, time.Minute, 10)
	if err != nil || res.Started != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	got, _ := f.store.GetRequest(ctx, rec.ID)
	if got.RuntimeStatus != Completed || !got.Applied || f.profile(t).Description != "late" {
		t.Fatalf("after sweep: %s applied %v", got.RuntimeStatus, got.Applied)
	}
}

// A decision racing a cancel: whichever saves first wins, and the profile
// changes only if the request completed.
func TestCancelBeatsApprovalNoProfileChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ = f.svc.RecordVerdict(ctx, rec.ID, "marriage.pdf", VerdictClean, "s", "")
	task := rec.Workflow.OpenTasks()[0].ID
	// The approver's step has read the record; the owner cancels meanwhile.
	racer := &racingStore{Requests: f.store, before: func() {
		if _, err := f.svc.Cancel(ctx, f.owner, rec.ID, ""); err != nil {
			t.Errorf("cancel: %v", err)
		}
	}}
	f.svc.Requests = racer
	_, err = f.svc.Deliver(ctx, rec.ID, workflow.Event{ID: "d1", Type: workflow.EventTaskDecision, TaskID: task, Decision: workflow.Approve, Actor: "alice", Groups: []string{"ProfileApprover"}})
	if !domain.Is(err, domain.KindConflict) {
		t.Fatalf("approval after cancel: %v", err)
	}
	got, _ := f.store.GetRequest(ctx, rec.ID)
	if got.RuntimeStatus != Terminated || f.profile(t).FirstName != "Ada" {
		t.Fatalf("status %s, firstName %s", got.RuntimeStatus, f.profile(t).FirstName)
	}
}

// racingStore runs before() once, just before the first replace.
type racingStore struct {
	*memory.Requests
	before func()
	done   bool
}

func (r *racingStore) ReplaceRequest(ctx context.Context, rec Record) (Record, error) {
	if !r.done {
		r.done = true
		r.before()
	}
	return r.Requests.ReplaceRequest(ctx, rec)
}

// A lock whose request was never created (crash between lock and create)
// is taken over after the grace period; a live holder keeps it.
func TestStaleLockTakenOver(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.CreateLocks(ctx, Locks{ID: LocksID("1000"), Type: "locks", ProfileID: "1000",
		Fields: map[string]string{FieldDescription: "req-ghost"}, Since: map[string]time.Time{FieldDescription: f.now}}); err != nil {
		t.Fatal(err)
	}
	ch := f.change(t, ChangeInput{Description: str("mine")})
	if _, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, nil, nil); !domain.Is(err, domain.KindConflict) || !strings.Contains(err.Error(), "req-ghost") {
		t.Fatalf("within grace: %v", err)
	}
	f.now = f.now.Add(3 * time.Minute)
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), ch, nil, nil)
	if err != nil || rec.RuntimeStatus != Completed {
		t.Fatalf("after grace: %v", err)
	}
}

// Verdicts recorded while a request waits for the sweeper are honoured when
// it starts; a request not started yet can be cancelled.
func TestPendingRequestVerdictsAndCancel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mk := func(id string) Record {
		rec := Record{ID: id, Type: "request", Name: "ProfileUpdate", ProfileID: "1000", Owner: "user-1000",
			Input: f.change(t, ChangeInput{FirstName: str("Augusta")}), RuntimeStatus: Pending, Attention: true,
			Attachments: []Attachment{{Name: "a.pdf", Blob: "b", Verdict: VerdictPending}}, CreatedTime: f.now, LastUpdatedTime: f.now}
		if _, err := f.store.CreateRequest(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	a := mk("req-a1")
	if _, err := f.svc.RecordVerdict(ctx, a.ID, "a.pdf", VerdictClean, "s", ""); err != nil {
		t.Fatalf("verdict before start: %v", err)
	}
	b := mk("req-b1")
	got, err := f.svc.Cancel(ctx, f.owner, b.ID, "typo")
	if err != nil || got.RuntimeStatus != Terminated || got.Output["reason"] != "cancelled by the requester: typo" {
		t.Fatalf("cancel pending: %v %+v", err, got.Output)
	}
	f.now = f.now.Add(5 * time.Minute)
	if res, err := f.svc.Sweep(ctx, time.Minute, 10); err != nil || res.Started != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	got, _ = f.store.GetRequest(ctx, a.ID)
	if got.CustomStatus.Stage != "waitingForApproval" {
		t.Fatalf("started request stage %s, want waitingForApproval (scan already known)", got.CustomStatus.Stage)
	}
}

// A change validated against a profile read before another request applied
// the same value is refused once re-based under the lock.
func TestSubmitRebasesOnCurrentProfile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stale := f.profile(t)
	ch := f.change(t, ChangeInput{Description: str("same")})
	if _, err := f.svc.Open(ctx, f.owner, stale, ch, nil, nil); err != nil {
		t.Fatal(err)
	}
	consumed := false
	_, err := f.svc.Open(ctx, f.owner, stale, ch, nil, func(context.Context) error { consumed = true; return nil })
	if !domain.Is(err, domain.KindInvalid) || consumed || f.profile(t).Version != 2 {
		t.Fatalf("stale no-op change: %v consumed=%v version=%d", err, consumed, f.profile(t).Version)
	}
}

// A description change applies at once and never waits for a scan, so it
// takes no documents: an infected file could otherwise ride along unseen.
func TestDescriptionChangeRefusesDocuments(t *testing.T) {
	f := newFixture(t)
	ch := f.change(t, ChangeInput{Description: str("with a document")})
	_, err := f.svc.Open(context.Background(), f.owner, f.profile(t), ch, []Attachment{{Name: "a.pdf", Blob: "u/0-a.pdf", Verdict: VerdictPending}}, nil)
	if !domain.Is(err, domain.KindInvalid) || !strings.Contains(err.Error(), "description change takes none") {
		t.Fatalf("Open = %v; want invalid", err)
	}
	if p := f.profile(t); p.Description == "with a document" {
		t.Error("profile changed")
	}
}

// A verdict saved by a run that stopped before the workflow moved on is
// not a dead end: recording the same verdict again delivers the scanned
// event, once.
func TestRecordingAVerdictAgainRedrivesTheWorkflow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{LastName: str("Byron")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The verdict alone is stored, as by a run that crashed before Deliver.
	stored, err := f.store.GetRequest(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Attachments[0].Verdict, stored.Attachments[0].SHA256 = VerdictClean, "abc"
	if _, err := f.store.ReplaceRequest(ctx, stored); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.svc.RecordScan(ctx, rec.ID, doc[0].Blob, scan.Result{Verdict: scan.Clean, SHA256: "abc"}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := f.store.GetRequest(ctx, rec.ID)
	if got.CustomStatus.Stage == "waitingForScan" || len(got.CustomStatus.OpenTasks) != 1 {
		t.Fatalf("after recording the verdict again: stage %s, tasks %v", got.CustomStatus.Stage, got.CustomStatus.OpenTasks)
	}
	scans := 0
	for _, h := range got.History {
		if h.Type == "AttachmentScanned" {
			scans++
		}
	}
	if scans != 0 {
		t.Errorf("the repeated verdict was recorded in history %d times; want 0 (it was stored before)", scans)
	}
}

// Status reads only the status part of a record (GetRequestStatus); at
// every stage of a request's life its view and who may read it are those
// of the whole record.
func TestStatusFromTheStatusPart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	readers := []domain.Principal{f.owner, {Subject: "alice", Roles: []string{domain.RoleProfileApprover}, Groups: []string{"ProfileApprover"}},
		{Subject: "mallory", Roles: []string{domain.RoleProfileApprover}}, {Subject: "user-1001"}}
	check := func(stage string, id string) {
		t.Helper()
		full, err := f.store.GetRequest(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range readers {
			got, err := f.svc.Status(ctx, p, id, DefaultStatusOptions)
			if !full.CanRead(p) {
				if !domain.Is(err, domain.KindNotFound) {
					t.Errorf("%s: %s reads the status: %v", stage, p.Subject, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", stage, p.Subject, err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(full.View())
			if string(a) != string(b) {
				t.Errorf("%s: status part view\n%s\nwhole record view\n%s", stage, a, b)
			}
		}
	}
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{LastName: str("Byron")}), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	check("waiting for the scan", rec.ID)
	if rec, err = f.svc.RecordVerdict(ctx, rec.ID, "marriage.pdf", VerdictClean, "abc", ""); err != nil {
		t.Fatal(err)
	}
	check("waiting for approval", rec.ID)
	task := rec.Workflow.OpenTasks()[0].ID
	if rec, err = f.svc.Deliver(ctx, rec.ID, workflow.Event{ID: "d1", Type: workflow.EventTaskDecision, TaskID: task, Decision: workflow.Approve, Actor: "alice", Groups: []string{"ProfileApprover"}}); err != nil {
		t.Fatal(err)
	}
	check("one approval", rec.ID)
	if _, err := f.svc.Status(ctx, f.owner, "req-unknown", DefaultStatusOptions); !domain.Is(err, domain.KindNotFound) {
		t.Errorf("unknown request: %v", err)
	}
}
