package request_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/workflow"
)

var (
	alice  = domain.Principal{Subject: "alice", Roles: []string{"ProfileApprover"}, Groups: []string{"ProfileApprover"}}
	bob    = domain.Principal{Subject: "bob", Roles: []string{"ProfileApprover"}, Groups: []string{"ProfileApprover"}}
	sam    = domain.Principal{Subject: "sam", Roles: []string{"ProfileApprover"}, Groups: []string{"ProfileSupervisor"}}
	outsid = domain.Principal{Subject: "olga", Roles: []string{"ProfileApprover"}, Groups: []string{"Payroll"}}
)

// scannedRequest opens a change of fields for the fixture's owner with one
// document and records a clean verdict: the request waits for approval.
func scannedRequest(t *testing.T, f *fixture, in ChangeInput) Record {
	t.Helper()
	ctx := context.Background()
	rec, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, in), append([]Attachment(nil), doc...), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err = f.svc.RecordVerdict(ctx, rec.ID, doc[0].Name, VerdictClean, "abc", "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.CustomStatus.Stage != "waitingForApproval" {
		t.Fatalf("stage %s", rec.CustomStatus.Stage)
	}
	return rec
}

func TestDecideFourEyes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{LastName: str("Byron")})
	first := rec.CustomStatus.OpenTasks[0].ID
	ownerApprover := domain.Principal{Subject: f.owner.Subject, Roles: []string{"ProfileApprover"}, Groups: []string{"ProfileApprover"}}
	steps := []struct {
		name string
		p    domain.Principal
		d    Decision
		want domain.Kind // 0 = accepted
	}{
		{"the requester holding the approver role", ownerApprover, Decision{Kind: workflow.Approve}, domain.KindForbidden},
		{"no approver role", domain.Principal{Subject: "eve", Groups: []string{"ProfileApprover"}}, Decision{Kind: workflow.Approve}, domain.KindForbidden},
		{"outside the candidate groups", outsid, Decision{Kind: workflow.Approve}, domain.KindForbidden},
		{"reject without a comment", alice, Decision{Kind: workflow.Reject, Comment: "  "}, domain.KindInvalid},
		{"send back without a comment", alice, Decision{Kind: workflow.SendBack}, domain.KindInvalid},
		{"comment too long", alice, Decision{Kind: workflow.Reject, Comment: strings.Repeat("x", MaxCommentRunes+1)}, domain.KindInvalid},
		{"comment with a control character", alice, Decision{Kind: workflow.Reject, Comment: "no\x07"}, domain.KindInvalid},
		{"unknown decision", alice, Decision{Kind: "maybe"}, domain.KindInvalid},
		{"a task id the request never had", alice, Decision{Kind: workflow.Approve, TaskID: "Nope-1"}, domain.KindInvalid},
		{"first approval", alice, Decision{Kind: workflow.Approve, TaskID: first, Comment: "documents match"}, 0},
		{"the same approval again (retry)", alice, Decision{Kind: workflow.Approve, TaskID: first, Comment: "documents match"}, 0},
		{"the first approver gives the second approval", alice, Decision{Kind: workflow.Approve}, domain.KindForbidden},
		{"second approval", bob, Decision{Kind: workflow.Approve}, 0},
		{"a decision after completion by an approver of its groups", domain.Principal{Subject: "carol", Roles: []string{"ProfileApprover"}, Groups: []string{"ProfileApprover"}}, Decision{Kind: workflow.Reject, Comment: "late"}, domain.KindConflict},
		{"a decision after completion by an approver never involved", sam, Decision{Kind: workflow.Reject, Comment: "late"}, domain.KindNotFound},
	}
	for _, s := range steps {
		got, err := f.svc.Decide(ctx, s.p, rec.ID, s.d)
		if s.want == 0 && err != nil || s.want != 0 && !domain.Is(err, s.want) {
			t.Fatalf("%s: err = %v, want kind %v", s.name, err, s.want)
		}
		if err == nil {
			rec = got
		}
		f.now = f.now.Add(BlindDecisionGrace) // past the grace of a task just opened
	}
	if rec.RuntimeStatus != Completed || f.profile(t).LastName != "Byron" || f.profile(t).Version != 2 {
		t.Fatalf("final %s, profile %+v", rec.RuntimeStatus, f.profile(t))
	}
	var decided []string
	for _, h := range rec.History {
		if h.Type == "TaskDecided" {
			decided = append(decided, h.Actor+": "+h.Detail)
		}
	}
	if len(decided) != 2 || !strings.HasPrefix(decided[0], "alice: Approve1-") || !strings.HasSuffix(decided[0], "approve (documents match)") || !strings.HasPrefix(decided[1], "bob: Approve2-") {
		t.Fatalf("decisions in the history: %q", decided)
	}
	if n := len(rec.CustomStatus.Approvals); n != 2 || rec.CustomStatus.Approvals[0].Actor != "alice" || rec.CustomStatus.Approvals[0].Comment != "documents match" || rec.CustomStatus.Approvals[1].Actor != "bob" {
		t.Fatalf("approvals = %+v", rec.CustomStatus.Approvals)
	}
}

func TestConcurrentDecisionsOneWins(t *testing.T) {
	for _, kinds := range [][2]workflow.DecisionKind{{workflow.Approve, workflow.Approve}, {workflow.Approve, workflow.Reject}} {
		t.Run(string(kinds[0])+"/"+string(kinds[1]), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, p := range []domain.Principal{alice, bob} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = f.svc.Decide(ctx, p, rec.ID, Decision{Kind: kinds[i], Comment: "decided by " + p.Subject})
				}()
			}
			wg.Wait()
			ok, conflict := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case domain.Is(err, domain.KindConflict):
					conflict++
				default:
					t.Fatalf("unexpected error %v", err)
				}
			}
			if ok != 1 || conflict != 1 {
				t.Fatalf("outcomes: %v", errs)
			}
			final, err := f.svc.Requests.GetRequest(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !final.RuntimeStatus.Terminal() || len(final.CustomStatus.Approvals) != 1 {
				t.Fatalf("status %s approvals %+v", final.RuntimeStatus, final.CustomStatus.Approvals)
			}
			if !slices.Contains(historyTypes(final), "DecisionRefused") {
				t.Fatalf("the losing decision is not in the history: %v", historyTypes(final))
			}
			if v := f.profile(t).Version; v > 2 {
				t.Fatalf("profile written %d times", v-1)
			}
		})
	}
}

func TestDecisionAfterCancelConflicts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	if _, err := f.svc.Cancel(ctx, f.owner, rec.ID, "never mind"); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve})
	if !domain.Is(err, domain.KindConflict) {
		t.Fatalf("decision after cancel: %v", err)
	}
	if f.profile(t).FirstName != "Ada" {
		t.Fatal("a cancelled request changed the profile")
	}
}

// TestDecisionRacingEscalation: the escalation timer fires first; the
// approver's decision on the escalated task is refused (409) and both are
// in the history; the supervisor decides.
func TestDecisionRacingEscalation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	task := rec.CustomStatus.OpenTasks[0]
	if task.Due == nil || !task.Due.Equal(t0.Add(72*time.Hour)) {
		t.Fatalf("due = %v, want the 72 h escalation", task.Due)
	}
	var esc workflow.Timer
	for _, tm := range rec.Workflow.Timers {
		if tm.Interrupting {
			esc = tm
		}
	}
	f.now = esc.Due
	if _, err := f.svc.Step(ctx, TimerStep(rec.ID, esc)); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve, TaskID: task.ID})
	if !domain.Is(err, domain.KindConflict) {
		t.Fatalf("decision on the escalated task: %v", err)
	}
	// Repeating the refused decision does not grow the history.
	f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve, TaskID: task.ID})
	rec, _ = f.svc.Requests.GetRequest(ctx, rec.ID)
	types := historyTypes(rec)
	if !slices.Contains(types, "TaskEscalated") && !slices.ContainsFunc(types, func(s string) bool { return strings.Contains(strings.ToLower(s), "escalat") }) {
		t.Fatalf("escalation not in history: %v", types)
	}
	refused := 0
	for _, h := range rec.History {
		if h.Type == "DecisionRefused" && h.Actor == "alice" {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("DecisionRefused entries = %d, want 1: %v", refused, types)
	}
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve}); !domain.Is(err, domain.KindForbidden) {
		t.Fatalf("approver deciding the supervisor task: %v", err)
	}
	rec, err = f.svc.Decide(ctx, sam, rec.ID, Decision{Kind: workflow.Approve})
	if err != nil || rec.RuntimeStatus != Completed {
		t.Fatalf("supervisor approval: %v %s", err, rec.RuntimeStatus)
	}
}

// TestApprovalsInbox: oldest first, paged without loss or repetition,
// never the caller's own requests, never a second approval the caller may
// not give, escalated tasks only for the supervisors.
func TestApprovalsInbox(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		id := fmt.Sprint(1100 + i)
		owner := "user-" + id
		if i == 6 {
			owner = "alice" // alice's own request
		}
		if _, err := f.profiles.CreateProfile(ctx, domain.Profile{ID: id, Owner: owner, FirstName: "A", LastName: "B", MaritalStatus: "Single", Phone: "+15550101000", Version: 1}); err != nil {
			t.Fatal(err)
		}
		f.now = t0.Add(time.Duration(10-i) * time.Minute) // later requests are older
		p := domain.Principal{Subject: owner}
		prof, _ := f.profiles.GetProfile(ctx, id)
		ts := f.now.Format(time.RFC3339)
		ch, err := Validate(ChangeInput{LastName: str("C"), Timestamp: &ts}, prof, f.now)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := f.svc.Open(ctx, p, prof, ch, append([]Attachment(nil), doc...), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RecordVerdict(ctx, rec.ID, doc[0].Name, VerdictClean, "abc", ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	f.now = t0.Add(time.Hour)
	// alice gives the first approval of the oldest listed request; its
	// second approval is then bob's to give, not hers.
	if _, err := f.svc.Decide(ctx, alice, ids[5], Decision{Kind: workflow.Approve}); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(2 * time.Hour)
	all := func(p domain.Principal, size int) []ApprovalItem {
		var out []ApprovalItem
		tok := ""
		for range 20 {
			page, err := f.svc.Approvals(ctx, p, size, tok)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > size {
				t.Fatalf("page of %d items, size %d", len(page.Items), size)
			}
			out = append(out, page.Items...)
			if tok = page.ContinuationToken; tok == "" {
				return out
			}
		}
		t.Fatal("paging did not end")
		return nil
	}
	reqs := func(items []ApprovalItem) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.RequestID)
		}
		return out
	}
	// ids[5] is the oldest, ids[0] the newest; ids[6] is alice's own.
	for _, size := range []int{1, 2, 3, 100} {
		got := reqs(all(alice, size))
		if want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
			t.Fatalf("alice, page size %d: %v, want %v", size, got, want)
		}
	}
	got := all(bob, 2)
	// ids[5]'s open task is its second approval, created when alice
	// approved: the newest task.
	if want := []string{ids[6], ids[4], ids[3], ids[2], ids[1], ids[0], ids[5]}; !slices.Equal(reqs(got), want) {
		t.Fatalf("bob: %v, want %v", reqs(got), want)
	}
	it := got[6]
	if it.Task != "Approve2" || it.Requester != "user-1105" || len(it.Change) != 1 || it.Change[0].Old != "B" || it.Change[0].New != "C" ||
		len(it.Attachments) != 1 || it.Attachments[0].Verdict != VerdictClean || it.Attachments[0].Link == "" || it.Due == nil || !it.Due.Equal(t0.Add(73*time.Hour)) || it.AgeSeconds != 3600 || it.StatusURL != "/api/v1/requests/"+ids[5] {
		t.Fatalf("item = %+v", it)
	}
	if got := all(sam, 10); len(got) != 0 {
		t.Fatalf("supervisor sees approver tasks: %v", reqs(got))
	}
	if got := all(outsid, 10); len(got) != 0 {
		t.Fatalf("another group sees the tasks: %v", reqs(got))
	}
	for _, tc := range []struct {
		p    domain.Principal
		size int
		tok  string
		want domain.Kind
	}{
		{domain.Principal{Subject: "eve", Groups: []string{"ProfileApprover"}}, 0, "", domain.KindForbidden},
		{alice, -1, "", domain.KindInvalid},
		{alice, MaxApprovalsPage + 1, "", domain.KindInvalid},
		{alice, 0, "not-a-token", domain.KindInvalid},
		{alice, 0, "eyJ0IjoieCJ9", domain.KindInvalid}, // {"t":"x"}: no position
	} {
		if _, err := f.svc.Approvals(ctx, tc.p, tc.size, tc.tok); !domain.Is(err, tc.want) {
			t.Errorf("Approvals(%s, %d, %q) = %v, want %v", tc.p.Subject, tc.size, tc.tok, err, tc.want)
		}
	}
	// Decided and ended requests leave the inbox.
	if _, err := f.svc.Decide(ctx, bob, ids[5], Decision{Kind: workflow.Approve}); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(reqs(all(bob, 100)), ids[5]) {
		t.Fatal("a completed request is still in the inbox")
	}
}

func TestSendBackAnsweredWithNewDocument(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	rec, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.SendBack, Comment: "page 2 is missing"})
	if err != nil {
		t.Fatal(err)
	}
	cs := rec.CustomStatus
	if rec.RuntimeStatus != Running || cs.Stage != "sentBack" || !slices.Equal(cs.WaitingFor, []string{"requester"}) ||
		cs.Approvals[0].Decision != "sendBack" || cs.Approvals[0].Comment != "page 2 is missing" || cs.OpenTasks[0].Due == nil {
		t.Fatalf("after send-back: %s %+v", rec.RuntimeStatus, cs)
	}
	if !slices.ContainsFunc(keys(f.disp.seen), func(k string) bool { return strings.Contains(k, "/sentBack/") }) {
		t.Fatalf("no sentBack notice dispatched: %v", keys(f.disp.seen))
	}
	if _, err := f.svc.Decide(ctx, bob, rec.ID, Decision{Kind: workflow.Approve}); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("decision while sent back: %v", err)
	}
	if page, _ := f.svc.Approvals(ctx, bob, 0, ""); len(page.Items) != 0 {
		t.Fatalf("a sent-back request is in the inbox: %+v", page.Items)
	}
	newDoc := []Attachment{{Name: "marriage-full.pdf", Blob: "u2/0-marriage-full.pdf", ContentType: "application/pdf", Size: 4321}}
	ch := f.change(t, ChangeInput{FirstName: str("Augusta Ada")})
	other := domain.Principal{Subject: "user-1001"}
	if _, err := f.svc.Answer(ctx, other, rec.ID, f.profile(t), ch, newDoc, nil); !domain.Is(err, domain.KindNotFound) {
		t.Fatalf("another user's answer: %v", err)
	}
	consumed := 0
	rec, err = f.svc.Answer(ctx, f.owner, rec.ID, f.profile(t), ch, newDoc, func(context.Context) error { consumed++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if consumed != 1 || rec.CustomStatus.Stage != "waitingForScan" || len(rec.Attachments) != 1 || rec.Attachments[0].Name != "marriage-full.pdf" ||
		len(rec.Superseded) != 1 || rec.Input.Fields[0].New != "Augusta Ada" || !slices.Contains(historyTypes(rec), "RequestAnswered") {
		t.Fatalf("after answer: consumed %d %+v attachments %+v superseded %+v", consumed, rec.CustomStatus, rec.Attachments, rec.Superseded)
	}
	if _, err := f.svc.Answer(ctx, f.owner, rec.ID, f.profile(t), ch, nil, nil); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("a second answer: %v", err)
	}
	rec, err = f.svc.RecordVerdict(ctx, rec.ID, "marriage-full.pdf", VerdictClean, "def", "")
	if err != nil {
		t.Fatal(err)
	}
	if open := rec.CustomStatus.OpenTasks; len(open) != 1 || open[0].Element != "Approve1" {
		t.Fatalf("the answer did not go back to the approvers: %+v", open)
	}
	rec, err = f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve, TaskID: rec.CustomStatus.OpenTasks[0].ID})
	if err != nil || rec.RuntimeStatus != Completed || f.profile(t).FirstName != "Augusta Ada" {
		t.Fatalf("approval of the answer: %v %s %+v", err, rec.RuntimeStatus, f.profile(t))
	}
}

func TestSendBackAnsweredWithoutDocumentsAndExpiry(t *testing.T) {
	t.Run("answered with values only", func(t *testing.T) {
		f := newFixture(t)
		ctx := context.Background()
		rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
		if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.SendBack, Comment: "spelling?"}); err != nil {
			t.Fatal(err)
		}
		rec, err := f.svc.Answer(ctx, f.owner, rec.ID, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augustā")}), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if open := rec.CustomStatus.OpenTasks; len(open) != 1 || open[0].Element != "Approve1" || len(rec.Attachments) != 1 {
			t.Fatalf("after an answer without documents: %+v %+v", rec.CustomStatus, rec.Attachments)
		}
	})
	t.Run("never answered", func(t *testing.T) {
		f := newFixture(t)
		ctx := context.Background()
		rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
		rec, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.SendBack, Comment: "spelling?"})
		if err != nil {
			t.Fatal(err)
		}
		var expiry workflow.Timer
		for _, tm := range rec.Workflow.Timers {
			expiry = tm
		}
		if expiry.Element != "ReviseExpiry" || !expiry.Due.Equal(t0.Add(7*24*time.Hour)) {
			t.Fatalf("expiry timer = %+v", expiry)
		}
		f.now = expiry.Due
		rec, err = f.svc.Step(ctx, TimerStep(rec.ID, expiry))
		if err != nil {
			t.Fatal(err)
		}
		if rec.RuntimeStatus != Failed || rec.CustomStatus.Stage != "expired" || !strings.Contains(fmt.Sprint(rec.Output["reason"]), "not answered in time") {
			t.Fatalf("after expiry: %s %v", rec.RuntimeStatus, rec.Output)
		}
		if !slices.ContainsFunc(keys(f.disp.seen), func(k string) bool { return strings.HasSuffix(k, "/failed") }) ||
			slices.ContainsFunc(keys(f.disp.seen), func(k string) bool { return strings.Contains(k, "/escalated/") }) {
			t.Fatalf("want the terminal notice and no escalation: %v", keys(f.disp.seen))
		}
		if n := f.disp.notices[len(f.disp.notices)-1]; n.Kind != "expired" || !strings.Contains(n.Reason, "not answered") {
			t.Fatalf("terminal notice = %+v, want kind expired", n)
		}
		if _, err := f.svc.Answer(ctx, f.owner, rec.ID, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augustā")}), nil, nil); !domain.Is(err, domain.KindConflict) {
			t.Fatalf("answer after expiry: %v", err)
		}
	})
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Two answers to one send-back at once: one is taken, the other refused
// (409) before its MFA token is spent.
func TestConcurrentAnswersOneWins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.SendBack, Comment: "spelling?"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	var spent sync.Map
	for i, name := range []string{"Kenneth", "Kenny"} {
		ch := f.change(t, ChangeInput{FirstName: str(name)})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Answer(ctx, f.owner, rec.ID, f.profile(t), ch, nil, func(context.Context) error { spent.Store(i, true); return nil })
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case domain.Is(err, domain.KindConflict):
			if _, ok := spent.Load(i); ok {
				t.Fatalf("the refused answer spent its MFA token")
			}
		default:
			t.Fatalf("answers: %v", errs)
		}
	}
	if won < 0 {
		t.Fatalf("no answer won: %v", errs)
	}
	final, _ := f.svc.Requests.GetRequest(ctx, rec.ID)
	if want := []string{"Kenneth", "Kenny"}[won]; final.Input.Fields[0].New != want || final.AnswerLease != "" {
		t.Fatalf("stored %+v lease %q, want the winner %s", final.Input.Fields, final.AnswerLease, want)
	}
}

// An answer that changes only the description applies at once (a
// description change needs no evidence or approval), its documents are
// superseded, and the fields it dropped are free again.
func TestDescriptionOnlyAnswerAppliesAndFreesFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.SendBack, Comment: "name needs a court order"}); err != nil {
		t.Fatal(err)
	}
	rec, err := f.svc.Answer(ctx, f.owner, rec.ID, f.profile(t), f.change(t, ChangeInput{Description: str("just the bio then")}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.RuntimeStatus != Completed || len(rec.Attachments) != 0 || len(rec.Superseded) != 1 {
		t.Fatalf("after a description-only answer: %s attachments %d superseded %d", rec.RuntimeStatus, len(rec.Attachments), len(rec.Superseded))
	}
	if p := f.profile(t); p.Description != "just the bio then" || p.FirstName != "Ada" {
		t.Fatalf("profile %+v", p)
	}
	if _, err := f.svc.Open(ctx, f.owner, f.profile(t), f.change(t, ChangeInput{FirstName: str("Augusta")}), append([]Attachment(nil), doc...), nil); err != nil {
		t.Fatalf("firstName still locked: %v", err)
	}
}

// Refused decisions cannot grow a record without bound or reveal a
// request to an approver who was never a candidate of it; a retry naming
// the task's element finds the decision it made.
func TestRefusedDecisionsAreBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve, Comment: "ok\r\nfine"}); err != nil {
		t.Fatalf("comment with CRLF: %v", err)
	}
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve, Comment: "ok\r\nfine", TaskID: rec.CustomStatus.OpenTasks[0].ID}); err != nil {
		t.Fatalf("retry naming the work item: %v", err)
	}
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve, TaskID: "Approve1"}); !domain.Is(err, domain.KindInvalid) {
		t.Fatalf("a decision naming the element, not the work item: %v", err)
	}
	for i := range 50 {
		if _, err := f.svc.Decide(ctx, bob, rec.ID, Decision{Kind: workflow.Reject, Comment: fmt.Sprint("late ", i)}); !domain.Is(err, domain.KindConflict) {
			t.Fatalf("late rejection %d: %v", i, err)
		}
		if _, err := f.svc.Decide(ctx, outsid, rec.ID, Decision{Kind: workflow.Reject, Comment: fmt.Sprint("probe ", i)}); !domain.Is(err, domain.KindNotFound) {
			t.Fatalf("probe by another group %d: %v", i, err)
		}
	}
	rec, _ = f.svc.Requests.GetRequest(ctx, rec.ID)
	refused := 0
	for _, h := range rec.History {
		if h.Type == "DecisionRefused" {
			refused++
			if h.Actor != "bob" {
				t.Fatalf("refusal recorded for %s", h.Actor)
			}
		}
	}
	if refused != 1 {
		t.Fatalf("%d DecisionRefused entries, want 1", refused)
	}
}

// Two approvers clicking approve without naming the task, one right after
// the other: the second click meets the second level, just opened, and is
// refused (409) instead of completing both levels; named, it decides.
func TestBlindDecisionOnAFreshLevelIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := scannedRequest(t, f, ChangeInput{LastName: str("Byron")})
	if _, err := f.svc.Decide(ctx, alice, rec.ID, Decision{Kind: workflow.Approve}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(BlindDecisionGrace / 2)
	_, err := f.svc.Decide(ctx, bob, rec.ID, Decision{Kind: workflow.Approve})
	if !domain.Is(err, domain.KindConflict) {
		t.Fatalf("blind decision on the level just opened: %v", err)
	}
	rec, _ = f.svc.Requests.GetRequest(ctx, rec.ID)
	if rec.RuntimeStatus != Running || len(rec.CustomStatus.Approvals) != 1 || f.profile(t).LastName != "Lovelace" {
		t.Fatalf("after the refused click: %s approvals %+v", rec.RuntimeStatus, rec.CustomStatus.Approvals)
	}
	rec, err = f.svc.Decide(ctx, bob, rec.ID, Decision{Kind: workflow.Approve, TaskID: rec.CustomStatus.OpenTasks[0].ID})
	if err != nil || rec.RuntimeStatus != Completed {
		t.Fatalf("named decision: %v %s", err, rec.RuntimeStatus)
	}
}

// A rejection ends the request Failed with the stage "rejected" (not a
// technical failure), and the reason is the approver's comment.
func TestRejectionStage(t *testing.T) {
	f := newFixture(t)
	rec := scannedRequest(t, f, ChangeInput{FirstName: str("Augusta")})
	rec, err := f.svc.Decide(context.Background(), alice, rec.ID, Decision{Kind: workflow.Reject, Comment: "not valid"})
	if err != nil || rec.RuntimeStatus != Failed || rec.CustomStatus.Stage != "rejected" || rec.Output["reason"] != "not valid" {
		t.Fatalf("after the rejection: %v %s %s %v", err, rec.RuntimeStatus, rec.CustomStatus.Stage, rec.Output)
	}
}
