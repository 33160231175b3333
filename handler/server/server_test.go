package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/invoke"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/upload"
	"github.com/profileflow/profileflow/handler/workflow"
)

// fakeAuth accepts "Bearer <subject>[,role]".
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, h string) (domain.Principal, error) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return domain.Principal{}, domain.E(domain.KindUnauthorized, "missing bearer token")
	}
	parts := strings.Split(tok, ",")
	return domain.Principal{Subject: parts[0], Roles: parts[1:]}, nil
}

// testEnv is a server over in-memory fakes of every dependency, and the
// fakes, for tests to drive and inspect.
type testEnv struct {
	s         *Server
	deps      Deps
	profiles  *memory.Profiles
	signer    *mfa.Signer
	mfa       *mfa.Service
	verifier  *mfaVerifierStub
	clock     *mfaClock
	uploads   *upload.Service
	uploadNow *time.Time
	requests  *request.Service
	reqStore  *memory.Requests
	sink      *memSink
	scans     *fakeScans
	notices   *notify.Service
	sms       *smsSpy
}

func newEnv(t testing.TB, logs io.Writer) *testEnv {
	t.Helper()
	e := &testEnv{profiles: memory.NewProfiles(), verifier: &mfaVerifierStub{}, clock: &mfaClock{t: time.Now()}, sink: &memSink{}, reqStore: memory.NewRequests(), scans: &fakeScans{}}
	for _, id := range []string{"1000", "1001"} {
		if _, err := e.profiles.CreateProfile(context.Background(), domain.Profile{ID: id, Owner: "user-" + id, FirstName: "Ada", LastName: "Lovelace",
			MaritalStatus: "Single", Phone: "+1555010" + id, Version: 1, UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	if logs == nil {
		logs = io.Discard
	}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	var err error
	if e.signer, err = mfa.NewSigner(10*time.Minute, []byte(strings.Repeat("k", 32))); err != nil {
		t.Fatal(err)
	}
	if e.mfa, err = mfa.NewService(mfa.Options{Store: memory.NewMFAStore(), Verifier: e.verifier, Signer: e.signer, Now: e.clock.now, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	if e.uploads, err = upload.NewService(memory.NewUploadStore(), uploadBlobs{}, uploadBlobs{}, upload.Config{
		Accounts: []string{"https://shard0.blob.core.windows.net", "https://shard1.blob.core.windows.net"}, Container: "landing",
		BlockSize: 4 << 20, TTL: 30 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.uploadNow = &now
	e.uploads.Now = func() time.Time { return *e.uploadNow }
	def, err := workflow.ParseFile("../../workflows/profile-update.bpmn")
	if err != nil {
		t.Fatal(err)
	}
	e.requests = &request.Service{Requests: e.reqStore, Locks: e.reqStore, Profiles: e.profiles, Definition: def, Log: slog.New(slog.DiscardHandler)}
	changes, err := request.NewSubmitter(request.SubmitterDeps{Profiles: e.profiles, MFA: e.mfa, Uploads: e.uploads, Attachments: e.sink,
		Keys: &idempotency.Keys{Store: memory.NewIdempotency()}, Requests: e.requests, Now: time.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e.sms = &smsSpy{}
	e.notices = &notify.Service{Profiles: e.profiles, Sender: e.sms, Sent: memory.NewNotices(), GroupPhones: map[string]string{"ProfileApprover": "+15550100001"}, Log: log}
	sweeper := &request.Sweeper{Requests: e.requests, Stalled: e.reqStore, Scans: e.scans,
		Uploads:  &upload.Expirer{Sessions: memory.NewUploadStore(), Blobs: deletedBlobs{}},
		Settings: request.SweepSettings{Quiet: 2 * time.Minute, Batch: 200, UploadsAfter: time.Hour, Deadlines: request.Deadlines{Attention: time.Hour, ScanRedrive: 30 * time.Minute, ScanFail: 2 * time.Hour, TimerGrace: 10 * time.Minute}}}
	e.deps = Deps{Auth: fakeAuth{}, Profiles: e.profiles, MFA: e.mfa, Uploads: e.uploads, Changes: changes, Requests: e.requests, Scans: e.scans, Notices: e.notices, Sweeper: sweeper, Log: log}
	if e.s, err = New(e.deps); err != nil {
		t.Fatal(err)
	}
	return e
}

func newTestServer(t testing.TB, logs io.Writer) (*Server, *memory.Profiles) {
	t.Helper()
	e := newEnv(t, logs)
	return e.s, e.profiles
}

// New refuses every nil dependency by name, so no route can answer 500 for
// want of one; a nil pointer inside an interface counts as nil.
func TestNewRequiresEveryDependency(t *testing.T) {
	full := newEnv(t, nil).deps
	v := reflect.ValueOf(full)
	if v.NumField() < 7 {
		t.Fatalf("Deps has %d fields", v.NumField())
	}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		t.Run(name, func(t *testing.T) {
			d := full
			reflect.ValueOf(&d).Elem().Field(i).SetZero()
			s, err := New(d)
			if err == nil || s != nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("New without %s = %v, %v", name, s, err)
			}
		})
	}
	t.Run("typed nil pointers", func(t *testing.T) {
		d := full
		d.MFA, d.Uploads, d.Requests = (*mfa.Service)(nil), (*upload.Service)(nil), (*request.Service)(nil)
		_, err := New(d)
		if err == nil || !strings.Contains(err.Error(), "MFA, Uploads, Requests") {
			t.Fatalf("New with nil pointers: %v", err)
		}
	})
	if _, err := New(full); err != nil {
		t.Fatalf("New with every dependency: %v", err)
	}
}

func do(s http.Handler, method, path, auth string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestGetProfile(t *testing.T) {
	s, _ := newTestServer(t, nil)
	for _, tc := range []struct {
		name, path, auth string
		status           int
		errContains      string
	}{
		{"owner", "/api/v1/profile/1000", "Bearer user-1000", 200, ""},
		{"another user's profile", "/api/v1/profile/1001", "Bearer user-1000", 403, "another user"},
		{"unknown profile", "/api/v1/profile/9999", "Bearer user-1000", 404, "not found"},
		{"bad id", "/api/v1/profile/a.b", "Bearer user-1000", 400, "profile id"},
		{"no token", "/api/v1/profile/1000", "", 401, "bearer"},
		{"undeclared route", "/api/v1/nothing", "Bearer user-1000", 404, "no such endpoint"},
		{"wrong method (host answers 404 too)", "/api/v1/profile/1000", "Bearer user-1000", 404, "no such endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "GET"
			if strings.HasPrefix(tc.name, "wrong method") {
				method = "DELETE"
			}
			rec := do(s, method, tc.path, tc.auth, nil)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				t.Errorf("content type %q", rec.Header().Get("Content-Type"))
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if tc.status == 200 {
				if body["id"] != "1000" || body["owner"] != "user-1000" || body["phone"] != "+15550101000" || body["version"] != float64(1) {
					t.Errorf("profile body = %v", body)
				}
				if _, leaked := body["ETag"]; leaked {
					t.Error("ETag leaked into body")
				}
				if rec.Header().Get("ETag") == "" {
					t.Error("no ETag header")
				}
				return
			}
			if body["Status"] != "Rejected" || !strings.Contains(strings.ToLower(body["error"].(string)), tc.errContains) {
				t.Errorf("error body = %v", body)
			}
			if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestReadinessProbe(t *testing.T) {
	s, _ := newTestServer(t, nil)
	if rec := do(s, "GET", "/", "", nil); rec.Code != 200 {
		t.Fatalf("GET / = %d", rec.Code)
	}
}

func TestErrorTableCoversEveryKind(t *testing.T) {
	for k := domain.KindInternal; k <= domain.KindLengthRequired; k++ {
		if _, ok := errorTable[k]; !ok {
			t.Errorf("kind %s has no entry in errorTable", k)
		}
	}
	for _, tc := range []struct {
		err    error
		status int
		retry  bool
	}{
		{domain.E(domain.KindInvalid, "x"), 400, false},
		{domain.E(domain.KindTransient, "x"), 503, true},
		{domain.E(domain.KindStale, "x"), 409, true},
		{io.EOF, 500, true}, // unknown errors are internal and retried
	} {
		o := outcomeOf(tc.err)
		if o.status != tc.status || o.retry != tc.retry {
			t.Errorf("%v → %+v", tc.err, o)
		}
	}
	// Internal errors never leak their message; details are merged.
	b := errorBody(domain.Wrap(domain.KindInternal, io.EOF, "secret detail"))
	if b["error"] != "internal error" {
		t.Errorf("internal message leaked: %v", b)
	}
	e := domain.E(domain.KindUnauthorized, "wrong code")
	e.Details = map[string]any{"attemptsLeft": 3, "Status": "hijack"}
	b = errorBody(e)
	if b["attemptsLeft"] != 3 || b["Status"] != "Rejected" {
		t.Errorf("details = %v", b)
	}
	rec := httptest.NewRecorder()
	s, _ := newTestServer(t, nil)
	rl := domain.E(domain.KindRateLimited, "slow down")
	rl.RetryAfter = 1500 * time.Millisecond
	s.writeError(rec, httptest.NewRequest("GET", "/", nil), rl)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("429: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// A test trigger shows the invocation outcomes: malformed → 400 and the
// handler stays up; permanent error → 2xx with a log; transient → 503.
func TestTriggerInvocations(t *testing.T) {
	old := triggers
	t.Cleanup(func() { triggers = old })
	triggers = append(triggers, trigger{Function: "Echo", Handle: func(s *Server, ctx context.Context, req *invoke.Request) (invoke.Response, error) {
		msg, err := req.DataString("msg")
		if err != nil {
			return invoke.Response{}, domain.Wrap(domain.KindInvalid, err, "bad message")
		}
		switch msg {
		case "transient":
			return invoke.Response{}, domain.E(domain.KindTransient, "cosmos throttled")
		case "permanent":
			return invoke.Response{}, domain.E(domain.KindInvalid, "unknown request")
		}
		return invoke.Response{Outputs: map[string]any{"out": msg}}, nil
	}})
	var logs bytes.Buffer
	s, _ := newTestServer(t, &logs)
	post := func(ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/Echo", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		name, ct, body string
		status         int
		contains       string
	}{
		{"ok", "application/json", `{"Data":{"msg":"\"hi\""},"Metadata":{}}`, 200, `"out":"hi"`},
		{"malformed JSON", "application/json", `{"Data":`, 400, "malformed"},
		{"wrong content type", "text/plain", `{"Data":{}}`, 400, "content type"},
		{"permanent", "application/json", `{"Data":{"msg":"\"permanent\""}}`, 200, "permanent failure"},
		{"transient", "application/json", `{"Data":{"msg":"\"transient\""}}`, 503, "transient"},
	} {
		rec := post(tc.ct, tc.body)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s: content type %q", tc.name, rec.Header().Get("Content-Type"))
		}
	}
	if !strings.Contains(logs.String(), "malformed invocation") {
		t.Error("malformed invocation not logged")
	}
	if rec := post("application/json", `{"Data":{"msg":"\"again\""}}`); rec.Code != 200 {
		t.Error("handler did not stay up after a malformed invocation")
	}
}

// Every route in the table is declared by functions/<Function>/function.json
// with the same route and method, so the Functions host forwards it.
func TestRoutesMatchFunctionJSON(t *testing.T) {
	byFunc := map[string][]route{}
	for _, rt := range routes {
		byFunc[rt.Function] = append(byFunc[rt.Function], rt)
	}
	for fn, rts := range byFunc {
		b, err := os.ReadFile(filepath.Join("..", "..", "functions", fn, "function.json"))
		if err != nil {
			t.Errorf("route function %s has no function.json: %v", fn, err)
			continue
		}
		var f struct {
			Bindings []struct {
				Type, Direction, Route string
				Methods                []string
			}
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		var trig *struct {
			Type, Direction, Route string
			Methods                []string
		}
		outs := 0
		for i, bd := range f.Bindings {
			if bd.Type == "httpTrigger" {
				trig = &f.Bindings[i]
			} else if bd.Type == "http" {
				outs++
			}
		}
		if trig == nil || outs != 1 || len(f.Bindings) != 2 {
			t.Errorf("%s: must be http-in + http-out only to be forwarded", fn)
			continue
		}
		for _, rt := range rts {
			if !templateCovers("api/"+trig.Route, strings.TrimPrefix(rt.Pattern, "/")) {
				t.Errorf("%s: route %s not declared (function.json route %q)", fn, rt.Pattern, trig.Route)
			}
			found := false
			for _, m := range trig.Methods {
				found = found || strings.EqualFold(m, rt.Method)
			}
			if !found {
				t.Errorf("%s: method %s not in function.json methods %v", fn, rt.Method, trig.Methods)
			}
		}
	}
	// And no function folder declares an HTTP route the handler lacks.
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "functions", "*", "function.json"))
	for _, d := range dirs {
		fn := filepath.Base(filepath.Dir(d))
		b, _ := os.ReadFile(d)
		isTrigger := false
		for _, tr := range triggers {
			isTrigger = isTrigger || tr.Function == fn
		}
		if byFunc[fn] == nil && !isTrigger {
			t.Errorf("functions/%s is served by no route or trigger (%d bytes)", fn, len(b))
		}
	}
}

func BenchmarkGetProfile(b *testing.B) {
	s, _ := newTestServer(b, nil)
	req := httptest.NewRequest("GET", "/api/v1/profile/1000", nil)
	req.Header.Set("Authorization", "Bearer user-1000")
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkBaselineNetHTTP is the same-run baseline: a bare net/http
// handler that looks up a map and writes the same JSON.
func BenchmarkBaselineNetHTTP(b *testing.B) {
	prof := domain.Profile{ID: "1000", Owner: "user-1000", FirstName: "Ada", LastName: "Lovelace", MaritalStatus: "Single", Phone: "+15550101000", Version: 1}
	m := map[string]domain.Profile{"1000": prof}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/profile/{id}", func(w http.ResponseWriter, r *http.Request) {
		p := m[r.PathValue("id")]
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	})
	req := httptest.NewRequest("GET", "/api/v1/profile/1000", nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
	}
}

// templateCovers reports whether a function.json route template (with
// {param}, {param:constraint}, {param?} and {*catchall}) matches every path
// of a ServeMux pattern (whose {x} segments are arbitrary values).
func templateCovers(tmpl, pattern string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(pattern, "/")
	for i, seg := range ts {
		isParam := strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
		if isParam && strings.HasPrefix(seg, "{*") {
			return true
		}
		if i >= len(ps) {
			return isParam && strings.HasSuffix(seg, "?}") && i == len(ts)-1
		}
		if isParam {
			if !strings.HasPrefix(ps[i], "{") && strings.Contains(seg, ":int") {
				return false // a literal segment where the template wants an int
			}
			continue
		}
		if seg != ps[i] {
			return false
		}
	}
	return len(ts) == len(ps)
}

func TestTemplateCovers(t *testing.T) {
	for _, tc := range []struct {
		tmpl, pattern string
		want          bool
	}{
		{"api/v1/profile/{internalID}", "api/v1/profile/{internalID}", true},
		{"api/v1/requests/{requestId}/{action:alpha}", "api/v1/requests/{requestId}/cancel", true},
		{"api/v1/profile/{internalID}/uploads/{uploadId?}", "api/v1/profile/{internalID}/uploads", true},
		{"api/v1/profile/{internalID}/uploads/{uploadId?}", "api/v1/profile/{internalID}/uploads/{uploadId}", true},
		{"api/v1/profile/{internalID}", "api/v1/profile/{internalID}/uploads", false},
		{"api/v1/mfa/challenge", "api/v1/mfa/verify", false},
		{"api/{*rest}", "api/anything/at/all", true},
	} {
		if got := templateCovers(tc.tmpl, tc.pattern); got != tc.want {
			t.Errorf("templateCovers(%q, %q) = %v", tc.tmpl, tc.pattern, got)
		}
	}
}
