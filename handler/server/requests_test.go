package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/request"
)

// memSink keeps streamed attachments in memory.
type memSink struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (m *memSink) PutAttachment(_ context.Context, profileID, scope string, index int, name, ct string, r io.Reader, max int64) (request.Attachment, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return request.Attachment{}, err
	}
	if int64(len(b)) > max {
		return request.Attachment{}, fmt.Errorf("too large")
	}
	blob := fmt.Sprintf("%s/%s/%d-%s", profileID, scope, index, name)
	m.mu.Lock()
	if m.blobs == nil {
		m.blobs = map[string][]byte{}
	}
	m.blobs[blob] = b
	m.mu.Unlock()
	return request.Attachment{Name: name, Blob: blob, ContentType: ct, Size: int64(len(b))}, nil
}

func (m *memSink) Discard(_ context.Context, atts []request.Attachment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range atts {
		delete(m.blobs, a.Blob)
	}
}

type changeEnv struct {
	s        *Server
	signer   *mfa.Signer
	profiles *memory.Profiles
	sink     *memSink
}

func newChangeServer(t testing.TB) *changeEnv {
	t.Helper()
	e := newEnv(t, nil)
	return &changeEnv{s: e.s, signer: e.signer, profiles: e.profiles, sink: e.sink}
}

func (e *changeEnv) token(t testing.TB, sub, profile string) string {
	tok, _, err := e.signer.Issue(sub, profile, "c1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *changeEnv) patch(ct, body, mfaTok string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("PATCH", "/api/v1/profile/1000", strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer user-1000")
	if mfaTok != "" {
		req.Header.Set("X-MFA-Token", mfaTok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.s.ServeHTTP(rec, req)
	return rec
}

func now3339() string { return time.Now().UTC().Format(time.RFC3339) }

func multipartBody(t testing.TB, jsonPart string, files map[string][2]string) (string, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if jsonPart != "" {
		w, _ := mw.CreateFormField("json")
		w.Write([]byte(jsonPart))
	}
	for field, f := range files { // f = {filename, content type}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, f[0]))
		h.Set("Content-Type", f[1])
		w, _ := mw.CreatePart(h)
		w.Write([]byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"))
	}
	mw.Close()
	return mw.FormDataContentType(), buf.String()
}

func TestPatchDescriptionAppliesSynchronously(t *testing.T) {
	e := newChangeServer(t)
	tok := e.token(t, "user-1000", "1000")
	body := fmt.Sprintf(`{"description":"Loves engines","timestamp":%q}`, now3339())
	rec := e.patch("application/json", body, tok, nil)
	if rec.Code != 200 {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	var got map[string]string
	json.Unmarshal(rec.Body.Bytes(), &got)
	if got["Status"] != "Success" || !strings.HasPrefix(got["request"], "/api/v1/requests/req-") {
		t.Fatalf("body = %v", got)
	}
	p, _ := e.profiles.GetProfile(context.Background(), "1000")
	if p.Description != "Loves engines" || p.Version != 2 {
		t.Errorf("profile = %+v", p)
	}
	st := do(e.s, "GET", got["request"], "Bearer user-1000", nil)
	var view request.StatusView
	json.Unmarshal(st.Body.Bytes(), &view)
	if st.Code != 200 || view.RuntimeStatus != request.Completed || view.Name != "ProfileUpdate" || len(view.History) < 2 || view.Input.Changes[0].New != "Loves engines" {
		t.Errorf("status: %d %+v", st.Code, view)
	}
	if bytes.Contains(st.Body.Bytes(), []byte(`"workflow"`)) || bytes.Contains(st.Body.Bytes(), []byte(`"blob"`)) {
		t.Error("status leaks engine state or blob names")
	}
	// The MFA token is single use.
	rec = e.patch("application/json", fmt.Sprintf(`{"description":"again","timestamp":%q}`, now3339()), tok, nil)
	if rec.Code != 409 {
		t.Errorf("reused MFA token: %d %s", rec.Code, rec.Body)
	}
	// Another user cannot read the request.
	if st := do(e.s, "GET", got["request"], "Bearer user-1001", nil); st.Code != 404 {
		t.Errorf("other user read status: %d", st.Code)
	}
}

func TestPatchBadInput(t *testing.T) {
	e := newChangeServer(t)
	tok := e.token(t, "user-1000", "1000")
	ts := now3339()
	for _, tc := range []struct {
		name, ct, body string
		tok            string
		status         int
		err            string
	}{
		{"no MFA token", "application/json", `{"description":"x","timestamp":"` + ts + `"}`, "-", 401, "X-MFA-Token"},
		{"MFA token for another profile", "application/json", `{"description":"x","timestamp":"` + ts + `"}`, e.token(t, "user-1000", "1001"), 403, ""},
		{"wrong content type", "text/plain", `{}`, "", 415, "Content-Type"},
		{"unknown field", "application/json", `{"nickname":"x","timestamp":"` + ts + `"}`, "", 400, "unknown field"},
		{"keys differing in case", "application/json", `{"description":"a","DESCRIPTION":"b","timestamp":"` + ts + `"}`, "", 400, "duplicate key"},
		{"wrong case field", "application/json", `{"Description":"a","timestamp":"` + ts + `"}`, "", 400, "unknown field"},
		{"null value", "application/json", `{"description":null,"timestamp":"` + ts + `"}`, "", 400, "must not be null"},
		{"duplicate key", "application/json", `{"description":"a","description":"b","timestamp":"` + ts + `"}`, "", 400, "duplicate key"},
		{"wrong type", "application/json", `{"description":5,"timestamp":"` + ts + `"}`, "", 400, "must be a string"},
		{"trailing data", "application/json", `{"description":"x","timestamp":"` + ts + `"} {}`, "", 400, "after the JSON"},
		{"invalid UTF-8", "application/json", "{\"description\":\"\xff\",\"timestamp\":\"" + ts + "\"}", "", 400, "UTF-8"},
		{"malformed", "application/json", `{"description":`, "", 400, "malformed JSON"},
		{"bad name", "application/json", `{"firstName":"R2D2","timestamp":"` + ts + `"}`, "", 400, "firstName"},
		{"bad marital status", "application/json", `{"maritalStatus":"Complicated","timestamp":"` + ts + `"}`, "", 400, "maritalStatus"},
		{"future timestamp", "application/json", `{"description":"x","timestamp":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`, "", 400, "future"},
		{"no change", "application/json", `{"firstName":"Ada","timestamp":"` + ts + `"}`, "", 400, "no change"},
		{"name change without document", "application/json", `{"lastName":"Byron","timestamp":"` + ts + `"}`, "", 400, "evidence document"},
		{"multipart without json part", "multipart", "", "", 400, "needs a part named"},
		{"multipart bad file name", "multipart-badname", "", "", 400, "attachment1"},
		{"multipart exe as png", "multipart-exe", "", "", 400, "extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := tc.ct, tc.body
			switch tc.ct {
			case "multipart":
				ct, body = multipartBody(t, "", nil)
			case "multipart-badname":
				ct, body = multipartBody(t, `{"lastName":"Byron","timestamp":"`+ts+`"}`, map[string][2]string{"attachment1": {"../../etc/passwd.pdf", "application/pdf"}})
			case "multipart-exe":
				ct, body = multipartBody(t, `{"lastName":"Byron","timestamp":"`+ts+`"}`, map[string][2]string{"attachment1": {"photo.exe", "image/png"}})
			}
			mt := tok
			if tc.tok == "-" {
				mt = ""
			} else if tc.tok != "" {
				mt = tc.tok
			}
			rec := e.patch(ct, body, mt, nil)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.err) || !strings.Contains(rec.Body.String(), `"Status":"Rejected"`) {
				t.Errorf("%d %s; want %d containing %q", rec.Code, rec.Body, tc.status, tc.err)
			}
		})
	}
	// After all these refusals the MFA token is still usable.
	rec := e.patch("application/json", `{"description":"finally","timestamp":"`+ts+`"}`, tok, nil)
	if rec.Code != 200 {
		t.Fatalf("token burnt by a refused PATCH: %d %s", rec.Code, rec.Body)
	}
}

func TestPatchIdempotencyKey(t *testing.T) {
	e := newChangeServer(t)
	body := fmt.Sprintf(`{"description":"idem","timestamp":%q}`, now3339())
	first := e.patch("application/json", body, e.token(t, "user-1000", "1000"), map[string]string{"Idempotency-Key": "k-1"})
	if first.Code != 200 {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	// Same key + same body: the stored answer, byte for byte, even with the
	// spent (or by now expired) MFA token of the first try.
	again := e.patch("application/json", body, "spent-or-expired-token", map[string]string{"Idempotency-Key": "k-1"})
	if again.Code != 200 || again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %q vs %q", again.Code, again.Body, first.Body)
	}
	p, _ := e.profiles.GetProfile(context.Background(), "1000")
	if p.Version != 2 {
		t.Errorf("replay applied the change again: version %d", p.Version)
	}
	other := e.patch("application/json", strings.Replace(body, "idem", "other", 1), e.token(t, "user-1000", "1000"), map[string]string{"Idempotency-Key": "k-1"})
	if other.Code != 422 {
		t.Errorf("same key other body: %d %s", other.Code, other.Body)
	}
	if bad := e.patch("application/json", body, e.token(t, "user-1000", "1000"), map[string]string{"Idempotency-Key": "has space"}); bad.Code != 400 {
		t.Errorf("bad key: %d", bad.Code)
	}
}

func TestPatchMultipartWaitsAndConflicts(t *testing.T) {
	e := newChangeServer(t)
	ts := now3339()
	ct, body := multipartBody(t, `{"lastName":"Byron","timestamp":"`+ts+`"}`, map[string][2]string{"attachment1": {"marriage.pdf", "application/pdf"}})
	rec := e.patch(ct, body, e.token(t, "user-1000", "1000"), nil)
	if rec.Code != 202 || rec.Header().Get("Location") == "" || !strings.Contains(rec.Body.String(), `"Status":"InProgress"`) {
		t.Fatalf("multipart PATCH: %d %s", rec.Code, rec.Body)
	}
	if len(e.sink.blobs) != 1 {
		t.Fatalf("attachment not streamed to storage: %d blobs", len(e.sink.blobs))
	}
	loc := rec.Header().Get("Location")
	st := do(e.s, "GET", loc, "Bearer user-1000", nil)
	var view request.StatusView
	json.Unmarshal(st.Body.Bytes(), &view)
	if st.Code != 202 || st.Header().Get("Retry-After") == "" || view.RuntimeStatus != request.Running || view.CustomStatus.Stage != "waitingForScan" ||
		len(view.CustomStatus.Attachments) != 1 || view.CustomStatus.Attachments[0].Verdict != request.VerdictPending {
		t.Fatalf("status: %d %s", st.Code, st.Body)
	}
	// One open request per field.
	ct2, body2 := multipartBody(t, `{"lastName":"King","timestamp":"`+ts+`"}`, map[string][2]string{"attachment1": {"deed.pdf", "application/pdf"}})
	conflict := e.patch(ct2, body2, e.token(t, "user-1000", "1000"), nil)
	if conflict.Code != 409 || !strings.Contains(conflict.Body.String(), strings.TrimPrefix(loc, "/api/v1/requests/")) {
		t.Fatalf("conflict: %d %s", conflict.Code, conflict.Body)
	}
	// Cancel: not by another user; by the owner → Terminated.
	if r := do(e.s, "POST", loc+"/cancel", "Bearer user-1001", nil); r.Code != 404 {
		t.Errorf("other user cancel: %d", r.Code)
	}
	r := do(e.s, "POST", loc+"/cancel", "Bearer user-1000", nil)
	if r.Code != 200 || !strings.Contains(r.Body.String(), `"runtimeStatus":"Terminated"`) {
		t.Fatalf("cancel: %d %s", r.Code, r.Body)
	}
	if r := do(e.s, "POST", loc+"/cancel", "Bearer user-1000", nil); r.Code != 409 {
		t.Errorf("cancel twice: %d", r.Code)
	}
}

func BenchmarkPatchDirect(b *testing.B) {
	e := newChangeServer(b)
	i := 0
	for b.Loop() {
		i++
		body := fmt.Sprintf(`{"description":"v%d","timestamp":%q}`, i, now3339())
		rec := e.patch("application/json", body, e.token(b, "user-1000", "1000"), nil)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body)
		}
	}
}

func BenchmarkGetStatus(b *testing.B) {
	e := newChangeServer(b)
	rec := e.patch("application/json", fmt.Sprintf(`{"description":"s","timestamp":%q}`, now3339()), e.token(b, "user-1000", "1000"), nil)
	var got map[string]string
	json.Unmarshal(rec.Body.Bytes(), &got)
	req := httptest.NewRequest("GET", got["request"], nil)
	req.Header.Set("Authorization", "Bearer user-1000")
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkBaselinePatchNetHTTP: a bare net/http handler decoding the same
// JSON body, updating a map and answering JSON — the same-run baseline.
func BenchmarkBaselinePatchNetHTTP(b *testing.B) {
	var mu sync.Mutex
	m := map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("PATCH /api/v1/profile/{id}", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Description, Timestamp string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		m[r.PathValue("id")] = in.Description
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"Status": "Success", "request": "/api/v1/requests/x"})
	})
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest("PATCH", "/api/v1/profile/1000", strings.NewReader(fmt.Sprintf(`{"description":"v%d","timestamp":%q}`, i, now3339())))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
	}
}

// A rebuilt multipart form (new random boundary) with the same content
// replays; a refused multipart call leaves no blob behind.
func TestPatchMultipartIdempotencyAndCleanup(t *testing.T) {
	e := newChangeServer(t)
	ts := now3339()
	jsonPart := `{"maritalStatus":"Married","timestamp":"` + ts + `"}`
	files := map[string][2]string{"attachment1": {"certificate.pdf", "application/pdf"}}
	ct, body := multipartBody(t, jsonPart, files)
	first := e.patch(ct, body, e.token(t, "user-1000", "1000"), map[string]string{"Idempotency-Key": "mp-1"})
	if first.Code != 202 {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	ct2, body2 := multipartBody(t, jsonPart, files)
	if ct2 == ct {
		t.Fatal("test needs a new boundary")
	}
	again := e.patch(ct2, body2, e.token(t, "user-1000", "1000"), map[string]string{"Idempotency-Key": "mp-1"})
	if again.Code != 202 || again.Body.String() != first.Body.String() {
		t.Fatalf("rebuilt form: %d %s", again.Code, again.Body)
	}
	if len(e.sink.blobs) != 1 {
		t.Fatalf("replayed call left its upload behind: %d blobs", len(e.sink.blobs))
	}
	// Refused after streaming (MFA token for another profile): blob deleted.
	ct3, body3 := multipartBody(t, `{"firstName":"Augusta","timestamp":"`+ts+`"}`, map[string][2]string{"attachment1": {"deed.pdf", "application/pdf"}})
	if rec := e.patch(ct3, body3, e.token(t, "user-1000", "1001"), nil); rec.Code != 403 {
		t.Fatalf("refused: %d %s", rec.Code, rec.Body)
	}
	if len(e.sink.blobs) != 1 {
		t.Fatalf("refused call left its upload behind: %d blobs", len(e.sink.blobs))
	}
}

// Another user's request and an unknown one get the same answer, byte for
// byte, so no caller learns which request ids exist.
func TestOtherUsersRequestLooksUnknown(t *testing.T) {
	e := newChangeServer(t)
	ct, body := multipartBody(t, `{"lastName":"Byron","timestamp":"`+now3339()+`"}`, map[string][2]string{"attachment1": {"marriage.pdf", "application/pdf"}})
	rec := e.patch(ct, body, e.token(t, "user-1000", "1000"), nil)
	if rec.Code != 202 {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	loc := rec.Header().Get("Location")
	unknown := "/api/v1/requests/req-000000000000000000000000"
	for _, tc := range []struct{ method, suffix string }{{"GET", ""}, {"GET", "?showHistory=false"}, {"POST", "/cancel"}} {
		other := do(e.s, tc.method, loc+tc.suffix, "Bearer user-1001", nil)
		none := do(e.s, tc.method, unknown+tc.suffix, "Bearer user-1001", nil)
		if other.Code != 404 || other.Code != none.Code || other.Body.String() != none.Body.String() {
			t.Errorf("%s %s: other user's %d %q, unknown %d %q", tc.method, tc.suffix, other.Code, other.Body, none.Code, none.Body)
		}
		for _, h := range []string{"Content-Type", "Retry-After", "Location", "WWW-Authenticate"} {
			if other.Header().Get(h) != none.Header().Get(h) {
				t.Errorf("%s %s: header %s differs: %q vs %q", tc.method, tc.suffix, h, other.Header().Get(h), none.Header().Get(h))
			}
		}
	}
	// The owner still reads it.
	if own := do(e.s, "GET", loc, "Bearer user-1000", nil); own.Code != 202 {
		t.Fatalf("owner: %d %s", own.Code, own.Body)
	}
}

// showHistory=false / showInput=false leave history and input out, as the
// Durable Functions status API does; both default to true here; anything
// but true/false is refused.
func TestStatusShowHistoryShowInput(t *testing.T) {
	e := newChangeServer(t)
	rec := e.patch("application/json", `{"description":"shown","timestamp":"`+now3339()+`"}`, e.token(t, "user-1000", "1000"), nil)
	if rec.Code != 200 {
		t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
	}
	var sub map[string]string
	json.Unmarshal(rec.Body.Bytes(), &sub)
	url := sub["request"]
	for _, tc := range []struct {
		query          string
		status         int
		history, input bool
	}{
		{"", 200, true, true},
		{"?showHistory=false", 200, false, true},
		{"?showInput=false", 200, true, false},
		{"?showHistory=false&showInput=false", 200, false, false},
		{"?showHistory=true&showInput=TRUE", 200, true, true},
		{"?showHistory=False&showInput=false&taskHub=x", 200, false, false},
		{"?showHistory=0", 400, false, false},
		{"?showInput=yes", 400, false, false},
		{"?showHistory=", 400, false, false},
		{"?showHistory=false&showHistory=true", 400, false, false},
	} {
		r := do(e.s, "GET", url+tc.query, "Bearer user-1000", nil)
		if r.Code != tc.status {
			t.Errorf("%s: %d %s", tc.query, r.Code, r.Body)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if tc.status != 200 {
			if m["Status"] != "Rejected" || !strings.Contains(m["error"].(string), "show") {
				t.Errorf("%s: error body %v", tc.query, m)
			}
			continue
		}
		h, hasHistory := m["history"].([]any)
		in, hasInput := m["input"].(map[string]any)
		if hasHistory != tc.history || hasInput != tc.input {
			t.Errorf("%s: history %v input %v; want %v %v", tc.query, hasHistory, hasInput, tc.history, tc.input)
		}
		if tc.history && len(h) < 2 {
			t.Errorf("%s: history %v", tc.query, h)
		}
		if tc.input && in["profileId"] != "1000" {
			t.Errorf("%s: input %v", tc.query, in)
		}
		if m["runtimeStatus"] != "Completed" || m["id"] == "" || m["output"] == nil {
			t.Errorf("%s: status body %v", tc.query, m)
		}
	}
}
