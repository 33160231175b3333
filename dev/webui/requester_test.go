package webui_test

import (
	"strings"
	"testing"
)

// The requester flow at 360 px wide: a 25 MiB PDF and a PNG go straight to
// Azurite by the SAS plan, the PIN comes from the dev panel, and the status
// page reaches "waiting for approval" with both documents clean.
func TestBrowserRequesterFlow(t *testing.T) {
	id, owner, _ := newProfile(t)
	r := browse(t, "requester", map[string]any{"profileId": id, "owner": owner, "big": bigPDF, "png": smallPNG, "small": smallPDF})
	// 25 MiB in blocks of 4 MiB is 7 blocks; the PNG fits in one.
	if got := num(t, r, "blocks"); got != 8 {
		t.Errorf("Put Block requests = %v, want 8 (7 of the PDF, 1 of the PNG)", got)
	}
	if got := num(t, r, "uploadBytes"); got < 25<<20-(64<<10) {
		t.Errorf("bytes staged = %v, want the whole 25 MiB PDF and the PNG", got)
	}
	if !strings.HasPrefix(r["requestId"].(string), "req-") {
		t.Errorf("request id = %v", r["requestId"])
	}
}

// A reload in the middle of an upload resumes it from the server's upload
// state: staged blocks are not sent again, a block answered 503 is retried,
// pause and resume work, the document scans clean, and a submit whose
// answer was lost is sent again with the same Idempotency-Key and replayed.
func TestBrowserUploadResumesAfterReload(t *testing.T) {
	id, owner, _ := newProfile(t)
	r := browse(t, "reload", map[string]any{"profileId": id, "owner": owner, "big": bigPDF, "bigBlocks": 7})
	if num(t, r, "stagedBeforeReload") != 3 || num(t, r, "putBlockAfterReload") != 5 || num(t, r, "patches") != 2 {
		t.Errorf("result = %v, want 3 staged before, 4+1 (one retry) Put Block after the reload, 2 PATCHes", r)
	}
}

// An EICAR document (chosen after removing another) fails the request,
// shown as a clear failure naming it.
func TestBrowserInfectedDocumentFails(t *testing.T) {
	id, owner, _ := newProfile(t)
	r := browse(t, "eicar", map[string]any{"profileId": id, "owner": owner, "eicar": eicarPDF, "small": smallPDF})
	if !strings.Contains(r["outcome"].(string), "Custom.EICAR") {
		t.Errorf("outcome = %v, want the signature named", r["outcome"])
	}
}
