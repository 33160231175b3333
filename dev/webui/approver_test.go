package webui_test

import (
	"os"
	"path/filepath"
	"testing"
)

// The approver flow to Completed: the own request refused (403), the inbox,
// old → new, the clean document read through its link, approve, the
// requester sees it applied, a late rejection refused (409).
func TestBrowserApproverFlow(t *testing.T) {
	id, owner, _ := newProfile(t)
	fi, err := os.Stat(filepath.Join(docsDir, smallPDF))
	if err != nil {
		t.Fatal(err)
	}
	r := browse(t, "approve", map[string]any{"profileId": id, "owner": owner, "approver": "approver-web-1", "small": smallPDF, "smallSize": fi.Size()})
	if r["requestId"] == "" {
		t.Errorf("result = %v", r)
	}
}

// A send-back answered with a new document and a fresh PIN, then approved.
func TestBrowserSendBackAnswered(t *testing.T) {
	id, owner, _ := newProfile(t)
	r := browse(t, "sendback", map[string]any{"profileId": id, "owner": owner, "approver": "approver-web-2", "small": smallPDF, "png": smallPNG})
	if r["requestId"] == "" {
		t.Errorf("result = %v", r)
	}
}
