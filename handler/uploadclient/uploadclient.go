// Package uploadclient uploads a file to Blob Storage by a profileflow upload
// plan, as a browser does: plain HTTP PUTs to the plan's SAS URL — Put Block
// for each planned block id (several in flight, each with Content-MD5,
// failed blocks retried), skipping blocks the server reports as already
// staged, then Put Block List with the content type. No Azure SDK.
// Tests, benchmarks and tools use it.
package uploadclient

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/profileflow/profileflow/handler/upload"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The wire types are the API's own (handler/upload), so client and server
// cannot drift apart.
type (
	// FileSpec declares one file of a new upload.
	FileSpec = upload.FileSpec
	// Plan is the API's answer to POST …/uploads.
	Plan = upload.Plan
	// FilePlan is how to upload one file.
	FilePlan = upload.FilePlan
	// State is the API's answer to GET …/uploads/{uploadId}.
	State = upload.State
	// FileState is one file's progress; FileState.Resume gives the plan
	// and the blocks to skip.
	FileState = upload.FileState
)

// Client uploads by plans. The zero value works.
type Client struct {
	HTTP        *http.Client  // a shared client keeping 64 idle connections per host when nil
	Concurrency int           // blocks in flight; 4 when 0
	Retries     int           // extra attempts of a failed block or commit; 3 when 0, none when < 0
	Backoff     time.Duration // first retry delay, doubled each time; 200ms when 0
	// Progress, when set, is called after each block with the bytes staged
	// so far (including skipped blocks) and the file size.
	Progress func(done, total int64)
}

// HTTPError is a non-2xx answer from storage or the API.
type HTTPError struct {
	Op         string
	StatusCode int
	Code       string // x-ms-error-code
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s %s", e.Op, e.StatusCode, e.Code, strings.TrimSpace(e.Body))
}

// retryable reports statuses worth another attempt.
func (e *HTTPError) retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// defaultHTTP keeps enough idle connections per host for the blocks in
// flight (http.DefaultTransport keeps 2, which forces new connections).
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: t}
}()

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return 3
	}
	return c.Retries
}

// Upload stages every block of plan from r (size plan.Size) except those in
// skip, then commits them all in order.
func (c *Client) Upload(ctx context.Context, plan FilePlan, r io.ReaderAt, skip map[string]bool) error {
	if err := c.StageBlocks(ctx, plan, r, skip, nil); err != nil {
		return err
	}
	return c.Commit(ctx, plan)
}

// StageBlocks uploads the blocks of plan not in skip; when only is non-nil,
// just the block indexes it lists (tests use it to stop half-way).
func (c *Client) StageBlocks(ctx context.Context, plan FilePlan, r io.ReaderAt, skip map[string]bool, only []int) error {
	if err := checkPlan(plan); err != nil {
		return err
	}
	var todo []int
	var done atomic.Int64
	if only != nil {
		todo = only
	} else {
		for i, id := range plan.BlockIDs {
			if skip[id] {
				done.Add(blockLen(plan, i))
				continue
			}
			todo = append(todo, i)
		}
	}
	n := c.Concurrency
	if n <= 0 {
		n = 4
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan int)
	var wg sync.WaitGroup
	pool := sync.Pool{New: func() any { b := make([]byte, plan.BlockSize); return &b }}
	for range min(n, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				bp := pool.Get().(*[]byte)
				buf := (*bp)[:blockLen(plan, i)]
				if n, err := r.ReadAt(buf, int64(i)*plan.BlockSize); n < len(buf) {
					cancel(fmt.Errorf("uploadclient: read block %d of %q: %d of %d bytes: %v", i, plan.Name, n, len(buf), err))
				} else if err := c.putBlock(ctx, plan, i, buf); err != nil {
					cancel(err)
				} else if c.Progress != nil {
					c.Progress(done.Add(int64(len(buf))), plan.Size)
				}
				pool.Put(bp)
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

func checkPlan(p FilePlan) error {
	if p.UploadURL == "" || p.BlockSize <= 0 || p.Size <= 0 {
		return fmt.Errorf("uploadclient: incomplete plan for %q", p.Name)
	}
	if n := int((p.Size + p.BlockSize - 1) / p.BlockSize); n != len(p.BlockIDs) {
		return fmt.Errorf("uploadclient: plan for %q lists %d block ids for %d blocks", p.Name, len(p.BlockIDs), n)
	}
	return nil
}

func blockLen(p FilePlan, i int) int64 {
	return min(p.BlockSize, p.Size-int64(i)*p.BlockSize)
}

// withQuery appends query parameters to the SAS URL.
func withQuery(sasURL, extra string) string {
	if strings.Contains(sasURL, "?") {
		return sasURL + "&" + extra
	}
	return sasURL + "?" + extra
}

func (c *Client) putBlock(ctx context.Context, plan FilePlan, i int, data []byte) error {
	sum := md5.Sum(data)
	u := withQuery(plan.UploadURL, "comp=block&blockid="+url.QueryEscape(plan.BlockIDs[i]))
	return c.do(ctx, fmt.Sprintf("put block %d of %q", i, plan.Name), func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		return req, nil
	})
}

// Commit puts the block list of plan (all ids, in order) with the plan's
// required headers (x-ms-blob-content-type).
func (c *Client) Commit(ctx context.Context, plan FilePlan) error {
	var body bytes.Buffer
	body.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for _, id := range plan.BlockIDs {
		body.WriteString("<Latest>" + id + "</Latest>") // base64: no XML escaping needed
	}
	body.WriteString("</BlockList>")
	data := body.Bytes()
	u := withQuery(plan.UploadURL, "comp=blocklist")
	return c.do(ctx, fmt.Sprintf("put block list of %q", plan.Name), func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/xml")
		for k, v := range plan.RequiredHeaders {
			req.Header.Set(k, v)
		}
		if req.Header.Get("x-ms-blob-content-type") == "" && plan.ContentType != "" {
			req.Header.Set("x-ms-blob-content-type", plan.ContentType)
		}
		return req, nil
	})
}

// do sends a request built by mk, retrying network errors and retryable
// statuses with exponential backoff. Error texts never include the URL
// (it carries the SAS signature).
func (c *Client) do(ctx context.Context, op string, mk func() (*http.Request, error)) error {
	delay := c.Backoff
	if delay <= 0 {
		delay = 200 * time.Millisecond
	}
	var last error
	for attempt := 0; attempt <= c.retries(); attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return fmt.Errorf("%s: %w (last error: %v)", op, context.Cause(ctx), last)
			}
			delay *= 2
		}
		req, err := mk()
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		resp, err := c.http().Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", op, context.Cause(ctx))
			}
			last = fmt.Errorf("%s: %w", op, redact(err))
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		he := &HTTPError{Op: op, StatusCode: resp.StatusCode, Code: resp.Header.Get("x-ms-error-code"), Body: string(body)}
		if !he.retryable() {
			return he
		}
		last = he
	}
	return last
}

// redact strips the query (the SAS) from a *url.Error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i] + "?…"
		}
		return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
	}
	return err
}

// API calls the profileflow upload endpoints.
type API struct {
	BaseURL string // e.g. http://127.0.0.1:7071
	Token   string // bearer token
	HTTP    *http.Client
}

func (a API) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return http.DefaultClient
}

// Start declares files for profileID and returns the plan.
func (a API) Start(ctx context.Context, profileID string, files []FileSpec) (Plan, error) {
	body, _ := json.Marshal(map[string]any{"files": files})
	var p Plan
	err := a.call(ctx, http.MethodPost, "/api/v1/profile/"+url.PathEscape(profileID)+"/uploads", body, http.StatusCreated, &p)
	return p, err
}

// State reads an upload's progress.
func (a API) State(ctx context.Context, profileID, uploadID string) (State, error) {
	var s State
	err := a.call(ctx, http.MethodGet, "/api/v1/profile/"+url.PathEscape(profileID)+"/uploads/"+url.PathEscape(uploadID), nil, http.StatusOK, &s)
	return s, err
}

func (a API) call(ctx context.Context, method, path string, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &HTTPError{Op: method + " " + path, StatusCode: resp.StatusCode, Body: string(data)}
	}
	return json.Unmarshal(data, out)
}
