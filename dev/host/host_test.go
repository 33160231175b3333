package host

import (
	"context"
	"encoding/json"
	"errors"
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

	"github.com/profileflow/profileflow/dev/outbox"
	"github.com/profileflow/profileflow/dev/proc"
	"github.com/profileflow/profileflow/dev/testlog"
)

// writeApp writes host.json and function folders into a temp dir.
func writeApp(t testing.TB, hostJSON string, functions map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(hostJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, fj := range functions {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "function.json"), []byte(fj), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testHostJSON(t testing.TB, exe string) string {
	t.Helper()
	b, _ := json.Marshal(exe)
	return `{
  "version": "2.0",
  "customHandler": {"description": {"defaultExecutablePath": ` + string(b) + `}, "enableForwardingHttpRequest": true},
  "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
  "extensions": {"http": {"routePrefix": "api"}}
}`
}

func httpFn(route string, methods ...string) string {
	m, _ := json.Marshal(methods)
	if methods == nil {
		m = []byte("[]")
	}
	return `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","authLevel":"anonymous","methods":` + string(m) + `,"route":"` + route + `"},{"type":"http","direction":"out","name":"res"}]}`
}

func timerFn(schedule string, runOnStartup bool) string {
	r := "false"
	if runOnStartup {
		r = "true"
	}
	return `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"` + schedule + `","runOnStartup":` + r + `,"useMonitor":true},
  {"type":"serviceBus","direction":"out","name":"outMsg","queueName":"q","connection":"SB"}]}`
}

var testFunctions = map[string]string{
	"Echo":     httpFn("items/{id:int}/{*rest}", "get", "post"),
	"Hello":    httpFn("hello/{name?}"),
	"Redirect": httpFn("redirect", "get"),
	"Crash":    httpFn("crash", "get"),
	"Submit": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["post"],"route":"submit/{requestId}"},
	  {"type":"http","direction":"out","name":"res"},
	  {"type":"serviceBus","direction":"out","name":"outMsg","queueName":"q"}]}`,
	"Sweep":   timerFn("0 0 0 1 1 *", false),
	"Startup": timerFn("0 0 0 1 1 *", true),
	"Tick":    timerFn("* * * * * *", false),
	"BadType": timerFn("0 0 0 1 1 *", false),
	"Fail":    timerFn("0 0 0 1 1 *", false),
}

type testHost struct {
	*Host
	recordDir string
	appDir    string
	logs      *testlog.Buffer
}

// startTestHost starts a development host whose handler is this test binary.
func startTestHost(t testing.TB, mode string, functions map[string]string, mod func(*Options)) (*testHost, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	appDir := writeApp(t, testHostJSON(t, exe), functions)
	rec := t.TempDir()
	logs := &testlog.Buffer{}
	opts := Options{
		AppDir:        appDir,
		Addr:          "127.0.0.1:0",
		Env:           []string{"DEVHOST_TEST_HANDLER=" + mode, "DEVHOST_TEST_RECORD=" + rec, "DEVHOST_TEST_EXTRA=extra-value"},
		ReadyTimeout:  10 * time.Second,
		StopGrace:     5 * time.Second,
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HandlerOutput: logs,
	}
	if mod != nil {
		mod(&opts)
	}
	h, err := Start(context.Background(), opts)
	if err != nil {
		return &testHost{recordDir: rec, appDir: appDir, logs: logs}, err
	}
	t.Cleanup(func() { _ = h.Close() })
	return &testHost{Host: h, recordDir: rec, appDir: appDir, logs: logs}, nil
}

func mustStart(t *testing.T) *testHost {
	t.Helper()
	h, err := startTestHost(t, "ok", testFunctions, nil)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h
}

// waitRecord waits for the test handler's record of an invocation.
func waitRecord(t *testing.T, dir, fn string) (headers http.Header, body map[string]any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(filepath.Join(dir, fn+".json"))
		if err == nil {
			var rec struct {
				Headers http.Header
				Body    map[string]any
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatalf("record %s: %v", fn, err)
			}
			return rec.Headers, rec.Body
		}
		if time.Now().After(deadline) {
			t.Fatalf("no invocation of %s recorded", fn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestForwarding(t *testing.T) {
	h := mustStart(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	t.Run("GET forwarded with path, query, headers", func(t *testing.T) {
		req, _ := http.NewRequest("GET", h.URL()+"/api/items/42/a/b?x=1&x=2", nil)
		req.Header.Set("User-Agent", "curl/8.5.0")
		req.Header.Set("Authorization", "Bearer abc")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Echo") != "yes" {
			t.Fatalf("status %d, X-Echo %q: handler response not passed through", resp.StatusCode, resp.Header.Get("X-Echo"))
		}
		var e echo
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		if e.Method != "GET" || e.Path != "/api/items/42/a/b" || e.Query != "x=1&x=2" {
			t.Errorf("forwarded %s %s ? %s", e.Method, e.Path, e.Query)
		}
		if got := strings.Join(e.Headers["User-Agent"], ","); got != "curl/8.5.0 Azure-Functions-Host/"+HostVersion {
			t.Errorf("User-Agent %q", got)
		}
		if e.Headers["Authorization"][0] != "Bearer abc" {
			t.Errorf("Authorization not copied: %v", e.Headers["Authorization"])
		}
		if e.Headers["X-Azure-Functions-Hostversion"] == nil || len(e.Headers["X-Azure-Functions-Invocationid"]) != 1 || len(e.Headers["X-Azure-Functions-Invocationid"][0]) != 36 {
			t.Errorf("host headers missing: %v", e.Headers)
		}
		if e.Host != strings.TrimPrefix(h.URL(), "http://") {
			t.Errorf("Host %q, want the original %q", e.Host, h.URL())
		}
		appAbs, _ := filepath.Abs(h.appDir)
		if e.Env["FUNCTIONS_CUSTOMHANDLER_PORT"] == "" || e.Env["FUNCTIONS_CUSTOMHANDLER_PORT"] != e.Env["FUNCTIONS_HTTPWORKER_PORT"] ||
			e.Env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] == "" || e.Env["FUNCTIONS_APP_ROOT_PATH"] != appAbs || e.Env["DEVHOST_TEST_EXTRA"] != "extra-value" {
			t.Errorf("handler env %v", e.Env)
		}
		if e.Cwd != appAbs {
			t.Errorf("handler cwd %q, want %q", e.Cwd, appAbs)
		}
	})

	t.Run("POST body with Content-Length forwarded", func(t *testing.T) {
		resp, err := client.Post(h.URL()+"/api/items/7/x", "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e echo
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if e.Body != `{"a":1}` || e.Headers["Content-Type"][0] != "application/json" {
			t.Errorf("body %q headers %v", e.Body, e.Headers)
		}
	})

	t.Run("chunked body dropped like the host", func(t *testing.T) {
		req, _ := http.NewRequest("POST", h.URL()+"/api/items/7", io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)))
		req.ContentLength = -1 // chunked
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e echo
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != http.StatusCreated || e.Body != "" {
			t.Errorf("status %d body %q, want the body dropped", resp.StatusCode, e.Body)
		}
		// The host copies every request header, Transfer-Encoding too, so
		// the handler sees a chunked request with an empty body — which is
		// how it can tell the client to send Content-Length.
		if len(e.TransferEncoding) != 1 || e.TransferEncoding[0] != "chunked" || e.ContentLength != -1 {
			t.Errorf("handler saw Transfer-Encoding %v, Content-Length %d; want chunked, -1", e.TransferEncoding, e.ContentLength)
		}
	})

	t.Run("empty body with Content-Length 0 stays a known length", func(t *testing.T) {
		req, _ := http.NewRequest("POST", h.URL()+"/api/items/7", strings.NewReader(""))
		req.ContentLength = 0
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e echo
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if len(e.TransferEncoding) != 0 || e.ContentLength != 0 {
			t.Errorf("handler saw Transfer-Encoding %v, Content-Length %d; want none, 0", e.TransferEncoding, e.ContentLength)
		}
	})

	t.Run("redirect not followed", func(t *testing.T) {
		resp, err := client.Get(h.URL() + "/api/redirect")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/api/elsewhere" {
			t.Errorf("status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"optional param absent", "GET", "/api/hello", 201},
		{"optional param present, any method", "PATCH", "/api/hello/bob", 201},
		{"case-insensitive literal", "GET", "/API/Hello/bob", 201},
		{"undeclared path", "GET", "/api/nothing", 404},
		{"undeclared prefix only", "GET", "/api", 404},
		{"method not declared", "DELETE", "/api/items/1/x", 404},
		{"int constraint fails", "GET", "/api/items/abc/x", 404},
		{"outside prefix, no static", "GET", "/items/1", 404},
		{"too many segments", "GET", "/api/hello/a/b", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, h.URL()+tc.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
		})
	}
}

func TestPayloadModeHTTP(t *testing.T) {
	h := mustStart(t)
	resp, err := http.Post(h.URL()+"/api/submit/abc?priority=high", "application/json", strings.NewReader(`{"requestId":"abc","n":5,"files":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") != "/api/submit/abc" || string(body) != `{"status":"accepted","id":"abc"}` {
		t.Fatalf("got %d Location=%q body=%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	hdr, rec := waitRecord(t, h.recordDir, "Submit")
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("payload Content-Type %q", ct)
	}
	req := rec["Data"].(map[string]any)["req"].(map[string]any)
	if req["Method"] != "POST" || req["Params"].(map[string]any)["requestId"] != "abc" ||
		req["Query"].(map[string]any)["priority"] != "high" || req["Body"] != `{"requestId":"abc","n":5,"files":["x"]}` ||
		!strings.HasSuffix(req["Url"].(string), "/api/submit/abc?priority=high") {
		t.Errorf("Data.req = %v", req)
	}
	md := rec["Metadata"].(map[string]any)
	if md["requestId"] != `"abc"` || md["priority"] != `"high"` || md["n"] != `"5"` || md["files"] != nil {
		t.Errorf("Metadata binding data = %v", md)
	}
	if md["sys"].(map[string]any)["MethodName"] != "Submit" {
		t.Errorf("Metadata.sys = %v", md["sys"])
	}
}

// shape reduces a JSON value to its structure: object keys and value kinds.
func shape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = shape(e)
		}
		return out
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "bool"
	case float64:
		return "number"
	case nil:
		return "null"
	}
	return "?"
}

func TestTimerPayloadMatchesFixture(t *testing.T) {
	h := mustStart(t)
	if err := h.InvokeTimer(context.Background(), "Sweep"); err != nil {
		t.Fatalf("InvokeTimer: %v", err)
	}
	hdr, got := waitRecord(t, h.recordDir, "Sweep")
	raw, err := os.ReadFile("testdata/timer-trigger.request.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shape(got), shape(want)) {
		t.Errorf("timer payload shape\n got %v\nwant %v", shape(got), shape(want))
	}
	sys := got["Metadata"].(map[string]any)["sys"].(map[string]any)
	if sys["MethodName"] != "Sweep" || !strings.HasSuffix(sys["UtcNow"].(string), "Z") || len(sys["RandGuid"].(string)) != 36 {
		t.Errorf("sys = %v", sys)
	}
	status := got["Data"].(map[string]any)["timer"].(map[string]any)["ScheduleStatus"].(map[string]any)
	next, err := time.Parse(time.RFC3339, status["Next"].(string))
	if err != nil || next.Month() != time.January || next.Day() != 1 || !strings.HasSuffix(status["Next"].(string), "+00:00") {
		t.Errorf("ScheduleStatus.Next = %v (%v)", status["Next"], err)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if hdr.Get("X-Azure-Functions-InvocationId") == "" || hdr.Get("X-Azure-Functions-HostVersion") != HostVersion || hdr.Get("User-Agent") != "Azure-Functions-Host/"+HostVersion {
		t.Errorf("headers %v", hdr)
	}

	t.Run("runOnStartup fires at start", func(t *testing.T) { waitRecord(t, h.recordDir, "Startup") })
	t.Run("every-second schedule fires", func(t *testing.T) { waitRecord(t, h.recordDir, "Tick") })

	t.Run("non-JSON reply is a failed invocation", func(t *testing.T) {
		err := h.InvokeTimer(context.Background(), "BadType")
		var ie *InvocationError
		if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "Content-Type") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("non-2xx reply is a failed invocation", func(t *testing.T) {
		err := h.InvokeTimer(context.Background(), "Fail")
		var ie *InvocationError
		if !errors.As(err, &ie) || ie.Status != 500 {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unknown timer", func(t *testing.T) {
		if err := h.InvokeTimer(context.Background(), "Echo"); err == nil {
			t.Error("InvokeTimer on an HTTP function succeeded")
		}
	})
	t.Run("Invoke decodes the reply", func(t *testing.T) {
		res, err := h.Invoke(context.Background(), "sweep", map[string]any{"timer": map[string]any{}}, nil)
		if err != nil || len(res.Logs) != 1 || res.Logs[0] != "ran Sweep" || len(res.InvocationID) != 36 {
			t.Errorf("Invoke = %+v, %v", res, err)
		}
	})
}

func TestHandlerDiesBeforeReady(t *testing.T) {
	_, err := startTestHost(t, "die", testFunctions, nil)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestHandlerNotReady(t *testing.T) {
	start := time.Now()
	_, err := startTestHost(t, "nolisten", testFunctions, func(o *Options) { o.ReadyTimeout = 300 * time.Millisecond })
	if err == nil || !strings.Contains(err.Error(), "not ready after 300ms") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v: the stuck handler was not stopped promptly", time.Since(start))
	}
}

func TestHandlerDiesLater(t *testing.T) {
	h := mustStart(t)
	resp, err := http.Get(h.URL() + "/api/crash")
	if err == nil {
		resp.Body.Close()
	}
	select {
	case err := <-h.Done():
		if err == nil || !strings.Contains(err.Error(), "exited unexpectedly") || !strings.Contains(err.Error(), "exit status 7") {
			t.Fatalf("Done() = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Done() did not report the dead handler")
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close after death: %v", err)
	}
}

func TestCloseKillsStubbornHandler(t *testing.T) {
	h, err := startTestHost(t, "stubborn", testFunctions, func(o *Options) { o.StopGrace = 200 * time.Millisecond })
	if err != nil {
		t.Fatal(err)
	}
	pid := h.proc.PID()
	err = h.Close()
	if err == nil || !strings.Contains(err.Error(), "was killed") {
		t.Fatalf("Close = %v", err)
	}
	if _, ok := <-h.Done(); ok {
		t.Error("Done not closed after Close")
	}
	if proc.Alive(pid) {
		t.Errorf("pid %d still alive after Close", pid)
	}
}

func TestStartRefusesBadApp(t *testing.T) {
	exe, _ := os.Executable()
	dir := writeApp(t, testHostJSON(t, exe), map[string]string{"Profile": `{"bindings":[{"type":"httpTriger","direction":"in","name":"req","route":"x"}]}`})
	_, err := Start(context.Background(), Options{AppDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	want := filepath.Join(dir, "Profile", "function.json") + `: bindings[0].type: unknown trigger type "httpTriger"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestMissingExecutable(t *testing.T) {
	dir := writeApp(t, testHostJSON(t, "no-such-handler-binary"), map[string]string{"A": httpFn("a")})
	_, err := Start(context.Background(), Options{AppDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "defaultExecutablePath") {
		t.Fatalf("err = %v", err)
	}
}

// bareHost builds a Host for ServeHTTP tests that need no handler process.
func bareHost(t *testing.T, opts Options) *Host {
	t.Helper()
	app, err := LoadApp(writeApp(t, testHostJSON(t, "handler"), map[string]string{"Hello": httpFn("hello", "get")}))
	if err != nil {
		t.Fatal(err)
	}
	return &Host{app: app, opts: opts, log: slog.New(slog.DiscardHandler)}
}

func serve(h http.Handler, method, target, remote string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = remote
	req.Host = "127.0.0.1:7071" // as a local browser or curl sends it
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr
}

func TestDevEndpoints(t *testing.T) {
	box := &outbox.Box{}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	box.Add(outbox.Message{To: "+15550101000", Body: "PIN 123456", Time: at})
	box.Add(outbox.Message{To: "+15550101001", Body: "other", Time: at})
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+" "+r.URL.Path) })
	}
	h := bareHost(t, Options{Outbox: box, DevOIDC: mark("oidc"), DevToken: mark("token"), Static: mark("static")})
	const local = "127.0.0.1:5555"

	rr := serve(h, "GET", "/dev/outbox?to=%2B15550101000", local)
	if rr.Code != 200 || rr.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("outbox: %d %q", rr.Code, rr.Header().Get("Content-Type"))
	}
	var msgs []map[string]any
	if err := json.Unmarshal(rr.Body.Bytes(), &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0]["to"] != "+15550101000" || msgs[0]["body"] != "PIN 123456" || msgs[0]["time"] != "2026-01-02T03:04:05Z" {
		t.Errorf("outbox = %s", rr.Body)
	}
	if rr := serve(bareHost(t, Options{}), "GET", "/dev/outbox?to=%2B1", "[::1]:80"); rr.Code != 200 || strings.TrimSpace(rr.Body.String()) != "[]" {
		t.Errorf("nil outbox: %d %s", rr.Code, rr.Body)
	}

	for _, tc := range []struct {
		method, path, remote string
		code                 int
		body                 string
	}{
		{"GET", "/dev/oidc/.well-known/openid-configuration", local, 200, "oidc /dev/oidc/.well-known/openid-configuration"},
		{"GET", "/dev/oidc", local, 200, "oidc /dev/oidc"},
		{"POST", "/dev/token", local, 200, "token /dev/token"},
		{"GET", "/dev/token", local, 405, ""},
		{"GET", "/dev/unknown", local, 404, ""},
		{"GET", "/dev/outbox", "192.0.2.7:4444", 403, ""},
		{"POST", "/dev/token", "10.0.0.1:4444", 403, ""},
		{"GET", "/dev/oidc/jwks", "[2001:db8::1]:4444", 403, ""},
		{"GET", "/index.html", "192.0.2.7:4444", 200, "static /index.html"},
		{"GET", "/api/undeclared", local, 404, ""},
	} {
		rr := serve(h, tc.method, tc.path, tc.remote)
		if rr.Code != tc.code || (tc.body != "" && rr.Body.String() != tc.body) {
			t.Errorf("%s %s from %s: %d %q, want %d %q", tc.method, tc.path, tc.remote, rr.Code, rr.Body, tc.code, tc.body)
		}
	}
	if rr := serve(bareHost(t, Options{}), "POST", "/dev/token", local); rr.Code != 404 {
		t.Errorf("no DevToken handler: %d", rr.Code)
	}
}

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:1234", true},
		{"127.8.9.10:1", true},
		{"[::1]:1234", true},
		{"::1", true},
		{"192.168.1.10:1234", false},
		{"[2001:db8::1]:80", false},
		{"[::ffff:10.0.0.1]:80", false},
		{"localhost:80", false}, // RemoteAddr is always an IP; names are not trusted
		{"", false},
		{"garbage", false},
	} {
		if got := isLoopback(tc.addr); got != tc.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:7071": true, "localhost:7071": true, "[::1]:7071": true, "localhost": true,
		"attacker.example:7071": false, "attacker.example": false, "10.0.0.1:7071": false, "": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
	// Through the handler: a rebinding page's Host header is refused.
	h := &Host{log: slog.New(slog.DiscardHandler)}
	req := httptest.NewRequest("GET", "http://attacker.example:7071/dev/outbox", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	rec := httptest.NewRecorder()
	h.serveDev(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("rebinding Host: %d", rec.Code)
	}
}
