package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/uploadclient"
)

// A name change with evidence uploaded through the SAS plan: upload → PATCH
// with uploadId → 202 and the status waiting for the scan.
func TestUploadThenPatchLastNameWaitsForScan(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok := token(t, "user-1008")
	noise := make([]byte, 5<<20) // its hex compresses to about 5 MiB: the PDF spans two blocks of 4 MiB
	rand.Read(noise)
	data := pdfDoc(hex.EncodeToString(noise))
	api := uploadclient.API{BaseURL: sys.URL, Token: tok}
	plan, err := api.Start(ctx, "1008", []uploadclient.FileSpec{{Name: "marriage certificate.pdf", ContentType: "application/pdf", Size: int64(len(data))}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 1 || plan.Files[0].BlockCount != 2 || len(plan.Files[0].BlockIDs) != 2 {
		t.Fatalf("plan = %+v", plan)
	}
	var cl uploadclient.Client
	if err := cl.Upload(ctx, plan.Files[0], bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	st, err := api.State(ctx, "1008", plan.UploadID)
	if err != nil || !st.Files[0].Committed || st.Files[0].Size != int64(len(data)) {
		t.Fatalf("state after upload: %+v %v", st, err)
	}

	mfa := mfaToken(t, tok, "1008", "+15550101008")
	ts := time.Now().UTC().Format(time.RFC3339)
	resp, body := call(t, "PATCH", "/api/v1/profile/1008", tok,
		fmt.Sprintf(`{"lastName":"Byron","timestamp":%q,"uploadId":%q}`, ts, plan.UploadID), map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 202 || body["Status"] != "InProgress" || resp.Header.Get("Location") != body["request"] {
		t.Fatalf("PATCH: %d %v %v", resp.StatusCode, body, resp.Header)
	}
	resp, status := call(t, "GET", body["request"].(string), tok, nil, nil)
	cs, _ := status["customStatus"].(map[string]any)
	// The scan starts within a second of acceptance: the request waits for
	// it or, once it is clean, for approval.
	if resp.StatusCode != 202 || resp.Header.Get("Retry-After") == "" || status["runtimeStatus"] != "Running" || (cs["stage"] != "waitingForScan" && len(cs["openTasks"].([]any)) == 0) {
		t.Fatalf("status: %d %v", resp.StatusCode, status)
	}
	atts, _ := cs["attachments"].([]any)
	if v := atts[0].(map[string]any)["verdict"]; len(atts) != 1 || (v != "pending" && v != "clean") || atts[0].(map[string]any)["name"] != "marriage certificate.pdf" {
		t.Errorf("attachments = %v", cs["attachments"])
	}
	// The profile is unchanged until approval.
	_, prof := call(t, "GET", "/api/v1/profile/1008", tok, nil, nil)
	if prof["lastName"] == "Byron" {
		t.Error("name changed before scan and approval")
	}
	// The same field cannot get a second open request.
	mfa2 := mfaToken(t, tok, "1008", "+15550101008")
	resp, body = call(t, "PATCH", "/api/v1/profile/1008", tok,
		fmt.Sprintf(`{"lastName":"King","timestamp":%q,"uploadId":%q}`, ts, plan.UploadID), map[string]string{"X-MFA-Token": mfa2})
	if resp.StatusCode != 409 {
		t.Errorf("second change of lastName: %d %v", resp.StatusCode, body)
	}
}

// The source design's multipart request, streamed by the handler to Azurite.
func TestMultipartPatchThroughDevHost(t *testing.T) {
	tok := token(t, "user-1009")
	mfa := mfaToken(t, tok, "1009", "+15550101009")
	ts := time.Now().UTC().Format(time.RFC3339)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormField("json")
	fmt.Fprintf(w, `{"maritalStatus":"Married","timestamp":%q}`, ts)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="attachment1"; filename="certificate.pdf"`)
	h.Set("Content-Type", "application/pdf")
	fw, _ := mw.CreatePart(h)
	pdf := pdfDoc(strings.Repeat("certified copy ", 200_000))
	fw.Write(pdf)
	mw.Close()

	req, _ := http.NewRequest("PATCH", sys.URL+"/api/v1/profile/1009", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-MFA-Token", mfa)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("Location") == "" {
		t.Fatalf("multipart PATCH: %d", resp.StatusCode)
	}
	r2, status := call(t, "GET", resp.Header.Get("Location"), tok, nil, nil)
	cs, _ := status["customStatus"].(map[string]any)
	atts, _ := cs["attachments"].([]any)
	if r2.StatusCode != 202 || len(atts) != 1 || atts[0].(map[string]any)["size"] != float64(len(pdf)) {
		t.Fatalf("status: %d %v", r2.StatusCode, status)
	}
}
