package blobstore_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/upload"
)

// putThroughSAS writes data to a SAS URL with one Put Blob, as
// @azure/storage-blob's uploadData and azblob's UploadBuffer do for small
// files (no blocks, no content type unless sent).
func putThroughSAS(t testing.TB, sasURL string, data []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, sasURL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	req.Header.Set("x-ms-version", "2021-12-02")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The submitted bytes are pinned: a server-side copy of exactly the version
// accepted, which a later write through the SAS does not change; reads and
// moves are conditional on that version; read links are read-only.
func TestPinnedDocuments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.store.EnsureContainers(ctx, "incoming"); err != nil {
		t.Fatal(err)
	}
	svc, err := upload.NewService(memory.NewUploadStore(), e.store, e.store, upload.Config{Accounts: []string{e.az.BlobURL}, Container: "incoming", BlockSize: blockSize4, TTL: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	original := []byte("%PDF-1.4 original evidence")
	plan, err := svc.Create(ctx, alice, profileID, []upload.FileSpec{{Name: "deed.pdf", ContentType: "application/pdf", Size: int64(len(original)) + 10}})
	if err != nil {
		t.Fatal(err)
	}
	if code := putThroughSAS(t, plan.Files[0].UploadURL, original); code != http.StatusCreated {
		t.Fatalf("Put Blob through the SAS: %d", code)
	}

	// One Put Blob, shorter than declared, no content type: accepted, and
	// the state says so with the same check.
	files, err := svc.CommittedFiles(ctx, alice, profileID, plan.UploadID)
	if err != nil || len(files) != 1 || files[0].Size != int64(len(original)) || files[0].ETag == "" {
		t.Fatalf("CommittedFiles after a single Put Blob = %+v, %v", files, err)
	}
	if st, err := svc.State(ctx, alice, profileID, plan.UploadID); err != nil || !st.Files[0].Committed || !st.Files[0].Ready {
		t.Fatalf("state after a single Put Blob = %+v, %v", st, err)
	}
	src := upload.BlobRef{Account: e.az.BlobURL, Container: "incoming", Name: files[0].BlobName}

	pinnedETag, err := e.store.Pin(ctx, src, files[0].ETag, landing)
	if err != nil || pinnedETag == "" {
		t.Fatalf("Pin = %q, %v", pinnedETag, err)
	}
	pinned := upload.BlobRef{Account: e.az.BlobURL, Container: landing, Name: files[0].BlobName}

	// The client rewrites its upload after acceptance.
	if code := putThroughSAS(t, plan.Files[0].UploadURL, []byte("<html>swapped</html>")); code != http.StatusCreated {
		t.Fatalf("rewrite through the SAS: %d", code)
	}
	if v, err := e.store.Version(ctx, src); err != nil || v == files[0].ETag || v == "" {
		t.Fatalf("source version after rewrite = %q, %v; want a new one", v, err)
	}
	// Pinning the accepted version again now fails: it no longer exists there.
	if _, err := e.store.Pin(ctx, src, files[0].ETag, landing); !domain.Is(err, domain.KindConflict) {
		t.Fatalf("Pin of a rewritten source: %v, want conflict", err)
	}
	// The pinned copy still holds exactly the accepted bytes.
	got, etag, err := e.store.ReadVersion(ctx, pinned, pinnedETag, 1<<20)
	if err != nil || !bytes.Equal(got, original) || etag != pinnedETag {
		t.Fatalf("ReadVersion = %q, %q, %v; want the accepted bytes", got, etag, err)
	}
	for _, tc := range []struct {
		name string
		etag string
		max  int64
		kind domain.Kind
	}{
		{"another version", `"0x1"`, 1 << 20, domain.KindStale},
		{"over the limit, nothing read", pinnedETag, 5, domain.KindTooLarge},
	} {
		if _, _, err := e.store.ReadVersion(ctx, pinned, tc.etag, tc.max); !domain.Is(err, tc.kind) {
			t.Errorf("ReadVersion %s: %v, want %v", tc.name, err, tc.kind)
		}
	}
	if _, _, err := e.store.ReadVersion(ctx, upload.BlobRef{Account: e.az.BlobURL, Container: landing, Name: "nope/0-x.pdf"}, "", 10); !domain.Is(err, domain.KindNotFound) {
		t.Errorf("ReadVersion of a missing blob: %v", err)
	}

	// A move is conditional on the version and can be run again.
	if err := e.store.Move(ctx, pinned, `"0x1"`, "clean"); !domain.Is(err, domain.KindStale) {
		t.Fatalf("Move of another version: %v, want stale", err)
	}
	for i := range 2 {
		if err := e.store.Move(ctx, pinned, pinnedETag, "clean"); err != nil {
			t.Fatalf("Move run %d: %v", i+1, err)
		}
	}
	if v, _ := e.store.Version(ctx, pinned); v != "" {
		t.Error("landing copy still there after the move")
	}
	clean := upload.BlobRef{Account: e.az.BlobURL, Container: "clean", Name: files[0].BlobName}

	// The read link reads exactly the accepted bytes and nothing else.
	link, err := e.store.SignRead(ctx, clean, time.Hour, "application/pdf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(link, "sp=r&") || strings.Contains(link, "sp=rw") {
		t.Errorf("read link permissions: %s", redact(link))
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, original) || resp.Header.Get("Content-Type") != "application/pdf" || resp.Header.Get("Content-Disposition") != "attachment" {
		t.Fatalf("GET read link: %d %q", resp.StatusCode, body)
	}
	if code := putThroughSAS(t, link, []byte("overwrite")); code != http.StatusForbidden {
		t.Errorf("write through the read link: %d, want 403", code)
	}
	if _, err := e.store.SignRead(ctx, upload.BlobRef{Account: e.az.BlobURL, Container: "clean", Name: "nope/0-x.pdf"}, time.Minute, ""); !domain.Is(err, domain.KindNotFound) {
		t.Errorf("SignRead of a missing blob: %v", err)
	}
}

func redact(u string) string {
	if i := strings.Index(u, "sig="); i >= 0 {
		return u[:i] + "sig=…"
	}
	return u
}
