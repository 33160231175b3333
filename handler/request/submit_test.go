package request_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/mfa"
	. "github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/upload"
)

// fakeTokens accepts "tok-<profile>" for user-1000's profiles and counts
// checks and spends.
type fakeTokens struct {
	mu            sync.Mutex
	checks, spent int
	consumeErr    error
	uses          map[string]string // token → what it was spent on
	strict        bool              // refuse a second spend for another use, as mfa.Service does
}

func (f *fakeTokens) Check(_ context.Context, token string, p domain.Principal, profileID string) (mfa.Claims, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	pid, ok := strings.CutPrefix(token, "tok-")
	pid, _, _ = strings.Cut(pid, "#") // tok-1000#b: another token of profile 1000
	switch {
	case !ok:
		return mfa.Claims{}, domain.E(domain.KindUnauthorized, "invalid MFA token")
	case pid != profileID:
		return mfa.Claims{}, domain.E(domain.KindForbidden, "MFA token for another profile")
	}
	return mfa.Claims{Subject: p.Subject, ProfileID: pid, ID: token}, nil
}

func (f *fakeTokens) Consume(ctx context.Context, c mfa.Claims) error {
	return f.ConsumeFor(ctx, c, "")
}

// ConsumeFor spends a token once; again for the same non-empty use is fine.
func (f *fakeTokens) ConsumeFor(_ context.Context, c mfa.Claims, use string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.consumeErr != nil {
		return f.consumeErr
	}
	if f.uses == nil {
		f.uses = map[string]string{}
	}
	if prev, ok := f.uses[c.ID]; ok && f.strict {
		if use != "" && prev == use {
			return nil
		}
		return domain.E(domain.KindConflict, "the MFA token was already used")
	}
	f.uses[c.ID] = use
	f.spent++
	return nil
}

// fakeUploads has one committed upload, "up-1", of user-1000's profile 1000.
type fakeUploads struct{}

func (fakeUploads) CommittedFiles(_ context.Context, p domain.Principal, profileID, uploadID string) ([]upload.Committed, error) {
	if uploadID != "up-1" || profileID != "1000" || p.Subject != "user-1000" {
		return nil, domain.E(domain.KindNotFound, "upload %s not found", uploadID)
	}
	f := upload.File{Name: "deed.pdf", ContentType: "application/pdf", Size: 99, BlobName: "1000/up-1/0-deed.pdf", Account: "https://shard0"}
	return []upload.Committed{{File: f, Account: "https://shard0", Container: "incoming", ETag: "0x1", Size: 99}}, nil
}

func (fakeUploads) RecordServerUpload(_ context.Context, p domain.Principal, profileID, uploadID, account string, files []upload.File) (upload.Session, error) {
	return upload.Session{ID: uploadID, ProfileID: profileID, Owner: p.Subject, Account: account, Files: files, ServerWritten: true}, nil
}

// fakeSink keeps streamed files in a map (blob name → bytes).
type fakeSink struct {
	mu    sync.Mutex
	blobs map[string]string
}

func (s *fakeSink) PutAttachment(_ context.Context, profileID, scope string, index int, name, ct string, r io.Reader, max int64) (Attachment, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return Attachment{}, err
	}
	if int64(len(b)) > max {
		return Attachment{}, domain.E(domain.KindTooLarge, "%s larger than %d bytes", name, max)
	}
	blob := fmt.Sprintf("%s/%s/%d-%s", profileID, scope, index, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[blob] = string(b)
	return Attachment{Name: name, UploadID: scope, Blob: blob, ContentType: ct, Size: int64(len(b)), SourceETag: "0x1"}, nil
}

func (s *fakeSink) Discard(_ context.Context, atts []Attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range atts {
		delete(s.blobs, a.Blob)
	}
}

// fakeOpener records what it is asked to open and answers rec or err; it
// spends the MFA token like Service.Open.
type fakeOpener struct {
	calls   []Change
	atts    [][]Attachment
	answers []string // request ids answered
	rec     Record
	err     error
	opened  map[string]Record
	ids     int
}

func (o *fakeOpener) NewRequestID() string {
	o.ids++
	return fmt.Sprintf("req-%d", o.ids)
}

func (o *fakeOpener) Get(_ context.Context, _ domain.Principal, id string) (Record, error) {
	if rec, ok := o.opened[id]; ok {
		return rec, nil
	}
	return Record{}, domain.E(domain.KindNotFound, "request not found")
}

// Answer records the answered request id and answers like Open.
func (o *fakeOpener) Answer(ctx context.Context, p domain.Principal, requestID string, prof domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error) {
	o.answers = append(o.answers, requestID)
	rec, err := o.Open(ctx, p, prof, ch, atts, accept)
	if err == nil {
		rec.ID = requestID
	}
	return rec, err
}

func (o *fakeOpener) Open(ctx context.Context, _ domain.Principal, _ domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error) {
	o.calls = append(o.calls, ch)
	o.atts = append(o.atts, atts)
	if o.err != nil {
		return Record{}, o.err
	}
	if err := accept(ctx); err != nil {
		return Record{}, err
	}
	rec := o.rec
	if rec.ID == "" {
		rec.ID = ch.RequestID
	}
	if o.opened == nil {
		o.opened = map[string]Record{}
	}
	o.opened[rec.ID] = rec
	return rec, nil
}

// fakeForm is a decoded body: fields, files put in order, then err.
type fakeForm struct {
	fields ChangeInput
	files  [][3]string // field, name, content
	err    error
	fp     string // the fingerprint; the JSON of fields and files when ""
}

func (f fakeForm) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		F ChangeInput
		X [][3]string
	}{f.fields, f.files})
}

func (f fakeForm) Read(ctx context.Context, put PutFile) (ChangeInput, []byte, error) {
	for _, file := range f.files {
		if err := put(ctx, file[0], file[1], "application/pdf", strings.NewReader(file[2])); err != nil {
			return f.fields, nil, err
		}
	}
	if f.fp != "" {
		return f.fields, []byte(f.fp), f.err
	}
	fp, _ := json.Marshal(f)
	return f.fields, fp, f.err
}

type submitEnv struct {
	sub      *Submitter
	profiles *memory.Profiles
	tokens   *fakeTokens
	sink     *fakeSink
	opener   *fakeOpener
}

func newSubmitEnv(t *testing.T) *submitEnv {
	t.Helper()
	profiles := memory.NewProfiles()
	for _, id := range []string{"1000", "1001"} {
		owner := "user-1000"
		if id == "1001" {
			owner = "user-1001"
		}
		if _, err := profiles.CreateProfile(context.Background(), domain.Profile{ID: id, Owner: owner, FirstName: "Ada", LastName: "Lovelace", MaritalStatus: "Single", Description: "old", Version: 1}); err != nil {
			t.Fatal(err)
		}
	}
	e := &submitEnv{profiles: profiles, tokens: &fakeTokens{}, sink: &fakeSink{blobs: map[string]string{}}, opener: &fakeOpener{rec: Record{RuntimeStatus: Completed}}}
	e.sub = mustSubmitter(t, e, &idempotency.Keys{Store: memory.NewIdempotency()})
	return e
}

func mustSubmitter(t *testing.T, e *submitEnv, keys IdempotencyKeys) *Submitter {
	t.Helper()
	sub, err := NewSubmitter(SubmitterDeps{Profiles: e.profiles, MFA: e.tokens, Uploads: fakeUploads{}, Attachments: e.sink,
		Keys: keys, Requests: e.opener, Now: func() time.Time { return t0 }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

var (
	user1000 = domain.Principal{Subject: "user-1000"}
	ts0      = t0.Format(time.RFC3339)
)

func descForm(d string) fakeForm {
	return fakeForm{fields: ChangeInput{Description: &d, Timestamp: &ts0}}
}

func nameForm(files ...[3]string) fakeForm {
	n := "Byron"
	return fakeForm{fields: ChangeInput{LastName: &n, Timestamp: &ts0}, files: files}
}

func uploadForm(files ...[3]string) fakeForm {
	f := nameForm(files...)
	up := "up-1"
	f.fields.UploadID = &up
	return f
}

var pdf = [3]string{"attachment1", "marriage.pdf", "%PDF-1.7"}

func TestSubmitterSubmit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(e *submitEnv)
		in      SubmitInput
		kind    domain.Kind // 0: accepted
		status  SubmitStatus
		msg     string // in the error
		opened  int    // calls to Open
		checked int    // MFA checks
		spent   int    // MFA tokens spent
		blobs   int    // streamed files left in the sink
		atts    []string
	}{
		{name: "description applied", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: descForm("new")},
			status: SubmitSuccess, opened: 1, checked: 1, spent: 1},
		{name: "another user's profile", in: SubmitInput{ProfileID: "1001", MFAToken: "tok-1001", Form: descForm("x")},
			kind: domain.KindForbidden, msg: "another user"},
		{name: "unknown profile", in: SubmitInput{ProfileID: "9999", MFAToken: "tok-9999", Form: descForm("x")}, kind: domain.KindNotFound},
		{name: "no MFA token", in: SubmitInput{ProfileID: "1000", Form: descForm("x")}, kind: domain.KindUnauthorized, msg: "X-MFA-Token"},
		{name: "bad Idempotency-Key", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "has space", Form: descForm("x")},
			kind: domain.KindInvalid, msg: "Idempotency-Key"},
		{name: "form refused after a file streamed", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: fakeForm{files: [][3]string{pdf}, err: domain.E(domain.KindInvalid, "malformed multipart body")}},
			kind: domain.KindInvalid, msg: "malformed"},
		{name: "MFA token refused: files discarded", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1001", Form: nameForm(pdf)},
			kind: domain.KindForbidden, checked: 1},
		{name: "invalid MFA token", in: SubmitInput{ProfileID: "1000", MFAToken: "forged", Form: descForm("x")},
			kind: domain.KindUnauthorized, checked: 1},
		{name: "invalid change: files discarded", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: fakeForm{fields: ChangeInput{FirstName: ptr("R2D2"), Timestamp: &ts0}, files: [][3]string{pdf}}},
			kind: domain.KindInvalid, msg: "firstName", checked: 1},
		{name: "one-digit hour timestamp", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: fakeForm{fields: ChangeInput{Description: ptr("x"), Timestamp: ptr("2026-11-28T1:00:00Z")}}},
			kind: domain.KindInvalid, msg: "timestamp", checked: 1},
		{name: "three files", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm(pdf, [3]string{"attachment2", "b.pdf", "x"}, [3]string{"attachment2", "c.pdf", "x"})},
			kind: domain.KindInvalid, msg: "at most 2"},
		{name: "file name with a path", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm([3]string{"attachment1", "../../etc/passwd.pdf", "x"})},
			kind: domain.KindInvalid, msg: "attachment1"},
		{name: "two files of one name", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm(pdf, [3]string{"attachment2", "marriage.pdf", "x"})},
			kind: domain.KindInvalid, msg: "two attachments"},
		{name: "file too large", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm([3]string{"attachment1", "big.pdf", strings.Repeat("x", MaxAttachmentSize+1)})},
			kind: domain.KindTooLarge},
		{name: "uploadId and files", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: uploadForm(pdf)},
			kind: domain.KindInvalid, msg: "either an uploadId", checked: 1},
		{name: "uploadId resolved to its files", setup: func(e *submitEnv) { e.opener.rec = Record{RuntimeStatus: Running} },
			in:     SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: uploadForm()},
			status: SubmitInProgress, opened: 1, checked: 1, spent: 1, atts: []string{"deed.pdf@incoming/1000/up-1/0-deed.pdf#0x1"}},
		{name: "unknown uploadId", in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: func() fakeForm { f := uploadForm(); f.fields.UploadID = ptr("up-2"); return f }()},
			kind: domain.KindNotFound, checked: 1},
		{name: "streamed file accepted", setup: func(e *submitEnv) { e.opener.rec = Record{RuntimeStatus: Running} },
			in:     SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm(pdf)},
			status: SubmitInProgress, opened: 1, checked: 1, spent: 1, blobs: 1, atts: []string{"marriage.pdf@"}},
		{name: "open refused: streamed files discarded", setup: func(e *submitEnv) { e.opener.err = domain.E(domain.KindConflict, "lastName has a pending change") },
			in:   SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm(pdf)},
			kind: domain.KindConflict, opened: 1, checked: 1, atts: []string{"marriage.pdf@"}},
		{name: "token already spent", setup: func(e *submitEnv) { e.tokens.consumeErr = domain.E(domain.KindConflict, "MFA token already used") },
			in:   SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: nameForm(pdf)},
			kind: domain.KindConflict, opened: 1, checked: 1, atts: []string{"marriage.pdf@"}},
		{name: "completed, change still to apply", setup: func(e *submitEnv) {
			e.opener.rec = Record{RuntimeStatus: Completed, Outbox: []Effect{{ID: "a", Apply: &ApplyChange{ProfileID: "1000"}}}}
		}, in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: descForm("x")}, status: SubmitInProgress, opened: 1, checked: 1, spent: 1},
		{name: "workflow failed", setup: func(e *submitEnv) { e.opener.rec = Record{RuntimeStatus: Failed} },
			in: SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", Form: descForm("x")}, status: SubmitFailed, opened: 1, checked: 1, spent: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSubmitEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			res, err := e.sub.Submit(context.Background(), user1000, tc.in)
			if tc.kind != 0 {
				if !domain.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want %s containing %q", err, tc.kind, tc.msg)
				}
			} else if err != nil || res.Status != tc.status || res.RequestID == "" || res.Replayed {
				t.Fatalf("Submit = %+v, %v; want %s", res, err, tc.status)
			}
			if len(e.opener.calls) != tc.opened || e.tokens.checks != tc.checked || e.tokens.spent != tc.spent || len(e.sink.blobs) != tc.blobs {
				t.Fatalf("opened %d checked %d spent %d blobs %d; want %d %d %d %d",
					len(e.opener.calls), e.tokens.checks, e.tokens.spent, len(e.sink.blobs), tc.opened, tc.checked, tc.spent, tc.blobs)
			}
			if tc.atts != nil {
				var got []string
				for _, a := range e.opener.atts[0] {
					got = append(got, a.Name+"@"+strings.TrimPrefix(a.Source+"/"+a.Blob, "/")+"#"+a.SourceETag)
				}
				for i, want := range tc.atts {
					if i >= len(got) || !strings.HasPrefix(got[i], want) {
						t.Fatalf("attachments = %v, want %v", got, tc.atts)
					}
				}
			}
		})
	}
}

// An Idempotency-Key replays the stored answer (even with a spent or
// expired token, and deletes the replay's own streamed files); another body
// under the key is refused; a refused call frees the key.
func TestSubmitterIdempotencyKey(t *testing.T) {
	e := newSubmitEnv(t)
	ctx := context.Background()
	e.opener.rec = Record{RuntimeStatus: Running}
	first, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "k1", Form: nameForm(pdf)})
	if err != nil || first.Status != SubmitInProgress {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "expired", IdempotencyKey: "k1", Form: nameForm(pdf)})
	if err != nil || !again.Replayed || again.RequestID != first.RequestID || again.Status != first.Status {
		t.Fatalf("replay: %+v %v (first %+v)", again, err, first)
	}
	if len(e.opener.calls) != 1 || e.tokens.checks != 1 || len(e.sink.blobs) != 1 {
		t.Fatalf("replay opened %d, checked %d tokens, left %d blobs", len(e.opener.calls), e.tokens.checks, len(e.sink.blobs))
	}
	other := nameForm(pdf)
	other.fp = "other body"
	if _, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "k1", Form: other}); !domain.Is(err, domain.KindUnprocessable) {
		t.Fatalf("same key, other body: %v", err)
	}
	// A refused call (bad token) frees its key: the corrected retry runs.
	if _, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "forged", IdempotencyKey: "k2", Form: descForm("y")}); !domain.Is(err, domain.KindUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
	res, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "k2", Form: descForm("y")})
	if err != nil || res.Replayed || len(e.opener.calls) != 2 {
		t.Fatalf("retry after refusal: %+v %v opened %d", res, err, len(e.opener.calls))
	}
}

func TestNewSubmitterNamesMissingDependencies(t *testing.T) {
	_, err := NewSubmitter(SubmitterDeps{Profiles: memory.NewProfiles()})
	if err == nil || !strings.Contains(err.Error(), "Attachments, Keys, Log, MFA, Now, Requests, Uploads") {
		t.Fatalf("err = %v", err)
	}
}

func ptr(s string) *string { return &s }

// A call that stopped after its request was accepted but before its
// Idempotency-Key answer was stored: the retry with the same key and body,
// once the key's lease ran out, answers with that request (even though
// the change is applied and the token spent); one that stopped before the
// request was recorded opens the very same request (same id: its field
// locks, upload claim and MFA token use name it).
func TestSubmitterRetryAfterAStoppedCall(t *testing.T) {
	e := newSubmitEnv(t)
	e.tokens.strict = true
	ctx := context.Background()
	now := t0
	keys := &idempotency.Keys{Store: memory.NewIdempotency(), Now: func() time.Time { return now }}
	stopping := &stoppingKeys{Keys: keys}
	e.sub = mustSubmitter(t, e, stopping)
	e.opener.rec = Record{RuntimeStatus: Running}

	// 1. Stopped after the request was accepted (the answer never stored).
	stopping.failFinish = true
	first, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "k1", Form: nameForm(pdf)})
	if err != nil {
		t.Fatal(err)
	}
	stopping.failFinish = false
	if _, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "k1", Form: nameForm(pdf)}); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("retry while the lease runs: %v", err)
	}
	now = now.Add(idempotency.LeaseTimeout + time.Second)
	again, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000", IdempotencyKey: "k1", Form: nameForm(pdf)})
	if err != nil || again.RequestID != first.RequestID || len(e.opener.calls) != 1 {
		t.Fatalf("retry after the lease: %+v %v (first %+v), opened %d", again, err, first, len(e.opener.calls))
	}

	// 2. Stopped after spending the token but before the record existed.
	e.opener.err = domain.E(domain.KindTransient, "stopped")
	stopping.keepLease = true
	if _, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000#b", IdempotencyKey: "k2", Form: descForm("x")}); err == nil {
		t.Fatal("the stopped call succeeded")
	}
	e.tokens.uses["tok-1000#b"] = e.opener.calls[len(e.opener.calls)-1].RequestID // it had spent the token
	e.opener.err = nil
	stopping.keepLease = false
	now = now.Add(idempotency.LeaseTimeout + time.Second)
	res, err := e.sub.Submit(ctx, user1000, SubmitInput{ProfileID: "1000", MFAToken: "tok-1000#b", IdempotencyKey: "k2", Form: descForm("x")})
	if err != nil {
		t.Fatalf("retry of the stopped call: %v", err)
	}
	n := len(e.opener.calls)
	if res.RequestID != e.opener.calls[n-1].RequestID || e.opener.calls[n-2].RequestID != e.opener.calls[n-1].RequestID {
		t.Fatalf("the retry opened %q, the stopped call %q", e.opener.calls[n-1].RequestID, e.opener.calls[n-2].RequestID)
	}
}

// stoppingKeys is the real Keys, made to lose the stored answer (as a
// handler stopped before Finish) or to keep a refused call's lease (as a
// handler stopped before Abandon).
type stoppingKeys struct {
	*idempotency.Keys
	failFinish, keepLease bool
}

func (k *stoppingKeys) Finish(ctx context.Context, lease idempotency.Record, status int, headers map[string]string, body []byte) error {
	if k.failFinish {
		return domain.E(domain.KindTransient, "stopped before the answer was stored")
	}
	return k.Keys.Finish(ctx, lease, status, headers, body)
}

func (k *stoppingKeys) Abandon(ctx context.Context, lease idempotency.Record) error {
	if k.keepLease {
		return nil
	}
	return k.Keys.Abandon(ctx, lease)
}
