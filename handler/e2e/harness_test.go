// Package e2e holds end-to-end tests: HTTP client → development host →
// packaged handler → real stand-ins (Azurite, Cosmos DB server, fake Twilio).
// TestMain packages the app and starts the whole local system once on free
// loopback ports; every test uses it. Nothing is skipped: if the system
// cannot start, the run fails.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/artifact"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/testlog"
)

var sys *local.System

// handlerLog holds the handler's output (stdout and stderr) of the run.
var handlerLog testlog.Buffer

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := stack.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "profileflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	app := filepath.Join(tmp, "app")
	if err := artifact.Build(root, app, ""); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: package:", err)
		return 1
	}
	sys, err = startSystem(app, filepath.Join(tmp, "logs"), &handlerLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: local system did not start:", err)
		return 1
	}
	code := m.Run()
	if code != 0 && os.Getenv("E2E_SHOW_HANDLER_LOG") != "" {
		fmt.Fprintln(os.Stderr, handlerLog.String())
	}
	if err := sys.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stop:", err)
	}
	return code
}

// startSystem starts the local system the tests run against: the packaged
// app in appDir under the development host, with Azurite, the Cosmos DB
// stand-in, clamd and the fake Twilio API on free ports; stand-in logs in
// logDir, the handler's output to handlerLog.
func startSystem(appDir, logDir string, handlerLog io.Writer) (*local.System, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return local.Start(ctx, local.Options{
		AppDir:        appDir,
		LogDir:        logDir,
		HandlerOutput: handlerLog,
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Seed:          true,
		// The scan tests need the real antivirus.
		RequireAntivirus: true,
		// The local settings allow many SMS an hour for walking the flow by
		// hand; these tests check the production limits. Workflow timers
		// are shortened (PT24H lasts 8.64 s) so reminders and escalations
		// fire during the run.
		Settings: map[string]string{"MFA_MAX_SENDS_PER_HOUR": "5", "MFA_MAX_FAILED_CHECKS": "10", "WORKFLOW_TIMER_SCALE": "0.0001"},
	})
}

// token mints a dev token through the development host's /dev/token, as a
// developer or the UI would.
func token(t testing.TB, sub string, roles ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"sub": sub, "roles": roles, "groups": []string{}})
	resp, err := http.Post(sys.URL+"/dev/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tr) != nil || tr.TokenType != "Bearer" || tr.ExpiresIn <= 0 {
		t.Fatalf("/dev/token: %d %+v", resp.StatusCode, tr)
	}
	return tr.AccessToken
}

// call sends a request to the development host and decodes a JSON answer.
func call(t testing.TB, method, path, bearer string, body any, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	return callOn(t, sys.URL, method, path, bearer, body, hdr)
}

// callOn is call to the development host at base.
func callOn(t testing.TB, base, method, path, bearer string, body any, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = bytes.NewReader([]byte(b))
		case []byte:
			rd = bytes.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = bytes.NewReader(j)
		}
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"_raw": string(raw)}
	}
	return resp, m
}

// ownSystem starts a local system of its own with opts (AppDir, LogDir and
// HandlerOutput filled in; the development host's log discarded unless
// opts.Logger is set) for a test that stops, kills or loads parts of it,
// and points the helpers (which use sys) at it until the test ends. On
// failure the end of the handler's output is logged.
func ownSystem(t *testing.T, opts local.Options) *local.System {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out testlog.Buffer
	opts.AppDir, opts.LogDir, opts.HandlerOutput = sys.Host.App().Dir, t.TempDir(), &out
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	s, err := local.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	shared := sys
	sys = s
	t.Cleanup(func() {
		sys = shared
		if t.Failed() {
			o := out.String()
			t.Logf("handler output (end):\n%s", o[max(0, len(o)-6000):])
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
