package webui_test

// Browser tests: Debian's Chromium, driven by playwright-core
// (web/test/browser.mjs), walks the web UI served by the development host
// against the whole local system (handler, Azurite, Cosmos DB stand-in,
// clamd, Service Bus peer, fake Twilio), started once by TestMain on free
// loopback ports as the end-to-end tests do. Nothing is skipped: without
// Chromium or the stack the run fails. On failure each scenario leaves a
// screenshot and the browser console in build/test-artifacts/web/<test>/.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/artifact"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/testdocs"
	"github.com/profileflow/profileflow/dev/testlog"
	"github.com/profileflow/profileflow/dev/webui"
	"github.com/profileflow/profileflow/handler/domain"
)

var (
	sys        *local.System
	root       string
	docsDir    string
	handlerLog testlog.Buffer
)

// Chromium is Debian's package (apt-get install chromium); the wrapper
// /usr/bin/chromium is a shell script, so the binary itself is started.
const chromium = "/usr/lib/chromium/chromium"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if root, err = stack.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "webui:", err)
		return 1
	}
	if _, err := os.Stat(chromium); err != nil {
		fmt.Fprintln(os.Stderr, "webui: the browser tests need Chromium (apt-get install chromium):", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "profileflow-web-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "webui:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	app, site := filepath.Join(tmp, "app"), filepath.Join(tmp, "web")
	if err := artifact.Build(root, app, ""); err != nil {
		fmt.Fprintln(os.Stderr, "webui: package:", err)
		return 1
	}
	if err := webui.Build(ctx, root, site); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if docsDir, err = writeDocs(filepath.Join(tmp, "docs")); err != nil {
		fmt.Fprintln(os.Stderr, "webui: documents:", err)
		return 1
	}
	sys, err = local.Start(ctx, local.Options{
		AppDir: app, WebDir: site, LogDir: filepath.Join(tmp, "logs"), HandlerOutput: &handlerLog,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Seed: true, RequireAntivirus: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "webui: local system did not start:", err)
		return 1
	}
	code := m.Run()
	if code != 0 && os.Getenv("E2E_SHOW_HANDLER_LOG") != "" {
		fmt.Fprintln(os.Stderr, handlerLog.String())
	}
	if err := sys.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "webui: stop:", err)
	}
	return code
}

// The documents the scenarios choose in the file picker.
const (
	bigPDF   = "evidence-25mib.pdf" // 25 MiB, 7 blocks of 4 MiB
	smallPNG = "photo.png"
	smallPDF = "certificate.pdf"
	eicarPDF = "eicar.pdf"
)

func writeDocs(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	pdf, err := testdocs.PDF(25 << 20)
	if err != nil {
		return "", err
	}
	png, err := testdocs.PNG(2 << 20)
	if err != nil {
		return "", err
	}
	small, err := testdocs.PDF(300 << 10)
	if err != nil {
		return "", err
	}
	for name, b := range map[string][]byte{bigPDF: pdf, smallPNG: png, smallPDF: small, eicarPDF: eicarDoc()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// eicarDoc is a one-page PDF carrying the EICAR anti-virus test string
// (eicar.org, harmless; the local clamd has a signature for it) in a
// comment of its content stream.
func eicarDoc() []byte {
	return testdocs.SmallPDF(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

var nextProfile atomic.Int32

// newProfile creates a profile of its own for a scenario (field locks make
// a scenario that leaves a request open need one): id 3000+n, owner
// user-<id>, phone +1555030<id>.
func newProfile(t testing.TB) (id, owner, phone string) {
	t.Helper()
	n := 3000 + nextProfile.Add(1)
	id, owner, phone = fmt.Sprint(n), fmt.Sprintf("user-%d", n), fmt.Sprintf("+1555030%d", n)
	_, err := sys.Profiles.CreateProfile(context.Background(), domain.Profile{ID: id, Owner: owner, FirstName: "Ada", LastName: "Lovelace",
		MaritalStatus: "Single", Description: "Browser test profile", Phone: phone, Version: 1, UpdatedAt: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return id, owner, phone
}

// browse runs one scenario of web/test/browser.mjs with params (plus the
// site's URL, the documents folder and the artifacts folder) and returns
// the result object the script printed on its last "RESULT " line. The
// scenario's own checks failing fails the test with the script's output.
func browse(t testing.TB, scenario string, params map[string]any) map[string]any {
	t.Helper()
	artifacts := filepath.Join(root, "build", "test-artifacts", "web", t.Name())
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	p := map[string]any{"url": sys.URL, "docs": docsDir, "artifacts": artifacts, "chromium": chromium}
	for k, v := range params {
		p[k] = v
	}
	raw, _ := json.Marshal(p)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "web", "test", "browser.mjs"), scenario)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PF_PARAMS="+string(raw))
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var result map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			result = nil
			if jerr := json.Unmarshal([]byte(line), &result); jerr != nil {
				t.Fatalf("scenario %s: bad RESULT line: %v", scenario, jerr)
			}
		}
	}
	if err != nil || result == nil {
		t.Fatalf("scenario %s failed (%v); screenshots and console in %s\n%s", scenario, err, artifacts, out.String())
	}
	t.Logf("scenario %s: %s", scenario, strings.TrimSpace(lastLines(out.String(), 6)))
	return result
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func num(t testing.TB, r map[string]any, key string) float64 {
	t.Helper()
	v, ok := r[key].(float64)
	if !ok {
		t.Fatalf("result has no number %q: %v", key, r)
	}
	return v
}
