package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

func TestPutAttachmentStreamsToLanding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	w := e.store.Attachments(landing)
	data := randomFile(9<<20+17, 7) // three 4 MiB blocks
	sum := sha256.Sum256(data)
	a, err := w.PutAttachment(ctx, "1000", "scope1", 0, "deed.pdf", "application/pdf", bytes.NewReader(data), 25<<20)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != int64(len(data)) || a.SHA256 != hex.EncodeToString(sum[:]) || a.Source != landing || a.SourceETag == "" || a.UploadID != "scope1" || a.Verdict != request.VerdictPending || a.Account == "" {
		t.Fatalf("attachment = %+v", a)
	}
	if got := e.download(t, a.Blob); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, not byte-identical", len(got))
	}
	props, err := e.raw.ServiceClient().NewContainerClient(landing).NewBlobClient(a.Blob).GetProperties(ctx, nil)
	if err != nil || props.ContentType == nil || *props.ContentType != "application/pdf" {
		t.Fatalf("content type: %v %v", props.ContentType, err)
	}

	// Discard removes it again (a call that was not accepted).
	w.Discard(ctx, []request.Attachment{a})
	if _, err := e.raw.ServiceClient().NewContainerClient(landing).NewBlobClient(a.Blob).GetProperties(ctx, nil); err == nil {
		t.Error("discarded attachment still exists")
	}

	// Over the limit: refused, and nothing is left behind.
	_, err = w.PutAttachment(ctx, "1000", "scope2", 0, "big.pdf", "application/pdf", bytes.NewReader(randomFile(5<<20+1, 8)), 5<<20)
	if !domain.Is(err, domain.KindTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	if _, err := e.raw.ServiceClient().NewContainerClient(landing).NewBlobClient("scope2/0-big.pdf").GetProperties(ctx, nil); err == nil {
		t.Error("oversize attachment left a blob behind")
	}
	// Exactly at the limit is fine; empty is refused.
	if _, err := w.PutAttachment(ctx, "1000", "scope3", 0, "exact.pdf", "application/pdf", bytes.NewReader(randomFile(1<<20, 9)), 1<<20); err != nil {
		t.Fatalf("exact size: %v", err)
	}
	if _, err := w.PutAttachment(ctx, "1000", "scope4", 0, "empty.pdf", "application/pdf", bytes.NewReader(nil), 1<<20); !domain.Is(err, domain.KindInvalid) {
		t.Fatalf("empty: %v", err)
	}
}
