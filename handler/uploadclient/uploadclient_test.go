package uploadclient

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeBlob is a tiny Put Block / Put Block List server checking Content-MD5.
type fakeBlob struct {
	mu          sync.Mutex
	staged      map[string][]byte
	committed   []byte
	contentType string
	puts        map[string]int // per block id
	failFirst   map[string]int // answer 500 this many times first
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
	status      int // when set, every request gets it
}

func newFake() *fakeBlob {
	return &fakeBlob{staged: map[string][]byte{}, puts: map[string]int{}, failFirst: map[string]int{}}
}

func (f *fakeBlob) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.status != 0 {
		w.Header().Set("x-ms-error-code", "AuthenticationFailed")
		w.WriteHeader(f.status)
		return
	}
	if r.Method != http.MethodPut || r.URL.Query().Get("sig") != "s3cret" {
		http.Error(w, "bad request", 400)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Query().Get("comp") {
	case "block":
		id := r.URL.Query().Get("blockid")
		f.puts[id]++
		if f.failFirst[id] > 0 {
			f.failFirst[id]--
			w.WriteHeader(500)
			return
		}
		sum := md5.Sum(body)
		if r.Header.Get("Content-MD5") != base64.StdEncoding.EncodeToString(sum[:]) {
			w.Header().Set("x-ms-error-code", "Md5Mismatch")
			w.WriteHeader(400)
			return
		}
		f.staged[id] = body
		w.WriteHeader(201)
	case "blocklist":
		var bl struct {
			Latest []string `xml:"Latest"`
		}
		if err := xml.Unmarshal(body, &bl); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var out []byte
		for _, id := range bl.Latest {
			b, ok := f.staged[id]
			if !ok {
				w.Header().Set("x-ms-error-code", "InvalidBlockList")
				w.WriteHeader(400)
				return
			}
			out = append(out, b...)
		}
		f.committed, f.contentType = out, r.Header.Get("x-ms-blob-content-type")
		w.WriteHeader(201)
	default:
		http.Error(w, "bad comp", 400)
	}
}

func planFor(srv string, size, blockSize int64) FilePlan {
	n := int((size + blockSize - 1) / blockSize)
	p := FilePlan{Name: "a.pdf", ContentType: "application/pdf", Size: size, UploadURL: srv + "/landing/x/0-a.pdf?sv=1&sig=s3cret",
		BlockSize: blockSize, BlockCount: n, RequiredHeaders: map[string]string{"x-ms-blob-content-type": "application/pdf"}}
	for i := range n {
		// Same length, and with '+' and '/' to prove query escaping.
		p.BlockIDs = append(p.BlockIDs, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("+/?&%05d", i))))
	}
	return p
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestUploadRetryResumeAndCommit(t *testing.T) {
	const bs = 1000
	data := randomBytes(10*bs + 123)
	tests := []struct {
		name       string
		skipFirst  int // blocks staged beforehand (resume)
		failFirst  map[int]int
		wantPuts   int
		concurrent int
	}{
		{name: "all blocks", wantPuts: 11, concurrent: 4},
		{name: "retry failed block", failFirst: map[int]int{3: 2, 7: 1}, wantPuts: 14, concurrent: 4},
		{name: "resume skips staged", skipFirst: 6, wantPuts: 5, concurrent: 4},
		{name: "serial", wantPuts: 11, concurrent: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			srv := httptest.NewServer(f)
			defer srv.Close()
			plan := planFor(srv.URL, int64(len(data)), bs)
			c := &Client{Concurrency: tt.concurrent, Backoff: 1}
			skip := map[string]bool{}
			if tt.skipFirst > 0 {
				only := make([]int, tt.skipFirst)
				for i := range only {
					only[i] = i
					skip[plan.BlockIDs[i]] = true
				}
				if err := c.StageBlocks(context.Background(), plan, bytes.NewReader(data), nil, only); err != nil {
					t.Fatal(err)
				}
				f.puts = map[string]int{}
			}
			for i, n := range tt.failFirst {
				f.failFirst[plan.BlockIDs[i]] = n
			}
			var progress atomic.Int64
			c.Progress = func(done, total int64) {
				if total != int64(len(data)) {
					t.Errorf("progress total %d", total)
				}
				progress.Store(max(progress.Load(), done))
			}
			if err := c.Upload(context.Background(), plan, bytes.NewReader(data), skip); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.committed, data) {
				t.Fatalf("committed %d bytes differ from the %d sent", len(f.committed), len(data))
			}
			if f.contentType != "application/pdf" {
				t.Errorf("content type %q", f.contentType)
			}
			puts := 0
			for _, n := range f.puts {
				puts += n
			}
			if puts != tt.wantPuts {
				t.Errorf("Put Block calls = %d, want %d", puts, tt.wantPuts)
			}
			if got := f.maxInFlight.Load(); got > int32(tt.concurrent) {
				t.Errorf("max in flight %d > %d", got, tt.concurrent)
			}
			if progress.Load() != int64(len(data)) {
				t.Errorf("progress ended at %d", progress.Load())
			}
		})
	}
}

func TestUploadPermanentErrorsStop(t *testing.T) {
	f := newFake()
	f.status = http.StatusForbidden
	srv := httptest.NewServer(f)
	defer srv.Close()
	plan := planFor(srv.URL, 5000, 1000)
	err := (&Client{Backoff: 1}).Upload(context.Background(), plan, bytes.NewReader(randomBytes(5000)), nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 403 || he.Code != "AuthenticationFailed" {
		t.Fatalf("err = %v, want 403 AuthenticationFailed", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error leaks the signature: %v", err)
	}
}

func TestRetriesExhausted(t *testing.T) {
	f := newFake()
	srv := httptest.NewServer(f)
	defer srv.Close()
	plan := planFor(srv.URL, 2000, 1000)
	f.failFirst[plan.BlockIDs[1]] = 100
	err := (&Client{Backoff: 1, Retries: 2}).Upload(context.Background(), plan, bytes.NewReader(randomBytes(2000)), nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 500 {
		t.Fatalf("err = %v", err)
	}
	if got := f.puts[plan.BlockIDs[1]]; got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if f.committed != nil {
		t.Error("committed despite a failed block")
	}
}

func TestNetworkErrorRedactsSAS(t *testing.T) {
	plan := planFor("http://127.0.0.1:1", 10, 10)
	err := (&Client{Retries: -1}).Upload(context.Background(), plan, bytes.NewReader(randomBytes(10)), nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v (must fail without the signature)", err)
	}
}

func TestBadPlanAndShortFile(t *testing.T) {
	plan := planFor("http://x", 3000, 1000)
	bad := plan
	bad.BlockIDs = bad.BlockIDs[:2]
	if err := (&Client{}).Upload(context.Background(), bad, bytes.NewReader(randomBytes(3000)), nil); err == nil {
		t.Error("plan with missing ids accepted")
	}
	f := newFake()
	srv := httptest.NewServer(f)
	defer srv.Close()
	plan = planFor(srv.URL, 3000, 1000)
	if err := (&Client{}).Upload(context.Background(), plan, bytes.NewReader(randomBytes(2500)), nil); err == nil || !strings.Contains(err.Error(), "read block") {
		t.Errorf("short file: err = %v", err)
	}
}
