package host

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// BlobOptions tune the blob trigger source. Zero values take the defaults.
//
// The Functions host in Azure (Flex Consumption requires it) learns of new
// blobs from Event Grid; with source LogsAndContainerScan it scans the
// container and reads storage logs, with up to 10 minutes of delay on
// Consumption. The development host polls the container instead, for both
// sources: an approximation that finds a blob within PollInterval and, like
// both real sources, delivers each blob version at least once.
type BlobOptions struct {
	PollInterval time.Duration // between container listings; default 1 s (a local choice)
	// MaxAttempts is the number of invocations of one blob version before
	// it is poisoned; default host.json extensions.blobs.poisonBlobThreshold,
	// else 5 (the blob extension's default).
	MaxAttempts int
	// RetryDelay is the wait before the first retry, doubled for each later
	// one up to one minute; default 2 s. A local choice: the real host's
	// timing comes from its internal blob trigger queue.
	RetryDelay time.Duration
	// MaxConcurrent caps invocations in flight over all blob functions;
	// default host.json extensions.blobs.maxDegreeOfParallelism, else 4 (a
	// local choice).
	MaxConcurrent int
	// HostID names this host in receipt paths (the real host uses its host
	// id); default "devhost".
	HostID string

	// beforeDownload, when set (tests), runs before each download.
	beforeDownload func(container, name string)
}

// Constants of the blob extension's storage layout (Microsoft docs, "Azure
// Blob storage trigger": "Blob receipts", "Poison blobs").
const (
	// BlobPoisonName is the poison queue of the blob extension; the
	// development host writes its poison records as blobs in a container of
	// this name in the watched account (the real host's queue is there too).
	BlobPoisonName = "webjobs-blobtrigger-poison"
	// BlobReceiptsContainer holds blob receipts in the host storage account
	// (AzureWebJobsStorage), under blobreceipts/<hostId>/<functionId>/<etag>/<container>/<blob>.
	BlobReceiptsContainer = "azure-webjobs-hosts"

	defaultBlobPollInterval  = time.Second
	defaultBlobMaxAttempts   = 5
	defaultBlobRetryDelay    = 2 * time.Second
	maxBlobRetryDelay        = time.Minute
	defaultBlobMaxConcurrent = 4
	defaultBlobHostID        = "devhost"
)

// PoisonMessage is the record written when a blob version failed every
// attempt: the JSON of the blob extension's poison queue message.
type PoisonMessage struct {
	Type          string // always "BlobTrigger"
	FunctionID    string `json:"FunctionId"` // "Host.Functions.<FunctionName>"
	BlobType      string // "BlockBlob", "PageBlob" or "AppendBlob"
	ContainerName string
	BlobName      string
	ETag          string // as the service reports it, with its quotes
}

// Errors of blobStorage.
var (
	errBlobGone         = errors.New("blob no longer exists")
	errBlobChanged      = errors.New("blob has another version now")
	errContainerMissing = errors.New("container does not exist")
)

// blobItem is one listed blob version.
type blobItem struct {
	Name     string
	ETag     string            // as the service returned it (quoted or not)
	Metadata map[string]string // user metadata
	Props    blobProps
}

// blobProps are the system properties of a blob version that the payload's
// Metadata.Properties carries. Pointers are optional values (null).
type blobProps struct {
	BlobType              string // BlockBlob, PageBlob, AppendBlob
	ContentLength         int64  // bytes
	ContentType           *string
	ContentEncoding       *string
	ContentLanguage       *string
	ContentDisposition    *string
	CacheControl          *string
	ContentMD5            []byte
	LastModified          time.Time
	CreatedOn             time.Time
	CopyCompletedOn       time.Time
	CopyStatus            string // pending, success, aborted, failed ("" = none)
	CopyStatusDescription *string
	CopyID                *string
	CopyProgress          *string
	CopySource            *string
	IncrementalCopy       bool
	DestinationSnapshot   *string
	LeaseDuration         string // infinite, fixed
	LeaseState            string // available, leased, expired, breaking, broken
	LeaseStatus           string // locked, unlocked
	BlobSequenceNumber    int64
	ServerEncrypted       bool
	EncryptionKeySHA256   *string
	EncryptionScope       *string
	AccessTier            *string
	AccessTierInferred    bool
	AccessTierChangedOn   time.Time
	ArchiveStatus         *string
	VersionID             *string
	IsCurrentVersion      bool
	TagCount              int32
	ExpiresOn             time.Time
	Sealed                bool
	RehydratePriority     *string
	LastAccessed          time.Time
	ImmutableUntil        *time.Time
	ImmutabilityMode      string // mutable, unlocked, locked ("" = none)
	LegalHold             bool
}

// blobStorage is what the blob source needs of a storage account: the
// watched account (list, download, poison records) and the host storage
// account (receipts). azureStorage is the Azure SDK implementation.
type blobStorage interface {
	// List returns the committed blobs of container whose names start with
	// prefix, with properties and user metadata; errContainerMissing when
	// the container does not exist.
	List(ctx context.Context, container, prefix string) ([]blobItem, error)
	// Download returns the content of exactly version etag: errBlobGone when
	// the blob does not exist, errBlobChanged when it has another ETag.
	Download(ctx context.Context, container, name, etag string) ([]byte, error)
	// BlobURL is the blob's URL, e.g. http://127.0.0.1:10000/devstoreaccount1/landing/u1/a.pdf.
	BlobURL(container, name string) string
	// Receipt reports whether a receipt exists and its state.
	Receipt(ctx context.Context, k receiptKey) (receiptState, bool, error)
	// PutReceipt writes a receipt (overwriting one of the same key).
	PutReceipt(ctx context.Context, k receiptKey, s receiptState) error
	// PutPoison writes a poison record; writing the same version's record
	// again leaves one record.
	PutPoison(ctx context.Context, m PoisonMessage) error
	// PoisonMessages returns every poison record, oldest first.
	PoisonMessages(ctx context.Context) ([]PoisonMessage, error)
}

// receiptState is what happened to a blob version.
type receiptState string

const (
	receiptDone     receiptState = "completed" // an invocation succeeded
	receiptPoisoned receiptState = "poisoned"  // every attempt failed
)

// receiptKey names one blob version processed by one function.
type receiptKey struct {
	HostID, FunctionID, Container, Blob, ETag string
}

// path is the receipt's blob name, the real host's layout:
// blobreceipts/<hostId>/<functionId>/<etag without quotes>/<container>/<blob>.
func (k receiptKey) path() string {
	return "blobreceipts/" + k.HostID + "/" + k.FunctionID + "/" + bareETag(k.ETag) + "/" + k.Container + "/" + k.Blob
}

// bareETag strips the quotes an ETag may carry.
func bareETag(e string) string { return strings.Trim(e, `"`) }

// quotedETag is the ETag in its HTTP form, with quotes.
func quotedETag(e string) string { return `"` + bareETag(e) + `"` }

// blobFunctionID is the id the real host gives a function in receipts and
// poison messages.
func blobFunctionID(fn string) string { return "Host.Functions." + fn }

// blobSource is the built-in TriggerSource for blobTrigger functions: one
// poller per function, invocations bounded by a shared semaphore.
type blobSource struct {
	watches     []*blobWatch
	interval    time.Duration
	maxAttempts int
	retryDelay  time.Duration
	sem         chan struct{}
	hook        func(container, name string)

	mu       sync.Mutex
	inv      Invoker
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	active   int           // versions being processed
	progress chan struct{} // closed and replaced whenever a poll or a version ends
}

// blobWatch is one blob-triggered function and its in-memory state.
type blobWatch struct {
	fn       *Function
	path     *BlobPath
	id       string // Host.Functions.<Name>
	hostID   string
	store    blobStorage // the watched account
	receipts blobStorage // the host storage account

	mu      sync.Mutex
	busy    map[string]bool           // blob name → a version is being processed
	settled map[string]settledVersion // blob name → last version done or poisoned
	polls   int                       // finished listings
	wake    chan struct{}             // a slot freed: poll again before the interval ends
	warned  bool                      // the missing container was reported
	failing bool                      // listing fails; reported once until it works
}

type settledVersion struct {
	etag  string // bare
	state receiptState
}

var settingRefsRE = regexp.MustCompile(`%([^%]+)%`)

// expandSettings replaces every %Setting% in s from getenv.
func expandSettings(s string, getenv func(string) string) (string, error) {
	var missing []string
	out := settingRefsRE.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[1 : len(ref)-1]
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("app setting %s (referenced in %q) is not set", strings.Join(missing, ", "), s)
	}
	return out, nil
}

// newBlobSource prepares the blob trigger source of app, or returns nil when
// no function has a blob trigger. Each function's connection setting is
// resolved from getenv (see storageConnectionString) and opened with open;
// receipts go to the AzureWebJobsStorage account. Configuration errors are
// *ConfigError values naming the function.json (or host.json) and field.
func newBlobSource(app *App, getenv func(string) string, o BlobOptions, open func(connStr string) (blobStorage, error)) (*blobSource, error) {
	fns := app.FunctionsByTrigger(TypeBlobTrigger)
	if len(fns) == 0 {
		return nil, nil
	}
	hostFile := app.Dir + "/host.json"
	threshold, parallel, err := blobHostSettings(hostFile, app.Host)
	if err != nil {
		return nil, err
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultBlobPollInterval
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = threshold
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = defaultBlobRetryDelay
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = parallel
	}
	if o.HostID == "" {
		o.HostID = defaultBlobHostID
	}
	bs := &blobSource{interval: o.PollInterval, maxAttempts: o.MaxAttempts, retryDelay: o.RetryDelay,
		sem: make(chan struct{}, o.MaxConcurrent), hook: o.beforeDownload, progress: make(chan struct{})}

	opened := map[string]blobStorage{}
	openConn := func(conn string) (blobStorage, error) {
		if s, ok := opened[conn]; ok {
			return s, nil
		}
		s, err := open(conn)
		if err != nil {
			return nil, err
		}
		opened[conn] = s
		return s, nil
	}
	var errs []error
	var receipts blobStorage
	for _, fn := range fns {
		bt := fn.Blob
		path := bt.Path
		if path == nil {
			raw, err := expandSettings(bt.RawPath, getenv)
			if err == nil {
				path, err = ParseBlobPath(raw)
			}
			if err != nil {
				errs = append(errs, &ConfigError{File: fn.File, Field: "bindings[].path", Msg: err.Error()})
				continue
			}
		}
		conn, err := storageConnectionString(bt.Connection, getenv)
		var store blobStorage
		if err == nil {
			store, err = openConn(conn)
		}
		if err != nil {
			errs = append(errs, &ConfigError{File: fn.File, Field: "bindings[].connection", Msg: err.Error()})
			continue
		}
		if receipts == nil {
			hostConn, err := storageConnectionString(DefaultStorageConnection, getenv)
			if err == nil {
				receipts, err = openConn(hostConn)
			}
			if err != nil {
				errs = append(errs, &ConfigError{File: fn.File, Field: "bindings[].type",
					Msg: "blob triggers keep their receipts in the host storage account: " + err.Error()})
				continue
			}
		}
		bs.watches = append(bs.watches, &blobWatch{fn: fn, path: path, id: blobFunctionID(fn.Name), hostID: o.HostID,
			store: store, receipts: receipts, busy: map[string]bool{}, settled: map[string]settledVersion{}, wake: make(chan struct{}, 1)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bs, nil
}

// blobHostSettings reads host.json extensions.blobs.poisonBlobThreshold
// and maxDegreeOfParallelism (positive integers; defaults 5 and 4).
func blobHostSettings(file string, hc HostConfig) (threshold, parallel int, err error) {
	threshold, parallel = defaultBlobMaxAttempts, defaultBlobMaxConcurrent
	raw, ok := hc.Extensions["blobs"]
	if !ok {
		for k, v := range hc.Extensions {
			if strings.EqualFold(k, "blobs") {
				raw, ok = v, true
			}
		}
	}
	if !ok {
		return threshold, parallel, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, 0, &ConfigError{File: file, Field: "extensions.blobs", Msg: "must be an object"}
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"poisonBlobThreshold", &threshold}, {"maxDegreeOfParallelism", &parallel}} {
		v, ok := lookup(m, f.key)
		if !ok || v == nil {
			continue
		}
		n, isNum := v.(float64)
		if !isNum || n != float64(int(n)) || n < 1 || n > 1000 {
			return 0, 0, &ConfigError{File: file, Field: "extensions.blobs." + f.key, Msg: fmt.Sprintf("must be an integer from 1 to 1000, got %v", v)}
		}
		*f.dst = int(n)
	}
	return threshold, parallel, nil
}

func (bs *blobSource) Start(ctx context.Context, inv Invoker) error {
	ctx, cancel := context.WithCancel(ctx)
	bs.mu.Lock()
	bs.inv, bs.cancel = inv, cancel
	bs.mu.Unlock()
	for _, w := range bs.watches {
		bs.wg.Add(1)
		go func() {
			defer bs.wg.Done()
			bs.loop(ctx, w)
		}()
	}
	return nil
}

// Stop ends the pollers and waits for invocations in progress; a version
// cut short is left unsettled and is processed again after a restart.
func (bs *blobSource) Stop() error {
	bs.mu.Lock()
	cancel := bs.cancel
	bs.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	bs.wg.Wait()
	return nil
}

// PoisonMessages returns the poison records of every watched account.
func (bs *blobSource) PoisonMessages(ctx context.Context) ([]PoisonMessage, error) {
	var out []PoisonMessage
	var seen []blobStorage
	for _, w := range bs.watches {
		if slices.Contains(seen, w.store) {
			continue
		}
		seen = append(seen, w.store)
		msgs, err := w.store.PoisonMessages(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// loop lists the function's container at once, then every interval, and
// again whenever one of its invocations ends (a poll that stopped at the
// concurrency limit goes on at once, so a backlog drains at the speed of
// the invocations rather than MaxConcurrent per interval).
func (bs *blobSource) loop(ctx context.Context, w *blobWatch) {
	log := bs.inv.Logger().With("function", w.fn.Name, "trigger", TypeBlobTrigger, "container", w.path.Container)
	t := time.NewTicker(bs.interval)
	defer t.Stop()
	for {
		bs.poll(ctx, w, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// poll lists the container once and starts processing of every matching
// blob version that is neither settled nor being processed, as long as the
// concurrency limit allows; the rest waits for the next poll.
func (bs *blobSource) poll(ctx context.Context, w *blobWatch, log *slog.Logger) {
	defer bs.notify(func() {
		w.mu.Lock()
		w.polls++
		w.mu.Unlock()
	})
	items, err := w.store.List(ctx, w.path.Container, w.path.ListPrefix())
	if ctx.Err() != nil {
		return
	}
	if errors.Is(err, errContainerMissing) {
		w.mu.Lock()
		first := !w.warned
		w.warned = true
		w.mu.Unlock()
		if first {
			log.Warn("blob trigger container does not exist (yet); polling on")
		}
		return
	}
	if err != nil {
		w.mu.Lock()
		first := !w.failing
		w.failing = true
		w.mu.Unlock()
		if first {
			log.Error("blob trigger cannot list its container; polling on", "error", err)
		} else {
			log.Debug("blob trigger cannot list its container", "error", err)
		}
		return
	}
	present := make(map[string]bool, len(items))
	for _, it := range items {
		present[it.Name] = true
	}
	w.mu.Lock()
	if w.failing {
		log.Info("blob trigger lists its container again")
	}
	w.warned, w.failing = false, false
	for name := range w.settled { // forget deleted blobs
		if !present[name] {
			delete(w.settled, name)
		}
	}
	w.mu.Unlock()
	for _, it := range items {
		tokens, ok := w.path.Match(it.Name)
		if !ok {
			continue
		}
		w.mu.Lock()
		s, settled := w.settled[it.Name]
		skip := w.busy[it.Name] || (settled && s.etag == bareETag(it.ETag))
		w.mu.Unlock()
		if skip {
			continue
		}
		select {
		case bs.sem <- struct{}{}:
		default:
			return // at the concurrency limit; the next poll goes on
		}
		w.mu.Lock()
		w.busy[it.Name] = true
		w.mu.Unlock()
		bs.notify(func() { bs.active++ })
		bs.wg.Add(1)
		go func() {
			defer bs.wg.Done()
			bs.process(ctx, w, it, tokens, log.With("blob", it.Name, "etag", bareETag(it.ETag)))
			w.mu.Lock()
			delete(w.busy, it.Name)
			w.mu.Unlock()
			<-bs.sem // the slot is free before the poll it wakes
			select {
			case w.wake <- struct{}{}:
			default: // a poll is already due
			}
			bs.notify(func() { bs.active-- })
		}()
	}
}

// notify applies a change under bs.mu and wakes waitIdle callers.
func (bs *blobSource) notify(change func()) {
	bs.mu.Lock()
	change()
	close(bs.progress)
	bs.progress = make(chan struct{})
	bs.mu.Unlock()
}

// settle records a version's outcome in memory.
func (w *blobWatch) settle(name, etag string, st receiptState) {
	w.mu.Lock()
	w.settled[name] = settledVersion{etag: bareETag(etag), state: st}
	w.mu.Unlock()
}

// process runs one blob version: a receipt from an earlier run settles it;
// otherwise up to maxAttempts invocations, each with freshly downloaded
// content of exactly this version, then a poison record.
func (bs *blobSource) process(ctx context.Context, w *blobWatch, it blobItem, tokens map[string]string, log *slog.Logger) {
	key := receiptKey{HostID: w.hostID, FunctionID: w.id, Container: w.path.Container, Blob: it.Name, ETag: it.ETag}
	if st, ok, err := w.receipts.Receipt(ctx, key); err != nil {
		if ctx.Err() == nil {
			log.Error("blob trigger cannot read its receipt; trying again at the next poll", "error", err)
		}
		return
	} else if ok {
		w.settle(it.Name, it.ETag, st)
		log.Debug("blob version already processed (receipt)", "state", st)
		return
	}
	for attempt := 1; ; attempt++ {
		err := bs.attempt(ctx, w, it, tokens)
		switch {
		case err == nil:
			w.settle(it.Name, it.ETag, receiptDone)
			if err := w.receipts.PutReceipt(ctx, key, receiptDone); err != nil {
				log.Error("blob trigger could not write its receipt; a restarted host will invoke this version again", "error", err)
			}
			return
		case errors.Is(err, errBlobGone), errors.Is(err, errBlobChanged):
			log.Debug("blob version skipped", "reason", err)
			return
		case ctx.Err() != nil:
			return
		}
		if attempt >= bs.maxAttempts {
			break
		}
		delay := bs.retryDelay << (attempt - 1)
		if delay > maxBlobRetryDelay || delay <= 0 {
			delay = maxBlobRetryDelay
		}
		log.Warn("blob trigger invocation failed; retrying", "attempt", attempt, "maxAttempts", bs.maxAttempts, "retryIn", delay.String(), "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	msg := PoisonMessage{Type: "BlobTrigger", FunctionID: w.id, BlobType: it.Props.BlobType,
		ContainerName: w.path.Container, BlobName: it.Name, ETag: quotedETag(it.ETag)}
	if msg.BlobType == "" {
		msg.BlobType = "BlockBlob"
	}
	if err := w.store.PutPoison(ctx, msg); err != nil {
		if ctx.Err() == nil {
			log.Error("blob trigger could not write its poison record; trying the version again at the next poll", "error", err)
		}
		return
	}
	w.settle(it.Name, it.ETag, receiptPoisoned)
	if err := w.receipts.PutReceipt(ctx, key, receiptPoisoned); err != nil {
		log.Error("blob trigger could not write its receipt", "error", err)
	}
	log.Error(fmt.Sprintf("blob trigger gave up after %d attempts: poison record written to %s", bs.maxAttempts, BlobPoisonName),
		"attempts", bs.maxAttempts, "poison", BlobPoisonName)
}

// attempt downloads exactly version it and invokes the function once.
func (bs *blobSource) attempt(ctx context.Context, w *blobWatch, it blobItem, tokens map[string]string) error {
	if bs.hook != nil {
		bs.hook(w.path.Container, it.Name)
	}
	content, err := w.store.Download(ctx, w.path.Container, it.Name, it.ETag)
	if err != nil {
		return err
	}
	data, md := blobPayload(w.fn, it, content, w.store.BlobURL(w.path.Container, it.Name), tokens)
	_, err = bs.inv.Invoke(ctx, w.fn.Name, data, md)
	return err
}

// blobPayload builds Data and Metadata as the Functions host sends them for
// a blob trigger to a custom handler (sys is added by Invoke):
//
//   - Data.<binding name>: the content as one base64 string (dataType
//     binary), or decoded as UTF-8 (a leading byte order mark dropped,
//     invalid bytes replaced by U+FFFD) and JSON-quoted (dataType string).
//   - Metadata.Uri: the blob URL, JSON-quoted.
//   - Metadata.Properties: the storage SDK's BlobProperties as an object,
//     enums as their .NET ordinals, dates as "+00:00" offsets.
//   - Metadata.Metadata: the user metadata object.
//   - one JSON-quoted string per path token, overriding a built-in key of
//     the same name.
//
// Keys ending in "trigger" (BlobTrigger, a token such as {myTrigger}) are
// not sent, as the host drops them. Source: azure-functions-host
// ScriptInvocationContextExtensions and the blob extension's
// BlobTriggerBinding.CreateBindingData.
func blobPayload(fn *Function, it blobItem, content []byte, uri string, tokens map[string]string) (data, md map[string]any) {
	var value string
	if fn.Blob.DataType == BlobDataBinary {
		value = base64.StdEncoding.EncodeToString(content)
	} else {
		text := bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
		value = jsonQuote(strings.ToValidUTF8(string(text), string(utf8.RuneError)))
	}
	data = map[string]any{fn.Trigger.Name: value}
	meta := it.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	md = map[string]any{
		"Uri":        jsonQuote(uri),
		"Properties": blobPropertiesJSON(it, meta),
		"Metadata":   meta,
	}
	for k, v := range tokens {
		for existing := range md { // binding data keys are case-insensitive
			if strings.EqualFold(existing, k) {
				delete(md, existing)
			}
		}
		md[k] = jsonQuote(v)
	}
	for k := range md {
		if strings.HasSuffix(strings.ToLower(k), "trigger") {
			delete(md, k)
		}
	}
	return data, md
}

// jsonQuote is JsonConvert.SerializeObject of a string: the string as a
// JSON string literal (HTML characters are not escaped, as Newtonsoft).
func jsonQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// .NET ordinals of the Azure.Storage.Blobs.Models enums (declaration order).
var (
	dotnetBlobType      = map[string]int{"blockblob": 0, "pageblob": 1, "appendblob": 2}
	dotnetCopyStatus    = map[string]int{"pending": 0, "success": 1, "aborted": 2, "failed": 3}
	dotnetLeaseDuration = map[string]int{"infinite": 0, "fixed": 1}
	dotnetLeaseState    = map[string]int{"available": 0, "leased": 1, "expired": 2, "breaking": 3, "broken": 4}
	dotnetLeaseStatus   = map[string]int{"locked": 0, "unlocked": 1}
	dotnetImmutability  = map[string]int{"mutable": 0, "unlocked": 1, "locked": 2}
)

// ordinal maps an enum value to its .NET ordinal; def for none or unknown
// (a non-nullable .NET enum is 0 when unset).
func ordinal(m map[string]int, v string, def int) int {
	if n, ok := m[strings.ToLower(v)]; ok {
		return n
	}
	return def
}

// dotnetTime is a DateTimeOffset as Newtonsoft writes it inside an object.
func dotnetTime(t time.Time) string { return t.UTC().Format(dotnetOffsetTime) }

func optString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// blobPropertiesJSON is Metadata.Properties: every member of the storage
// SDK's BlobProperties, in the shape the real host sends.
func blobPropertiesJSON(it blobItem, meta map[string]string) map[string]any {
	p := it.Props
	var hash any
	if len(p.ContentMD5) > 0 {
		hash = base64.StdEncoding.EncodeToString(p.ContentMD5)
	}
	immutable := map[string]any{"ExpiresOn": nil, "PolicyMode": nil}
	if p.ImmutableUntil != nil {
		immutable["ExpiresOn"] = dotnetTime(*p.ImmutableUntil)
	}
	if p.ImmutabilityMode != "" {
		immutable["PolicyMode"] = ordinal(dotnetImmutability, p.ImmutabilityMode, 0)
	}
	leaseStatus := ordinal(dotnetLeaseStatus, p.LeaseStatus, 1) // unset = Unlocked
	return map[string]any{
		"LastModified":                         dotnetTime(p.LastModified),
		"CreatedOn":                            dotnetTime(p.CreatedOn),
		"Metadata":                             meta,
		"ObjectReplicationDestinationPolicyId": nil,
		"ObjectReplicationSourceProperties":    nil,
		"BlobType":                             ordinal(dotnetBlobType, p.BlobType, 0),
		"CopyCompletedOn":                      dotnetTime(p.CopyCompletedOn),
		"CopyStatusDescription":                optString(p.CopyStatusDescription),
		"CopyId":                               optString(p.CopyID),
		"CopyProgress":                         optString(p.CopyProgress),
		"CopySource":                           optString(p.CopySource),
		"CopyStatus":                           ordinal(dotnetCopyStatus, p.CopyStatus, 0),
		"BlobCopyStatus":                       nil,
		"IsIncrementalCopy":                    p.IncrementalCopy,
		"DestinationSnapshot":                  optString(p.DestinationSnapshot),
		"LeaseDuration":                        ordinal(dotnetLeaseDuration, p.LeaseDuration, 0),
		"LeaseState":                           ordinal(dotnetLeaseState, p.LeaseState, 0),
		"LeaseStatus":                          leaseStatus,
		"ContentLength":                        p.ContentLength,
		"ContentType":                          optString(p.ContentType),
		"ETag":                                 map[string]any{}, // Azure.ETag has no public members
		"ContentHash":                          hash,
		"ContentEncoding":                      optString(p.ContentEncoding),
		"ContentDisposition":                   optString(p.ContentDisposition),
		"ContentLanguage":                      optString(p.ContentLanguage),
		"CacheControl":                         optString(p.CacheControl),
		"BlobSequenceNumber":                   p.BlobSequenceNumber,
		"AcceptRanges":                         "bytes",
		"BlobCommittedBlockCount":              0,
		"IsServerEncrypted":                    p.ServerEncrypted,
		"EncryptionKeySha256":                  optString(p.EncryptionKeySHA256),
		"EncryptionScope":                      optString(p.EncryptionScope),
		"AccessTier":                           optString(p.AccessTier),
		"AccessTierInferred":                   p.AccessTierInferred,
		"ArchiveStatus":                        optString(p.ArchiveStatus),
		"AccessTierChangedOn":                  dotnetTime(p.AccessTierChangedOn),
		"SmartAccessTier":                      nil,
		"VersionId":                            optString(p.VersionID),
		"IsLatestVersion":                      p.IsCurrentVersion,
		"TagCount":                             p.TagCount,
		"ExpiresOn":                            dotnetTime(p.ExpiresOn),
		"IsSealed":                             p.Sealed,
		"RehydratePriority":                    optString(p.RehydratePriority),
		"LastAccessed":                         dotnetTime(p.LastAccessed),
		"ImmutabilityPolicy":                   immutable,
		"HasLegalHold":                         p.LegalHold,
	}
}

// waitIdle waits until every function has finished at least rounds more
// listings than when it was called and no version is being processed: after
// it, anything the source would do with the current blobs has been done.
func (bs *blobSource) waitIdle(ctx context.Context, rounds int) error {
	return bs.waitPolls(ctx, rounds, true)
}

// waitPolls waits until every function has finished at least rounds more
// listings than when it was called and, if idle, no version is being
// processed.
func (bs *blobSource) waitPolls(ctx context.Context, rounds int, idle bool) error {
	start := make([]int, len(bs.watches))
	for i, w := range bs.watches {
		w.mu.Lock()
		start[i] = w.polls
		w.mu.Unlock()
	}
	for {
		bs.mu.Lock()
		ch, active := bs.progress, bs.active
		bs.mu.Unlock()
		done := active == 0 || !idle
		for i, w := range bs.watches {
			w.mu.Lock()
			done = done && w.polls >= start[i]+rounds
			w.mu.Unlock()
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
