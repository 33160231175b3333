package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/profileflow/profileflow/handler/uploadclient"
)

type doc struct {
	name, contentType string
	data              []byte
}

// uploadDocs uploads docs through the SAS plan as a browser would and
// returns the upload id and the plan.
func uploadDocs(t *testing.T, tok, profileID string, docs ...doc) uploadclient.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api := uploadclient.API{BaseURL: sys.URL, Token: tok}
	var specs []uploadclient.FileSpec
	for _, d := range docs {
		specs = append(specs, uploadclient.FileSpec{Name: d.name, ContentType: d.contentType, Size: int64(len(d.data))})
	}
	plan, err := api.Start(ctx, profileID, specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		var cl uploadclient.Client
		if err := cl.Upload(ctx, plan.Files[i], bytes.NewReader(d.data), nil); err != nil {
			t.Fatal(err)
		}
	}
	return plan
}

// submit PATCHes a last-name change naming uploadID and returns the
// status path; it fails the test unless the answer is 202.
func submit(t *testing.T, tok, profileID, phone, uploadID string) string {
	t.Helper()
	mfa := mfaToken(t, tok, profileID, phone)
	resp, body := call(t, "PATCH", "/api/v1/profile/"+profileID, tok,
		fmt.Sprintf(`{"lastName":"Byron","timestamp":%q,"uploadId":%q}`, time.Now().UTC().Format(time.RFC3339), uploadID), map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 202 {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
	}
	return body["request"].(string)
}

// scanned polls the status until every attachment has a verdict (the
// development host polls the landing container every second).
func scanned(t *testing.T, tok, path string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, st := call(t, "GET", path, tok, nil, nil)
		cs, _ := st["customStatus"].(map[string]any)
		atts, _ := cs["attachments"].([]any)
		done := len(atts) > 0
		for _, a := range atts {
			done = done && a.(map[string]any)["verdict"] != "pending"
		}
		if done {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("attachments not scanned after 90 s: %v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func attachmentsOf(st map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	cs, _ := st["customStatus"].(map[string]any)
	atts, _ := cs["attachments"].([]any)
	for _, a := range atts {
		m := a.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

func historyTypes(st map[string]any) []string {
	var out []string
	h, _ := st["history"].([]any)
	for _, e := range h {
		out = append(out, e.(map[string]any)["type"].(string))
	}
	return out
}

// noRedirect reads the attachment endpoint without following its redirect.
func attachmentLink(t *testing.T, tok, path, name string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", sys.URL+path+"/attachments/"+name, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, resp.Header.Get("Location")
}

func fetch(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET read link: %d %s", resp.StatusCode, b)
	}
	return b
}

func blobExists(t *testing.T, container, name string) bool {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(sys.Azurite.AccountName, sys.Azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := azblob.NewClientWithSharedKeyCredential(sys.Azurite.BlobURL+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.ServiceClient().NewContainerClient(container).NewBlobClient(name).GetProperties(context.Background(), nil)
	return err == nil
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// A clean pair: upload through the SAS → accepted → the blob trigger scans
// both → verdicts in the status → the request moves on to approval, and the
// owner's read links serve exactly the bytes uploaded. The upload cannot be
// named by another PATCH.
func TestScanCleanPairMovesToApproval(t *testing.T) {
	id, owner, phone := newProfile(t)
	tok := token(t, owner)
	pdf, img := pdfDoc(""), pngDoc()
	plan := uploadDocs(t, tok, id, doc{"deed.pdf", "application/pdf", pdf}, doc{"photo.png", "image/png", img})
	path := submit(t, tok, id, phone, plan.UploadID)

	st := scanned(t, tok, path)
	atts := attachmentsOf(st)
	for name, data := range map[string][]byte{"deed.pdf": pdf, "photo.png": img} {
		a := atts[name]
		if a["verdict"] != "clean" || a["sha256"] != sha(data) || !strings.HasPrefix(fmt.Sprint(a["engine"]), "ClamAV") || a["link"] == nil {
			t.Errorf("%s: %v", name, a)
		}
	}
	// The verdicts are saved first, then the workflow moves on.
	cs := st["customStatus"].(map[string]any)
	for deadline := time.Now().Add(10 * time.Second); cs["stage"] == "waitingForScan" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		_, st = call(t, "GET", path, tok, nil, nil)
		cs = st["customStatus"].(map[string]any)
	}
	if st["runtimeStatus"] != "Running" || cs["stage"] == "waitingForScan" || len(cs["openTasks"].([]any)) == 0 {
		t.Fatalf("after clean scans: %v %v", st["runtimeStatus"], cs)
	}
	for name, data := range map[string][]byte{"deed.pdf": pdf, "photo.png": img} {
		var resp *http.Response
		var loc string
		for range 50 { // the move to the clean container follows the verdict
			if resp, loc = attachmentLink(t, tok, path, name); resp.StatusCode != http.StatusConflict {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/clean/") || !strings.Contains(loc, "sp=r") {
			t.Fatalf("%s link: %d %q", name, resp.StatusCode, loc)
		}
		if got := fetch(t, loc); !bytes.Equal(got, data) {
			t.Errorf("%s: read link served %d bytes, not the uploaded ones", name, len(got))
		}
	}
	// Another user may not read it.
	other, _, _ := newProfile(t)
	if resp, _ := attachmentLink(t, token(t, "user-"+other), path, "deed.pdf"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another user's read: %d", resp.StatusCode)
	}
	// The upload serves one request.
	mfa := mfaToken(t, tok, id, phone)
	resp, body := call(t, "PATCH", "/api/v1/profile/"+id, tok,
		fmt.Sprintf(`{"maritalStatus":"Married","timestamp":%q,"uploadId":%q}`, time.Now().UTC().Format(time.RFC3339), plan.UploadID), map[string]string{"X-MFA-Token": mfa})
	if resp.StatusCode != 409 || !strings.Contains(fmt.Sprint(body["error"]), "already submitted") {
		t.Errorf("second PATCH naming the upload: %d %v", resp.StatusCode, body)
	}
}

// EICAR inside a compressed PDF stream: infected, the request fails naming
// it, the document sits in quarantine and no read link is ever given.
func TestScanEICARFailsTheRequest(t *testing.T) {
	id, owner, phone := newProfile(t)
	tok := token(t, owner)
	plan := uploadDocs(t, tok, id, doc{"eicar.pdf", "application/pdf", pdfDoc(eicar)})
	path := submit(t, tok, id, phone, plan.UploadID)

	st := scanned(t, tok, path)
	a := attachmentsOf(st)["eicar.pdf"]
	if a["verdict"] != "infected" || !strings.Contains(fmt.Sprint(a["signature"]), "EICAR") || a["link"] != nil {
		t.Fatalf("attachment: %v", a)
	}
	for deadline := time.Now().Add(10 * time.Second); st["runtimeStatus"] != "Failed" && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		_, st = call(t, "GET", path, tok, nil, nil)
	}
	out, _ := st["output"].(map[string]any)
	if st["runtimeStatus"] != "Failed" || !strings.Contains(fmt.Sprint(out["reason"]), "eicar.pdf: infected") {
		t.Fatalf("request: %v %v", st["runtimeStatus"], out)
	}
	blob := plan.UploadID + "/0-eicar.pdf"
	for deadline := time.Now().Add(10 * time.Second); !blobExists(t, "quarantine", blob) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if !blobExists(t, "quarantine", blob) || blobExists(t, "clean", blob) || blobExists(t, "landing", blob) {
		t.Errorf("quarantine %v clean %v landing %v", blobExists(t, "quarantine", blob), blobExists(t, "clean", blob), blobExists(t, "landing", blob))
	}
	if resp, loc := attachmentLink(t, tok, path, "eicar.pdf"); resp.StatusCode != http.StatusGone || loc != "" {
		t.Errorf("read link of an infected document: %d %q", resp.StatusCode, loc)
	}
}

// A document rewritten through its SAS after the PATCH was accepted: what
// is scanned and shown is the accepted version; the rewrite is recorded
// when the scan sees it.
func TestRewriteAfterAcceptanceChangesNothing(t *testing.T) {
	id, owner, phone := newProfile(t)
	tok := token(t, owner)
	original := pdfDoc("")
	plan := uploadDocs(t, tok, id, doc{"deed.pdf", "application/pdf", original})
	path := submit(t, tok, id, phone, plan.UploadID)
	rewrittenAt := time.Now()
	req, _ := http.NewRequest("PUT", plan.Files[0].UploadURL, bytes.NewReader(pdfDoc(eicar)))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("rewrite through the SAS: %d", resp.StatusCode)
	}

	st := scanned(t, tok, path)
	a := attachmentsOf(st)["deed.pdf"]
	if a["verdict"] != "clean" || a["sha256"] != sha(original) {
		t.Fatalf("scanned %v; want the accepted bytes, clean", a)
	}
	scannedAt, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(a["scannedAt"]))
	rewritten := strings.Contains(strings.Join(historyTypes(st), ","), "AttachmentRewritten")
	if !rewritten && scannedAt.After(rewrittenAt.Add(time.Second)) {
		t.Errorf("scanned at %s, after the rewrite at %s, without recording it: %v", scannedAt, rewrittenAt, historyTypes(st))
	}
	var loc string
	for range 50 {
		if resp, loc = attachmentLink(t, tok, path, "deed.pdf"); resp.StatusCode == http.StatusFound {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := fetch(t, loc); !bytes.Equal(got, original) {
		t.Errorf("read link serves %d bytes, not the accepted version", len(got))
	}
}

// A SAS cannot cap the size: 26 MiB committed through a SAS planned for
// 1 MiB. The upload state says it is not ready, and the PATCH is 400 with the
// same reason; nothing is pinned or scanned.
func TestOversizeCommitThroughSASIsRefused(t *testing.T) {
	id, owner, phone := newProfile(t)
	tok := token(t, owner)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api := uploadclient.API{BaseURL: sys.URL, Token: tok}
	plan, err := api.Start(ctx, id, []uploadclient.FileSpec{{Name: "deed.pdf", ContentType: "application/pdf", Size: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 26<<20)
	rand.Read(big)
	req, _ := http.NewRequest("PUT", plan.Files[0].UploadURL, bytes.NewReader(big))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("Put Blob of 26 MiB through the SAS: %d", resp.StatusCode)
	}
	st, err := api.State(ctx, id, plan.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	_, raw := call(t, "GET", "/api/v1/profile/"+id+"/uploads/"+plan.UploadID, tok, nil, nil)
	f := raw["files"].([]any)[0].(map[string]any)
	if !st.Files[0].Committed || f["ready"] != false || !strings.Contains(fmt.Sprint(f["problem"]), "more than the 1048576 declared") {
		t.Fatalf("state: %v", f)
	}
	mfa := mfaToken(t, tok, id, phone)
	r, body := call(t, "PATCH", "/api/v1/profile/"+id, tok,
		fmt.Sprintf(`{"lastName":"Byron","timestamp":%q,"uploadId":%q}`, time.Now().UTC().Format(time.RFC3339), plan.UploadID), map[string]string{"X-MFA-Token": mfa})
	if r.StatusCode != 400 || body["error"] != f["problem"] {
		t.Fatalf("PATCH: %d %v; want 400 %q", r.StatusCode, body, f["problem"])
	}
	if blobExists(t, "landing", plan.UploadID+"/0-deed.pdf") {
		t.Error("refused document was pinned")
	}
}

// A blob in the landing container that no upload declared (only the
// handler writes there): the scan moves it to quarantine and nothing reads it.
func TestStrayLandingBlobIsQuarantined(t *testing.T) {
	cred, err := azblob.NewSharedKeyCredential(sys.Azurite.AccountName, sys.Azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := azblob.NewClientWithSharedKeyCredential(sys.Azurite.BlobURL+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := "0123456789abcdef0123456789abcdef/0-stray.pdf"
	if _, err := cl.UploadBuffer(context.Background(), "landing", name, pdfDoc(""), nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !blobExists(t, "quarantine", name) {
		if time.Now().After(deadline) {
			t.Fatal("stray blob not quarantined within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if blobExists(t, "landing", name) || blobExists(t, "clean", name) {
		t.Error("stray blob still in landing or copied to clean")
	}
}
