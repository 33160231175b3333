// Package webui builds the static web UI (web/, bundled by esbuild through
// web/build.mjs) and serves a built copy from the development host, the way
// Azure Storage's static website serves it in Azure. Nothing here is
// deployed: Azure serves the same files from its $web container.
package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Build bundles the site of <root>/web into outDir with Node.js
// (node web/build.mjs --out outDir); it needs `npm ci` (esbuild in
// node_modules). The error carries the build's output when it fails.
func Build(ctx context.Context, root, outDir string) error {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "web", "build.mjs"), "--out", outDir)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("webui: build: %w\n%s", err, out)
	}
	return nil
}

// CSP is the Content-Security-Policy the development host sends with every
// file of the site: scripts, styles, fonts and images from the site itself
// only (img also data: for the inline favicon), fetches to the site (the API
// and the dev endpoints) and to connect (the blob endpoints uploads go to),
// no plugins, no framing, no base or form target elsewhere. No third-party
// host is allowed. connect entries are origins such as http://127.0.0.1:10000.
func CSP(connect ...string) string {
	c := append([]string{"'self'"}, connect...)
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data: blob:",
		"font-src 'self'",
		"connect-src " + strings.Join(c, " "),
		"manifest-src 'self'",
		"base-uri 'none'",
		"form-action 'self'",
		"frame-ancestors 'none'",
		"object-src 'none'",
	}, "; ")
}

// Origin returns the scheme://host[:port] of a URL such as Azurite's blob
// service URL http://127.0.0.1:10000/devstoreaccount1; an error when it has
// no scheme or host.
func Origin(rawURL string) (string, error) {
	i := strings.Index(rawURL, "://")
	if i <= 0 {
		return "", fmt.Errorf("webui: %q is not an absolute URL", rawURL)
	}
	rest := rawURL[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		rest = rest[:j]
	}
	if rest == "" {
		return "", fmt.Errorf("webui: %q has no host", rawURL)
	}
	return rawURL[:i+3] + rest, nil
}

// Handler serves the built site in dir (GET and HEAD only, 405 otherwise;
// "/" is index.html; unknown files 404) with the CSP of connect and the
// same security headers the API sends (nosniff, no framing, no referrer).
// Files are revalidated on every load (Cache-Control: no-cache), so a
// rebuilt site shows at once. It fails when dir has no index.html.
func Handler(dir string, connect ...string) (http.Handler, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		return nil, fmt.Errorf("webui: %s holds no built site (make web): %w", dir, err)
	}
	csp := CSP(connect...)
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// Dot files and folders (e.g. an editor's swap file) are not part
		// of the site.
		for _, seg := range strings.Split(path.Clean(r.URL.Path), "/") {
			if strings.HasPrefix(seg, ".") {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	}), nil
}

// ErrNoSite is returned by DefaultDir when no built site exists.
var ErrNoSite = errors.New("webui: no built site")

// DefaultDir is <root>/build/web, where `make web` puts the site, or
// ErrNoSite when it holds no index.html.
func DefaultDir(root string) (string, error) {
	d := filepath.Join(root, "build", "web")
	if _, err := os.Stat(filepath.Join(d, "index.html")); err != nil {
		return "", ErrNoSite
	}
	return d, nil
}
