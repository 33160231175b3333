package host

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/testlog"
)

// blobCall is one invocation seen by fakeInvoker.
type blobCall struct {
	Function string
	Data     map[string]any
	Metadata map[string]any
}

// blob returns the decoded content of a binary blob trigger's Data.blob.
func (c blobCall) blob(t *testing.T) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(c.Data["blob"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeInvoker is the Invoker a blob source runs against in unit tests.
type fakeInvoker struct {
	app  *App
	log  *slog.Logger
	logs *testlog.Buffer
	// handle decides an invocation's outcome (nil = success); it may block.
	handle func(c blobCall) error

	mu          sync.Mutex
	calls       []blobCall
	inFlight    map[string]int // by blob name token
	maxInFlight int            // over all blobs
	maxSameBlob int
	total       int
}

func (f *fakeInvoker) App() *App            { return f.app }
func (f *fakeInvoker) Logger() *slog.Logger { return f.log }

func (f *fakeInvoker) Invoke(ctx context.Context, function string, data, metadata map[string]any) (*InvokeResult, error) {
	c := blobCall{Function: function, Data: data, Metadata: metadata}
	key, _ := metadata["name"].(string)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.inFlight[key]++
	f.total++
	f.maxSameBlob = max(f.maxSameBlob, f.inFlight[key])
	f.maxInFlight = max(f.maxInFlight, f.total)
	f.mu.Unlock()
	var err error
	if f.handle != nil {
		err = f.handle(c)
	}
	f.mu.Lock()
	f.inFlight[key]--
	f.total--
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &InvokeResult{}, nil
}

func (f *fakeInvoker) callList() []blobCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]blobCall(nil), f.calls...)
}

// blobRig is a blob source over a memStorage with one function per entry.
type blobRig struct {
	t     *testing.T
	mem   *memStorage
	inv   *fakeInvoker
	src   *blobSource
	ctx   context.Context
	start func()
}

const (
	scanFn        = `{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob","path":"landing/{uploadId}/{name}","connection":"UploadStorage","dataType":"binary"}]}`
	goodHostBlobs = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}},
 "extensionBundle":{"id":"Microsoft.Azure.Functions.ExtensionBundle","version":"[4.*, 5.0.0)"}}`
)

var rigEnv = map[string]string{"UploadStorage": "mem-upload", "AzureWebJobsStorage": "mem-host"}

// newBlobRig builds (but does not start) a blob source for functions, with
// fast polls and retries; mem backs every connection string.
func newBlobRig(t *testing.T, hostJSON string, functions map[string]string, o BlobOptions) *blobRig {
	t.Helper()
	app, err := LoadApp(writeApp(t, hostJSON, functions))
	if err != nil {
		t.Fatal(err)
	}
	mem := newMemStorage()
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = time.Millisecond
	}
	src, err := newBlobSource(app, func(k string) string { return rigEnv[k] }, o, func(string) (blobStorage, error) { return mem, nil })
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	r := &blobRig{t: t, mem: mem, src: src, ctx: context.Background(),
		inv: &fakeInvoker{app: app, logs: logs, log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), inFlight: map[string]int{}}}
	r.start = func() {
		src := r.src
		if err := src.Start(r.ctx, r.inv); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = src.Stop() })
	}
	mem.createContainer("landing")
	return r
}

// idle waits until the source has polled rounds more times with nothing in
// progress.
func (r *blobRig) idle(rounds int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	if err := r.src.waitIdle(ctx, rounds); err != nil {
		r.t.Fatalf("blob source never became idle: %v", err)
	}
}

func (r *blobRig) polls(rounds int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	if err := r.src.waitPolls(ctx, rounds, false); err != nil {
		r.t.Fatalf("blob source stopped polling: %v", err)
	}
}

func TestBlobPayloadEncoding(t *testing.T) {
	fn := func(path, dataType string) *Function {
		f, err := ParseFunction("Scan", "Scan/function.json", []byte(`{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob","path":"`+path+`","dataType":"`+dataType+`"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ct := "application/pdf"
	modified := time.Date(2024, 6, 15, 12, 34, 50, 0, time.UTC)
	item := blobItem{Name: "u-1/a.pdf", ETag: `"0x8DC1"`, Metadata: map[string]string{"uploadedby": "web"},
		Props: blobProps{BlobType: "BlockBlob", ContentLength: 5, ContentType: &ct, ContentMD5: []byte{0, 1, 2, 3},
			LastModified: modified, CreatedOn: modified, LeaseState: "available", LeaseStatus: "unlocked"}}

	t.Run("binary: base64 data, quoted strings, objects", func(t *testing.T) {
		data, md := blobPayload(fn("landing/{uploadId}/{fileName}", "binary"), item, []byte{0xff, 0, 'a'}, "http://h/acct/landing/u-1/a.pdf", map[string]string{"uploadId": "u-1", "fileName": "a.pdf"})
		if !reflect.DeepEqual(data, map[string]any{"blob": "/wBh"}) {
			t.Errorf("Data = %v", data)
		}
		keys := make([]string, 0, len(md))
		for k := range md {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != "Metadata,Properties,Uri,fileName,uploadId" {
			t.Errorf("Metadata keys %v", keys)
		}
		if md["Uri"] != `"http://h/acct/landing/u-1/a.pdf"` || md["uploadId"] != `"u-1"` || md["fileName"] != `"a.pdf"` {
			t.Errorf("quoted strings: Uri %v uploadId %v fileName %v", md["Uri"], md["uploadId"], md["fileName"])
		}
		raw, _ := json.Marshal(md["Properties"])
		var props map[string]any
		_ = json.Unmarshal(raw, &props)
		for k, want := range map[string]any{"ContentLength": 5.0, "ContentType": "application/pdf", "ContentHash": "AAECAw==",
			"LastModified": "2024-06-15T12:34:50+00:00", "CreatedOn": "2024-06-15T12:34:50+00:00", "ExpiresOn": "0001-01-01T00:00:00+00:00",
			"BlobType": 0.0, "LeaseState": 0.0, "LeaseStatus": 1.0, "CopyStatus": 0.0, "ContentEncoding": nil, "AcceptRanges": "bytes"} {
			if !reflect.DeepEqual(props[k], want) {
				t.Errorf("Properties.%s = %#v, want %#v", k, props[k], want)
			}
		}
		if !reflect.DeepEqual(props["ETag"], map[string]any{}) || !reflect.DeepEqual(props["Metadata"], map[string]any{"uploadedby": "web"}) {
			t.Errorf("Properties.ETag %v Metadata %v", props["ETag"], props["Metadata"])
		}
		if !reflect.DeepEqual(md["Metadata"], map[string]string{"uploadedby": "web"}) {
			t.Errorf("Metadata.Metadata = %v", md["Metadata"])
		}
	})

	t.Run("string: UTF-8 text JSON-quoted, BOM dropped, invalid bytes replaced", func(t *testing.T) {
		data, _ := blobPayload(fn("texts/{name}", "string"), item, []byte("\xef\xbb\xbfid,<a>\n1,\xff\""), "u", nil)
		if got := data["blob"]; got != `"id,<a>\n1,`+"\uFFFD"+`\""` {
			t.Errorf("Data.blob = %q", got)
		}
	})

	t.Run("tokens override built-ins; keys ending in trigger are dropped", func(t *testing.T) {
		_, md := blobPayload(fn("landing/{uri}/{myTrigger}", "binary"), item, nil, "http://h/x", map[string]string{"uri": "tok", "myTrigger": "t"})
		if _, ok := md["Uri"]; ok || md["uri"] != `"tok"` {
			t.Errorf("Uri %v uri %v: the token must replace the built-in", md["Uri"], md["uri"])
		}
		if _, ok := md["myTrigger"]; ok {
			t.Error("a key ending in trigger was sent")
		}
	})
}

func TestBlobSourceInvokesOncePerVersion(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{})
	etag := r.mem.put("landing", "u-1/a.pdf", []byte("v1"), map[string]string{"k": "v"}, "application/pdf")
	r.mem.put("landing", "toplevel.pdf", []byte("no match"), nil, "application/pdf") // no {uploadId}/ part
	r.mem.put("other", "u-1/a.pdf", []byte("other container"), nil, "application/pdf")
	r.start()
	r.idle(3)
	calls := r.inv.callList()
	if len(calls) != 1 || calls[0].Function != "Scan" || calls[0].blob(t) != "v1" || calls[0].Metadata["uploadId"] != `"u-1"` || calls[0].Metadata["name"] != `"a.pdf"` {
		t.Fatalf("calls %+v", calls)
	}
	k := receiptKey{HostID: "devhost", FunctionID: "Host.Functions.Scan", Container: "landing", Blob: "u-1/a.pdf", ETag: etag}
	if st, ok, _ := r.mem.Receipt(r.ctx, k); !ok || st != receiptDone {
		t.Errorf("receipt %q ok=%v", st, ok)
	}

	r.mem.put("landing", "u-1/a.pdf", []byte("v2"), nil, "application/pdf")
	r.idle(3)
	calls = r.inv.callList()
	if len(calls) != 2 || calls[1].blob(t) != "v2" {
		t.Fatalf("after overwrite: %d calls (want 2, the second with v2)", len(calls))
	}
}

func TestBlobSourceRetriesThenPoisons(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{})
	r.inv.handle = func(blobCall) error { return &InvocationError{Status: 500, Reason: "boom"} }
	etag := r.mem.put("landing", "u-1/bad.pdf", []byte("bad"), nil, "application/pdf")
	r.start()
	r.idle(3)
	if n := len(r.inv.callList()); n != 5 {
		t.Fatalf("%d invocations, want 5 (the blob extension's default poisonBlobThreshold)", n)
	}
	msgs, _ := r.mem.PoisonMessages(r.ctx)
	want := PoisonMessage{Type: "BlobTrigger", FunctionID: "Host.Functions.Scan", BlobType: "BlockBlob", ContainerName: "landing", BlobName: "u-1/bad.pdf", ETag: etag}
	if !reflect.DeepEqual(msgs, []PoisonMessage{want}) {
		t.Errorf("poison %+v, want %+v", msgs, want)
	}
	if !strings.Contains(r.inv.logs.String(), "blob trigger gave up after 5 attempts: poison record written to webjobs-blobtrigger-poison") {
		t.Errorf("no clear poison log line:\n%s", r.inv.logs)
	}
	r.idle(3)
	if n := len(r.inv.callList()); n != 5 {
		t.Errorf("a poisoned version was invoked again (%d calls)", n)
	}

	r.mem.put("landing", "u-1/bad.pdf", []byte("bad again"), nil, "application/pdf") // a new version is tried afresh
	r.idle(3)
	msgs, _ = r.mem.PoisonMessages(r.ctx)
	if n := len(r.inv.callList()); n != 10 || len(msgs) != 2 {
		t.Errorf("new version: %d calls (want 10), %d poison records (want 2)", n, len(msgs))
	}
}

func TestBlobSourceRetrySucceeds(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{})
	var mu sync.Mutex
	n := 0
	r.inv.handle = func(blobCall) error {
		mu.Lock()
		defer mu.Unlock()
		if n++; n <= 2 {
			return errors.New("transient")
		}
		return nil
	}
	r.mem.put("landing", "u-1/a.pdf", []byte("x"), nil, "application/pdf")
	r.start()
	r.idle(3)
	msgs, _ := r.mem.PoisonMessages(r.ctx)
	if got := len(r.inv.callList()); got != 3 || len(msgs) != 0 {
		t.Errorf("%d calls (want 3), %d poison records (want 0)", got, len(msgs))
	}
}

func TestBlobSourceThresholdFromHostJSON(t *testing.T) {
	host := strings.Replace(goodHostBlobs, `"extensionBundle"`, `"extensions":{"blobs":{"poisonBlobThreshold":2}},"extensionBundle"`, 1)
	r := newBlobRig(t, host, map[string]string{"Scan": scanFn}, BlobOptions{})
	r.inv.handle = func(blobCall) error { return errors.New("boom") }
	r.mem.put("landing", "u-1/a.pdf", []byte("x"), nil, "application/pdf")
	r.start()
	r.idle(3)
	if got := len(r.inv.callList()); got != 2 {
		t.Errorf("%d calls, want host.json's poisonBlobThreshold 2", got)
	}
}

func TestBlobSourceSkipsBlobDeletedBeforeDownload(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{})
	r.mem.onDownload = func(cont, name string) { r.mem.remove(cont, name) }
	r.mem.put("landing", "u-1/gone.pdf", []byte("x"), nil, "application/pdf")
	r.start()
	r.idle(3)
	msgs, _ := r.mem.PoisonMessages(r.ctx)
	if n := len(r.inv.callList()); n != 0 || len(msgs) != 0 || len(r.mem.receipts) != 0 {
		t.Errorf("deleted blob: %d calls, %d poison records, %d receipts (want none)", n, len(msgs), len(r.mem.receipts))
	}
	if strings.Contains(r.inv.logs.String(), `"level":"ERROR"`) || strings.Contains(r.inv.logs.String(), `"level":"WARN"`) {
		t.Errorf("a deleted blob is skipped silently, logs:\n%s", r.inv.logs)
	}
}

func TestBlobSourceChangedBeforeDownloadInvokesNewVersionOnce(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{})
	var once sync.Once
	r.mem.onDownload = func(cont, name string) {
		once.Do(func() { r.mem.put(cont, name, []byte("v2"), nil, "application/pdf") })
	}
	r.mem.put("landing", "u-1/a.pdf", []byte("v1"), nil, "application/pdf")
	r.start()
	r.idle(3)
	calls := r.inv.callList()
	if len(calls) != 1 || calls[0].blob(t) != "v2" {
		t.Errorf("calls %d (want exactly one, with v2)", len(calls))
	}
}

func TestBlobSourceReceiptsSurviveRestart(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{})
	r.mem.put("landing", "u-1/a.pdf", []byte("x"), nil, "application/pdf")
	r.start()
	r.idle(2)
	if err := r.src.Stop(); err != nil {
		t.Fatal(err)
	}
	// A new source on the same storage (a restarted host) finds the receipt.
	again, err := newBlobSource(r.inv.app, func(k string) string { return rigEnv[k] }, BlobOptions{PollInterval: 5 * time.Millisecond}, func(string) (blobStorage, error) { return r.mem, nil })
	if err != nil {
		t.Fatal(err)
	}
	r.src = again
	r.start()
	r.idle(3)
	if n := len(r.inv.callList()); n != 1 {
		t.Errorf("%d calls over two runs, want 1", n)
	}
}

func TestBlobSourceNeverRunsOneBlobTwiceAtOnce(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{MaxConcurrent: 4})
	release := make(chan struct{})
	started := make(chan string, 10)
	r.inv.handle = func(c blobCall) error {
		started <- c.blob(t)
		<-release
		return nil
	}
	r.mem.put("landing", "u-1/a.pdf", []byte("v1"), nil, "application/pdf")
	r.start()
	if got := <-started; got != "v1" {
		t.Fatalf("first invocation with %q", got)
	}
	r.mem.put("landing", "u-1/a.pdf", []byte("v2"), nil, "application/pdf") // new version while v1 runs
	r.polls(3)
	select {
	case got := <-started:
		t.Fatalf("invoked with %q while the same blob was still being processed", got)
	default:
	}
	close(release)
	r.idle(3)
	calls := r.inv.callList()
	if len(calls) != 2 || calls[1].blob(t) != "v2" || r.inv.maxSameBlob != 1 {
		t.Errorf("%d calls, second %q, max concurrent per blob %d", len(calls), calls[len(calls)-1].blob(t), r.inv.maxSameBlob)
	}
}

func TestBlobSourceConcurrencyLimit(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{MaxConcurrent: 2})
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	r.inv.handle = func(blobCall) error {
		started <- struct{}{}
		<-release
		return nil
	}
	for _, name := range []string{"a", "b", "c", "d"} {
		r.mem.put("landing", "u-1/"+name, []byte(name), nil, "application/pdf")
	}
	r.start()
	<-started
	<-started
	r.polls(3)
	if n := len(r.inv.callList()); n != 2 {
		t.Fatalf("%d invocations in flight, want the limit 2", n)
	}
	close(release)
	r.idle(3)
	if n := len(r.inv.callList()); n != 4 || r.inv.maxInFlight != 2 {
		t.Errorf("%d calls (want 4), at most %d at once (want 2)", n, r.inv.maxInFlight)
	}
}

// A backlog larger than the concurrency limit drains as fast as the
// invocations end, not one limit's worth per poll interval: with one slot
// and an interval of an hour, every blob is processed after the first poll.
func TestBlobSourceBacklogDrainsWithoutWaitingForTheInterval(t *testing.T) {
	r := newBlobRig(t, goodHostBlobs, map[string]string{"Scan": scanFn}, BlobOptions{MaxConcurrent: 1, PollInterval: time.Hour})
	names := []string{"a", "b", "c", "d", "e"}
	for _, name := range names {
		r.mem.put("landing", "u-1/"+name, []byte(name), nil, "application/pdf")
	}
	done := make(chan struct{}, len(names))
	r.inv.handle = func(blobCall) error {
		done <- struct{}{}
		return nil
	}
	r.start()
	for i := range names {
		select {
		case <-done:
		case <-time.After(30 * time.Second): // the interval is an hour: only a wake-up gets here
			t.Fatalf("%d of %d blobs processed; the rest wait for the next poll", i, len(names))
		}
	}
	if n := len(r.inv.callList()); n != len(names) || r.inv.maxInFlight != 1 {
		t.Errorf("%d calls (want %d), at most %d at once (want 1)", n, len(names), r.inv.maxInFlight)
	}
}

func TestNewBlobSourceConfigErrors(t *testing.T) {
	fnJSON := func(extra string) string {
		return `{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob","dataType":"binary"` + extra + `}]}`
	}
	for _, tc := range []struct {
		name, host, fn string
		env            map[string]string
		file, field    string // file "host.json" or "function.json"
		want           string
	}{
		{"connection setting missing", "", fnJSON(`,"path":"landing/{n}","connection":"UploadStorage"`), map[string]string{"AzureWebJobsStorage": "x"},
			"function.json", "bindings[].connection", `connection "UploadStorage": app setting UploadStorage is not set`},
		{"identity-based connection", "", fnJSON(`,"path":"landing/{n}","connection":"UploadStorage"`), map[string]string{"UploadStorage__serviceUri": "https://a.blob.core.windows.net", "AzureWebJobsStorage": "x"},
			"function.json", "bindings[].connection", `the identity-based setting UploadStorage__serviceUri works in Azure only; locally set UploadStorage to a storage connection string`},
		{"blobServiceUri form", "", fnJSON(`,"path":"landing/{n}","connection":"UploadStorage"`), map[string]string{"UploadStorage__blobServiceUri": "https://a.blob.core.windows.net", "AzureWebJobsStorage": "x"},
			"function.json", "bindings[].connection", `UploadStorage__blobServiceUri works in Azure only`},
		{"host storage missing", "", fnJSON(`,"path":"landing/{n}","connection":"UploadStorage"`), map[string]string{"UploadStorage": "UseDevelopmentStorage=true"},
			"function.json", "bindings[].type", `receipts in the host storage account: connection "AzureWebJobsStorage": app setting AzureWebJobsStorage is not set`},
		{"malformed connection string", "", fnJSON(`,"path":"landing/{n}"`), map[string]string{"AzureWebJobsStorage": "not a connection string"},
			"function.json", "bindings[].connection", `the connection string is malformed`},
		{"path setting missing", "", fnJSON(`,"path":"%LANDING%/{n}"`), map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
			"function.json", "bindings[].path", `app setting LANDING (referenced in "%LANDING%/{n}") is not set`},
		{"path setting gives a bad path", "", fnJSON(`,"path":"%LANDING%/{n}"`), map[string]string{"LANDING": "Bad_Name", "AzureWebJobsStorage": "UseDevelopmentStorage=true"},
			"function.json", "bindings[].path", `invalid container name "Bad_Name"`},
		{"bad poisonBlobThreshold", strings.Replace(goodHostBlobs, `"extensionBundle"`, `"extensions":{"blobs":{"poisonBlobThreshold":0}},"extensionBundle"`, 1), fnJSON(`,"path":"landing/{n}"`), map[string]string{"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
			"host.json", "extensions.blobs.poisonBlobThreshold", `must be an integer from 1 to 1000, got 0`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.host
			if host == "" {
				host = goodHostBlobs
			}
			dir := writeApp(t, host, map[string]string{"Scan": tc.fn})
			app, err := LoadApp(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = newBlobSource(app, func(k string) string { return tc.env[k] }, BlobOptions{}, openAzureStorage)
			file := dir + "/host.json"
			if tc.file == "function.json" {
				file = dir + "/Scan/function.json"
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != file || ce.Field != tc.field || !strings.Contains(ce.Msg, tc.want) {
				t.Errorf("err = %v\nwant %s: %s: …%s", err, file, tc.field, tc.want)
			}
		})
	}
}

func TestStorageConnectionString(t *testing.T) {
	env := map[string]string{"Dev": "UseDevelopmentStorage=true", "AzureWebJobsLegacy": "AccountName=a;AccountKey=k"}
	get := func(k string) string { return env[k] }
	if got, err := storageConnectionString("Dev", get); err != nil || !strings.Contains(got, "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;") {
		t.Errorf("UseDevelopmentStorage: %q, %v", got, err)
	}
	if got, err := storageConnectionString("Legacy", get); err != nil || got != env["AzureWebJobsLegacy"] {
		t.Errorf("AzureWebJobs<name> fallback: %q, %v", got, err)
	}
}
