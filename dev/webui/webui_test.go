package webui_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/dev/webui"
)

func TestOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"http://127.0.0.1:10000/devstoreaccount1", "http://127.0.0.1:10000", ""},
		{"https://acct.blob.core.windows.net/", "https://acct.blob.core.windows.net", ""},
		{"https://acct.blob.core.windows.net?sv=1", "https://acct.blob.core.windows.net", ""},
		{"http://localhost:7071", "http://localhost:7071", ""},
		{"127.0.0.1:10000", "", "not an absolute URL"},
		{"http:///path", "", "has no host"},
		{"", "", "not an absolute URL"},
	} {
		got, err := webui.Origin(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Origin(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Origin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// The policy allows the site itself and the given blob origin, nothing
// else: no third-party host, no inline script, no framing.
func TestCSPAllowsNoThirdPartyHost(t *testing.T) {
	csp := webui.CSP("http://127.0.0.1:10000")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, "; ") {
		name, value, _ := strings.Cut(d, " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self'",
		"connect-src":     "'self' http://127.0.0.1:10000",
		"frame-ancestors": "'none'",
		"object-src":      "'none'",
		"base-uri":        "'none'",
	}
	for k, v := range want {
		if directives[k] != v {
			t.Errorf("%s = %q, want %q (policy %q)", k, directives[k], v, csp)
		}
	}
	for name, value := range directives {
		for _, src := range strings.Fields(value) {
			if strings.Contains(src, "://") && src != "http://127.0.0.1:10000" {
				t.Errorf("%s allows %s", name, src)
			}
			if src == "'unsafe-inline'" || src == "'unsafe-eval'" || src == "*" {
				t.Errorf("%s allows %s", name, src)
			}
		}
	}
}

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"index.html": "<!doctype html><title>x</title>", "app.js": "export {}", ".secret": "no"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, err := webui.Handler(dir, "http://127.0.0.1:10000")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/missing.js", 404, ""},
		{"GET", "/.secret", 404, ""},
		{"POST", "/", 405, ""},
		{"PUT", "/app.js", 405, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		if tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, rec.Header().Get("Content-Type"), tc.ctype)
		}
		// Every answer carries the policy and the security headers, errors too.
		for k, v := range map[string]string{
			"Content-Security-Policy": webui.CSP("http://127.0.0.1:10000"), "X-Content-Type-Options": "nosniff",
			"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
		} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
	}
}

func TestHandlerNeedsABuiltSite(t *testing.T) {
	if _, err := webui.Handler(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no built site") {
		t.Fatalf("err = %v", err)
	}
}

// The development host of the test system serves the built site at "/"
// with the policy naming Azurite, and still routes the API.
func TestDevHostServesTheSite(t *testing.T) {
	resp, err := http.Get(sys.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	blob, _ := webui.Origin(sys.Azurite.BlobURL)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != webui.CSP(blob) {
		t.Fatalf("GET /: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for path, want := range map[string]int{"/config.json": 200, "/app.js": 200, "/styles.css": 200, "/api/v1/profile/1000": 401} {
		resp, err := http.Get(sys.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	if !sys.WebUI {
		t.Error("System.WebUI is false")
	}
	// Azurite lets the page upload from either name of the site's origin,
	// and from no other origin.
	for origin, allowed := range map[string]bool{
		sys.URL: true, strings.Replace(sys.URL, "127.0.0.1", "localhost", 1): true, "http://evil.example": false,
	} {
		req, _ := http.NewRequest("OPTIONS", sys.Azurite.BlobURL+"/incoming/x/0-a.pdf?comp=block&blockid=AA%3D%3D", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		req.Header.Set("Access-Control-Request-Headers", "content-md5")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == 200 && resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("preflight from %s: %d %q, allowed %v", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), allowed)
		}
	}
}
