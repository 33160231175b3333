package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake custom handler: when DEVHOST_TEST_HANDLER
// is set, TestMain runs it instead of the tests (see runTestHandler).
func TestMain(m *testing.M) {
	if mode := os.Getenv("DEVHOST_TEST_HANDLER"); mode != "" {
		runTestHandler(mode)
		return
	}
	os.Exit(m.Run())
}

// runTestHandler modes:
//
//	ok        serve (see below)
//	die       exit 3 at once
//	nolisten  never listen (readiness times out)
//	stubborn  serve, but ignore SIGTERM
//
// Serving: GET / → 200; /api/crash → exit 7; /api/redirect → 302;
// other /api/... → JSON echo of the request; POST /{Function} → record the
// payload and headers to $DEVHOST_TEST_RECORD/<Function>.json, append the
// payload as one line to <Function>.calls, and reply
// by function name (BadType: text/plain, Fail: 500, Submit: http output,
// others: {"Outputs":{},"Logs":[...]}).
func runTestHandler(mode string) {
	switch mode {
	case "die":
		fmt.Fprintln(os.Stderr, "test handler: dying on purpose")
		os.Exit(3)
	case "nolisten":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	sigs := make(chan os.Signal, 1)
	if mode == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "test handler:", err)
		os.Exit(2)
	}
	srv := &http.Server{Handler: http.HandlerFunc(testHandler)}
	go func() { _ = srv.Serve(ln) }()
	<-sigs
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	os.Exit(0)
}

type echo struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	// TransferEncoding and ContentLength are as the handler's server read them.
	TransferEncoding []string          `json:"transferEncoding"`
	ContentLength    int64             `json:"contentLength"`
	Body             string            `json:"body"`
	Env              map[string]string `json:"env"`
	Cwd              string            `json:"cwd"`
}

func testHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		_, _ = io.WriteString(w, "ready")
	case r.URL.Path == "/api/crash":
		os.Exit(7)
	case r.URL.Path == "/api/redirect":
		http.Redirect(w, r, "/api/elsewhere", http.StatusFound)
	case strings.HasPrefix(strings.ToLower(r.URL.Path), "/api/"):
		env := map[string]string{}
		for _, k := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT", "FUNCTIONS_CUSTOMHANDLER_WORKER_ID", "FUNCTIONS_APP_ROOT_PATH", "DEVHOST_TEST_EXTRA"} {
			env[k] = os.Getenv(k)
		}
		cwd, _ := os.Getwd()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", "yes")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host,
			Headers: r.Header, TransferEncoding: r.TransferEncoding, ContentLength: r.ContentLength, Body: string(body), Env: env, Cwd: cwd})
	case r.Method == http.MethodPost:
		name := strings.TrimPrefix(r.URL.Path, "/")
		rec, _ := json.Marshal(map[string]any{"headers": r.Header, "body": json.RawMessage(body)})
		if dir := os.Getenv("DEVHOST_TEST_RECORD"); dir != "" {
			tmp := filepath.Join(dir, name+".tmp")
			_ = os.WriteFile(tmp, rec, 0o644)
			_ = os.Rename(tmp, filepath.Join(dir, name+".json"))
			appendCall(filepath.Join(dir, name+".calls"), body)
		}
		switch {
		case strings.HasPrefix(name, "Sb"):
			serveServiceBus(w, name, body)
			return
		}
		switch name {
		case "BadType":
			_, _ = io.WriteString(w, `{"Outputs":{}}`) // sniffed as text/plain
		case "Fail":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "Submit":
			var in struct {
				Data struct {
					Req struct {
						Params map[string]string
					} `json:"req"`
				}
			}
			_ = json.Unmarshal(body, &in)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"Outputs": map[string]any{
					"res": map[string]any{
						"statusCode": "202",
						"headers":    map[string]any{"Content-Type": "application/json", "Location": "/api/submit/" + in.Data.Req.Params["requestId"]},
						"body":       `{"status":"accepted","id":"` + in.Data.Req.Params["requestId"] + `"}`,
					},
					"outMsg": map[string]any{"id": in.Data.Req.Params["requestId"]},
				},
				"Logs": []string{"accepted"},
			})
		default:
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = io.WriteString(w, `{"Outputs":{},"Logs":["ran `+name+`"],"ReturnValue":null}`)
		}
	default:
		http.NotFound(w, r)
	}
}

// appendCall appends one invocation's payload as a line to file.
func appendCall(file string, body []byte) {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		compact.Write(body)
	}
	compact.WriteByte('\n')
	_, _ = f.Write(compact.Bytes())
}
