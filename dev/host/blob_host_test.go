package host

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/profileflow/profileflow/dev/stack"
)

// The blob-triggered functions of the end-to-end test; the test handler
// answers 500 to "Fail" and success to the others.
var blobFunctions = map[string]string{
	"ProcessUpload": `{"bindings":[{"name":"blob","type":"blobTrigger","direction":"in","path":"uploads/requests/{requestId}/{fileName}","connection":"UploadStorage","source":"EventGrid","dataType":"binary"}]}`,
	"TextUpload":    `{"bindings":[{"name":"blob","type":"blobTrigger","direction":"in","path":"texts/requests/{requestId}/{fileName}","connection":"UploadStorage"}]}`,
	"Fail":          `{"bindings":[{"name":"blob","type":"blobTrigger","direction":"in","path":"failing/{name}","connection":"UploadStorage","dataType":"binary"}]}`,
}

// startBlobHost starts a development host for blobFunctions on Azurite.
func startBlobHost(t *testing.T, az *stack.Azurite, hook func(container, name string)) *testHost {
	t.Helper()
	h, err := startTestHost(t, "ok", blobFunctions, func(o *Options) {
		o.Env = append(o.Env, "UploadStorage="+az.ConnectionString(), "AzureWebJobsStorage="+az.ConnectionString())
		o.Blob = BlobOptions{PollInterval: 20 * time.Millisecond, RetryDelay: 5 * time.Millisecond, beforeDownload: hook}
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h
}

// blobIdle waits until the host's blob source has polled rounds more times
// with nothing in progress.
func blobIdle(t *testing.T, h *testHost, rounds int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.blobs.waitIdle(ctx, rounds); err != nil {
		t.Fatalf("blob source never became idle: %v", err)
	}
}

// recordedCalls returns the payloads the test handler received for fn.
func recordedCalls(t *testing.T, h *testHost, fn string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(h.recordDir, fn+".calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func metaOf(call map[string]any) map[string]any { return call["Metadata"].(map[string]any) }

func contentOf(t *testing.T, call map[string]any) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(call["Data"].(map[string]any)["blob"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBlobTriggerEndToEnd(t *testing.T) {
	az := stack.AzuriteT(t)
	c := azuriteClient(t, az)
	ctx := context.Background()
	for _, name := range []string{"uploads", "texts", "failing"} {
		if _, err := c.CreateContainer(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
	}
	gone := ""
	h := startBlobHost(t, az, func(container, name string) {
		if name == gone { // deleted between the listing and the download
			_, _ = c.DeleteBlob(ctx, container, name, nil)
		}
	})
	pdf := []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
	meta := map[string]string{"requestid": "abc", "uploadedby": "web-frontend"}
	etag := azuritePut(t, c, "uploads", "requests/abc/attachment1.pdf", pdf, meta)

	t.Run("binary payload as the host sends it", func(t *testing.T) {
		hdr, got := waitRecord(t, h.recordDir, "ProcessUpload")
		want := fixture(t, "blob-trigger.request.json")
		if !reflect.DeepEqual(shape(got), shape(want)) {
			t.Errorf("payload shape\n got %v\nwant %v", shape(got), shape(want))
		}
		md := got["Metadata"].(map[string]any)
		if contentOf(t, got) != string(pdf) {
			t.Error("Data.blob is not the base64 of the blob's bytes")
		}
		for k, want := range map[string]any{
			"Uri":       `"` + az.BlobURL + `/uploads/requests/abc/attachment1.pdf"`,
			"requestId": `"abc"`,
			"fileName":  `"attachment1.pdf"`,
			"Metadata":  map[string]any{"requestid": "abc", "uploadedby": "web-frontend"},
		} {
			if !reflect.DeepEqual(md[k], want) {
				t.Errorf("Metadata.%s = %#v, want %#v", k, md[k], want)
			}
		}
		for k := range md {
			if strings.HasSuffix(strings.ToLower(k), "trigger") {
				t.Errorf("Metadata.%s sent; keys ending in trigger are dropped", k)
			}
		}
		props := md["Properties"].(map[string]any)
		sum := md5.Sum(pdf)
		for k, want := range map[string]any{"ContentLength": float64(len(pdf)), "ContentType": "application/pdf",
			"ContentHash": base64.StdEncoding.EncodeToString(sum[:]), "BlobType": 0.0, "LeaseStatus": 1.0, "LeaseState": 0.0,
			"ETag": map[string]any{}, "Metadata": md["Metadata"], "AcceptRanges": "bytes"} {
			if !reflect.DeepEqual(props[k], want) {
				t.Errorf("Properties.%s = %#v, want %#v", k, props[k], want)
			}
		}
		for _, k := range []string{"LastModified", "CreatedOn"} {
			s, _ := props[k].(string)
			if ts, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "+00:00") || time.Since(ts) > time.Hour {
				t.Errorf("Properties.%s = %q (%v), want a recent \"+00:00\" time", k, s, err)
			}
		}
		sys := md["sys"].(map[string]any)
		if sys["MethodName"] != "ProcessUpload" || !strings.HasSuffix(sys["UtcNow"].(string), "Z") || len(sys["RandGuid"].(string)) != 36 {
			t.Errorf("sys = %v", sys)
		}
		if hdr.Get("Content-Type") != "application/json; charset=utf-8" || hdr.Get("X-Azure-Functions-InvocationId") == "" {
			t.Errorf("headers %v", hdr)
		}
	})

	t.Run("string payload as the host sends it", func(t *testing.T) {
		azuritePut(t, c, "texts", "requests/abc/totals.csv", []byte("id,amount\n1,9.99\n"), nil)
		_, got := waitRecord(t, h.recordDir, "TextUpload")
		want := fixture(t, "blob-trigger.string-datatype.request.json")
		// Both fields are the blob's user metadata; the fixture shows it in
		// Properties only, so the shape is compared with none in either.
		wmd := want["Metadata"].(map[string]any)
		wmd["Properties"].(map[string]any)["Metadata"] = wmd["Metadata"]
		if !reflect.DeepEqual(shape(got), shape(want)) {
			t.Errorf("payload shape\n got %v\nwant %v", shape(got), shape(want))
		}
		if d := got["Data"].(map[string]any)["blob"]; d != want["Data"].(map[string]any)["blob"] {
			t.Errorf("Data.blob = %q, want the JSON-quoted text %q", d, want["Data"].(map[string]any)["blob"])
		}
	})

	t.Run("once per version; a new version once more", func(t *testing.T) {
		blobIdle(t, h, 3)
		if n := len(recordedCalls(t, h, "ProcessUpload")); n != 1 {
			t.Fatalf("%d invocations of one version, want 1", n)
		}
		azuritePut(t, c, "uploads", "requests/abc/attachment1.pdf", []byte("%PDF-1.7 v2"), meta)
		blobIdle(t, h, 3)
		calls := recordedCalls(t, h, "ProcessUpload")
		if len(calls) != 2 || contentOf(t, calls[1]) != "%PDF-1.7 v2" {
			t.Errorf("%d invocations after an overwrite, want 2 (the second with the new content)", len(calls))
		}
	})

	t.Run("a failing handler is tried 5 times, then one poison record", func(t *testing.T) {
		failTag := azuritePut(t, c, "failing", "broken.bin", []byte{1, 2, 3}, nil)
		blobIdle(t, h, 3)
		msgs, err := h.BlobPoisonMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := PoisonMessage{Type: "BlobTrigger", FunctionID: "Host.Functions.Fail", BlobType: "BlockBlob", ContainerName: "failing", BlobName: "broken.bin", ETag: quotedETag(failTag)}
		if !reflect.DeepEqual(msgs, []PoisonMessage{want}) {
			t.Errorf("poison records %+v, want %+v", msgs, want)
		}
		if n := len(recordedCalls(t, h, "Fail")); n != 5 {
			t.Errorf("%d invocations, want 5", n)
		}
		if !strings.Contains(h.logs.String(), "poison record written to webjobs-blobtrigger-poison") {
			t.Error("no log line for the poison record")
		}
		blobIdle(t, h, 3)
		if n := len(recordedCalls(t, h, "Fail")); n != 5 {
			t.Errorf("the poisoned version was invoked again: %d invocations", n)
		}
		azuritePut(t, c, "failing", "broken.bin", []byte{4}, nil)
		blobIdle(t, h, 3)
		msgs, _ = h.BlobPoisonMessages(ctx)
		if n := len(recordedCalls(t, h, "Fail")); n != 10 || len(msgs) != 2 {
			t.Errorf("new version: %d invocations (want 10), %d poison records (want 2)", n, len(msgs))
		}
	})

	t.Run("a blob deleted between listing and download is skipped", func(t *testing.T) {
		gone = "requests/gone/x.pdf"
		azuritePut(t, c, "uploads", gone, []byte("%PDF"), nil)
		blobIdle(t, h, 3)
		for _, call := range recordedCalls(t, h, "ProcessUpload") {
			if metaOf(call)["requestId"] == `"gone"` {
				t.Error("the deleted blob was invoked")
			}
		}
		if _, err := c.ServiceClient().NewContainerClient("uploads").NewBlobClient(gone).GetProperties(ctx, nil); !bloberror.HasCode(err, bloberror.BlobNotFound) {
			t.Fatalf("the hook did not delete the blob: %v", err)
		}
		if msgs, _ := h.BlobPoisonMessages(ctx); len(msgs) != 2 {
			t.Errorf("%d poison records, want still 2", len(msgs))
		}
	})

	t.Run("receipts survive a restart", func(t *testing.T) {
		receipts := listBlobs(t, c, BlobReceiptsContainer)
		wantReceipt := "blobreceipts/devhost/Host.Functions.ProcessUpload/" + bareETag(etag) + "/uploads/requests/abc/attachment1.pdf"
		if !receipts[wantReceipt] {
			t.Errorf("no receipt %s in %v", wantReceipt, receipts)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		h2 := startBlobHost(t, az, nil)
		blobIdle(t, h2, 3)
		for _, fn := range []string{"ProcessUpload", "TextUpload", "Fail"} {
			if n := len(recordedCalls(t, h2, fn)); n != 0 {
				t.Errorf("restarted host invoked %s %d times for versions already done or poisoned", fn, n)
			}
		}
		azuritePut(t, c, "uploads", "requests/def/new.pdf", []byte("%PDF new"), nil)
		blobIdle(t, h2, 3)
		calls := recordedCalls(t, h2, "ProcessUpload")
		if len(calls) != 1 || metaOf(calls[0])["requestId"] != `"def"` {
			t.Errorf("restarted host: %d invocations for a new blob, want 1", len(calls))
		}
	})
}

// listBlobs returns the blob names of a container as a set.
func listBlobs(t *testing.T, c *azblob.Client, cont string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	pager := c.NewListBlobsFlatPager(cont, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			out[*b.Name] = true
		}
	}
	return out
}

func TestBlobTriggerStartRefusesMissingConnection(t *testing.T) {
	_, err := startTestHost(t, "ok", map[string]string{"ProcessUpload": blobFunctions["ProcessUpload"]}, nil)
	if err == nil || !strings.Contains(err.Error(), "ProcessUpload/function.json: bindings[].connection: connection \"UploadStorage\": app setting UploadStorage is not set") {
		t.Errorf("Start = %v", err)
	}
}
