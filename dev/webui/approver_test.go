package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

// The approver flow to Completed: the own request refused (403), the inbox
// paged (one task a page),
// old → new, the clean document read through its link, approve, the
// requester sees it applied, a late rejection refused (409).
func TestBrowserApproverFlow(t *testing.T) {
	// An older open request, so the inbox has two pages at one task each.
	openRequestByAPI(t)
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

// openRequestByAPI opens a change of marital status on a new profile
// through the API (upload, SMS PIN, PATCH) and waits until it waits for
// approval.
func openRequestByAPI(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, owner, phone := newProfile(t)
	tok, err := sys.Token(owner, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(docsDir, smallPDF))
	if err != nil {
		t.Fatal(err)
	}
	api := uploadclient.API{BaseURL: sys.URL, Token: tok}
	plan, err := api.Start(ctx, id, []uploadclient.FileSpec{{Name: smallPDF, ContentType: "application/pdf", Size: int64(len(doc))}})
	if err != nil {
		t.Fatal(err)
	}
	var cl uploadclient.Client
	if err := cl.Upload(ctx, plan.Files[0], bytes.NewReader(doc), nil); err != nil {
		t.Fatal(err)
	}
	var ch struct{ ChallengeID string }
	callAPI(t, "POST", "/api/v1/mfa/challenge", tok, nil, map[string]string{"profileId": id}, 202, &ch)
	msgs := sys.Outbox.List(phone)
	if len(msgs) == 0 {
		t.Fatal("no SMS in the outbox")
	}
	var v struct{ MfaToken string }
	callAPI(t, "POST", "/api/v1/mfa/verify", tok, nil, map[string]string{"challengeId": ch.ChallengeID, "code": faketwilio.PIN(msgs[len(msgs)-1].Body)}, 200, &v)
	var acc struct{ Request string }
	callAPI(t, "PATCH", "/api/v1/profile/"+id, tok, map[string]string{"X-MFA-Token": v.MfaToken},
		map[string]string{"maritalStatus": "Married", "timestamp": time.Now().UTC().Format(time.RFC3339), "uploadId": plan.UploadID}, 202, &acc)
	for {
		var st struct{ CustomStatus struct{ Stage string } }
		callAPI(t, "GET", acc.Request, tok, nil, nil, 0, &st)
		if st.CustomStatus.Stage == "waitingForApproval" {
			return acc.Request
		}
		select {
		case <-ctx.Done():
			t.Fatalf("request %s: stage %q, not waiting for approval", acc.Request, st.CustomStatus.Stage)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// callAPI sends a JSON call to the development host and decodes the answer
// into out; want 0 accepts any 2xx.
func callAPI(t *testing.T, method, path, tok string, hdr map[string]string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, sys.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
	if (want != 0 && resp.StatusCode != want) || (want == 0 && resp.StatusCode/100 != 2) {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, raw)
	}
}
