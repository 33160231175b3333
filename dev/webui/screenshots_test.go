//go:build screenshots

package webui_test

import (
	"path/filepath"
	"testing"
)

// TestREADMEScreenshots writes the README's screenshots of both flows to
// docs/web (go test -tags screenshots -run TestREADMEScreenshots ./dev/webui).
func TestREADMEScreenshots(t *testing.T) {
	id, owner, _ := newProfile(t)
	browse(t, "tour", map[string]any{"profileId": id, "owner": owner, "approver": "approver-1", "big": bigPDF, "png": smallPNG,
		"out": filepath.Join(root, "docs", "web")})
}
