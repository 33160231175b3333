package blobstore_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/blobstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/upload"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

const (
	landing    = "landing"
	uiOrigin   = "http://127.0.0.1:7071"
	profileID  = "p-123"
	mib        = 1 << 20
	file25MiB  = 25 * mib
	blockSize4 = 4 * mib
)

var alice = domain.Principal{Subject: "alice"}

type env struct {
	az    *stack.Azurite
	store *blobstore.Store
	svc   *upload.Service
	raw   *azblob.Client // shared-key SDK client to read back
}

func newEnv(t testing.TB) *env {
	t.Helper()
	az := stack.AzuriteT(t)
	store, err := blobstore.New(blobstore.Options{Accounts: []string{az.BlobURL}, AccountKey: az.AccountKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 { // idempotent
		if err := store.EnsureContainers(ctx, landing, "clean", "quarantine"); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetCORS(ctx, uiOrigin); err != nil {
		t.Fatal(err)
	}
	svc, err := upload.NewService(memory.NewUploadStore(), store, store, upload.Config{
		Accounts: []string{az.BlobURL}, Container: landing, BlockSize: blockSize4, TTL: 30 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azblob.NewSharedKeyCredential(az.AccountName, az.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := azblob.NewClientWithSharedKeyCredential(az.BlobURL+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{az: az, store: store, svc: svc, raw: raw}
}

func randomFile(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func (e *env) download(t testing.TB, blobName string) []byte {
	t.Helper()
	resp, err := e.raw.DownloadStream(context.Background(), landing, blobName, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blobNameOf extracts the blob name from a SAS URL.
func blobNameOf(t testing.TB, sasURL string) string {
	t.Helper()
	u, err := url.Parse(sasURL)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 3) // account/container/blob
	return parts[2]
}

// countingTransport counts Put Block requests.
type countingTransport struct{ blocks atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("comp") == "block" {
		c.blocks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestAzurite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("25MiB plain PUTs through the SAS, byte-identical", func(t *testing.T) {
		data := randomFile(file25MiB, 1)
		plan, err := e.svc.Create(ctx, alice, profileID, []upload.FileSpec{{Name: "Scan 2026.pdf", ContentType: "application/pdf", Size: file25MiB}})
		if err != nil {
			t.Fatal(err)
		}
		fp := plan.Files[0]
		if fp.BlockCount != 7 {
			t.Fatalf("block count %d", fp.BlockCount)
		}
		q, _ := url.ParseQuery(fp.UploadURL[strings.IndexByte(fp.UploadURL, '?')+1:])
		if q.Get("sp") != "cw" || q.Get("sr") != "b" || q.Get("sig") == "" {
			t.Errorf("SAS params sp=%q sr=%q", q.Get("sp"), q.Get("sr"))
		}
		st, _ := time.Parse(time.RFC3339, q.Get("st"))
		se, _ := time.Parse(time.RFC3339, q.Get("se"))
		if d := time.Since(st); d < 4*time.Minute || d > 6*time.Minute {
			t.Errorf("SAS start %v is not ~5 minutes in the past", st)
		}
		if d := time.Until(se); d <= 0 || d > 30*time.Minute || !se.Equal(plan.ExpiresAt) {
			t.Errorf("SAS expiry %v (session %v)", se, plan.ExpiresAt)
		}
		c := &uploadclient.Client{}
		if err := c.Upload(ctx, toClientPlan(fp), bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
		state, err := e.svc.State(ctx, alice, profileID, plan.UploadID)
		if err != nil {
			t.Fatal(err)
		}
		if fs := state.Files[0]; !fs.Committed || fs.CommittedSize != file25MiB || len(fs.UncommittedBlocks) != 0 || fs.UploadURL != "" {
			t.Errorf("state after commit = %+v", fs)
		}
		files, err := e.svc.CommittedFiles(ctx, alice, profileID, plan.UploadID)
		if err != nil {
			t.Fatal(err)
		}
		got := e.download(t, files[0].BlobName)
		if !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, not identical to the %d uploaded", len(got), len(data))
		}
		props, err := e.raw.ServiceClient().NewContainerClient(landing).NewBlobClient(files[0].BlobName).GetProperties(ctx, nil)
		if err != nil || props.ContentType == nil || *props.ContentType != "application/pdf" {
			t.Errorf("content type %v err %v", props.ContentType, err)
		}
	})

	t.Run("resume from the server's state, byte-identical", func(t *testing.T) {
		const size = 10*mib + 12345 // 3 blocks
		data := randomFile(size, 2)
		plan, err := e.svc.Create(ctx, alice, profileID, []upload.FileSpec{
			{Name: "a.png", ContentType: "image/png", Size: 100},
			{Name: "b.pdf", ContentType: "application/pdf", Size: size},
		})
		if err != nil {
			t.Fatal(err)
		}
		fp := toClientPlan(plan.Files[1])
		ct := &countingTransport{}
		c := &uploadclient.Client{HTTP: &http.Client{Transport: ct}}
		half := []int{0, 2}
		if err := c.StageBlocks(ctx, fp, bytes.NewReader(data), nil, half); err != nil {
			t.Fatal(err)
		}
		// A "reload": everything comes from the server's state.
		state, err := e.svc.State(ctx, alice, profileID, plan.UploadID)
		if err != nil {
			t.Fatal(err)
		}
		fs := state.Files[1]
		staged := map[string]bool{}
		for _, id := range fs.UncommittedBlocks {
			staged[id] = true
		}
		if fs.Committed || len(staged) != 2 || !staged[fp.BlockIDs[0]] || !staged[fp.BlockIDs[2]] {
			t.Fatalf("state after half = %+v", fs)
		}
		if state.Files[0].Committed || len(state.Files[0].UncommittedBlocks) != 0 {
			t.Errorf("untouched file state = %+v", state.Files[0])
		}
		if _, err := e.svc.CommittedFiles(ctx, alice, profileID, plan.UploadID); domain.KindOf(err) != domain.KindConflict {
			t.Errorf("CommittedFiles half-way: %v", err)
		}
		cs := toClientState(fs)
		resumed, skip := cs.Resume()
		before := ct.blocks.Load()
		if err := c.Upload(ctx, resumed, bytes.NewReader(data), skip); err != nil {
			t.Fatal(err)
		}
		if n := ct.blocks.Load() - before; n != 1 {
			t.Errorf("resume sent %d blocks, want 1", n)
		}
		if got := e.download(t, blobNameOf(t, fp.UploadURL)); !bytes.Equal(got, data) {
			t.Fatalf("resumed blob differs (%d vs %d bytes)", len(got), len(data))
		}
	})

	t.Run("bad block MD5 is refused", func(t *testing.T) {
		plan, err := e.svc.Create(ctx, alice, profileID, []upload.FileSpec{{Name: "x.pdf", ContentType: "application/pdf", Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		fp := plan.Files[0]
		req, _ := http.NewRequest(http.MethodPut, fp.UploadURL+"&comp=block&blockid="+url.QueryEscape(fp.BlockIDs[0]), strings.NewReader("0123456789"))
		sum := md5.Sum([]byte("something else"))
		req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
		if code, _ := send(t, req); code != http.StatusBadRequest {
			t.Errorf("bad MD5: %d, want 400", code)
		}
	})

	t.Run("SAS misuse is refused by storage", func(t *testing.T) {
		plan, err := e.svc.Create(ctx, alice, profileID, []upload.FileSpec{{Name: "ok.pdf", ContentType: "application/pdf", Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		fp := plan.Files[0]
		if err := (&uploadclient.Client{}).Upload(ctx, toClientPlan(fp), strings.NewReader("0123456789"), nil); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(fp.UploadURL)
		otherBlob := *u
		otherBlob.Path = strings.Replace(u.Path, "/0-ok.pdf", "/0-other.pdf", 1)
		tampered := *u
		tampered.RawQuery = strings.Replace(u.RawQuery, "sp=cw", "sp=rcw", 1)
		if tampered.RawQuery == u.RawQuery {
			t.Fatal("sp=cw not found in the SAS")
		}
		// An expired SAS: signed by a store whose clock is 40 minutes behind.
		past := time.Now().Add(-40 * time.Minute)
		old, err := blobstore.New(blobstore.Options{Accounts: []string{e.az.BlobURL}, AccountKey: e.az.AccountKey, Now: func() time.Time { return past }})
		if err != nil {
			t.Fatal(err)
		}
		expired, err := old.SignUpload(ctx, upload.BlobRef{Account: e.az.BlobURL, Container: landing, Name: blobNameOf(t, fp.UploadURL)}, past.Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		putBlock := func(base string) *http.Request {
			r, _ := http.NewRequest(http.MethodPut, base+"&comp=block&blockid="+url.QueryEscape(fp.BlockIDs[0]), strings.NewReader("x"))
			return r
		}
		for _, tt := range []struct {
			name string
			req  *http.Request
		}{
			{"read with the SAS", mustReq(http.MethodGet, fp.UploadURL)},
			{"head with the SAS", mustReq(http.MethodHead, fp.UploadURL)},
			{"write another blob name", putBlock(otherBlob.String())},
			{"put blob on another name", putBlobReq(otherBlob.String())},
			{"tampered sp", putBlock(tampered.String())},
			{"after expiry", putBlock(expired)},
			{"list the container", mustReq(http.MethodGet, e.az.BlobURL+"/"+landing+"?restype=container&comp=list&"+u.RawQuery)},
			{"delete the blob", mustReq(http.MethodDelete, fp.UploadURL)},
		} {
			code, body := send(t, tt.req)
			if code != http.StatusForbidden {
				t.Errorf("%s: HTTP %d, want 403 (%s)", tt.name, code, body)
			}
		}
		// And the valid SAS still works for its own blob.
		if code, body := send(t, putBlock(fp.UploadURL)); code != http.StatusCreated {
			t.Errorf("valid SAS: %d %s", code, body)
		}
	})

	t.Run("CORS preflight for the UI origin", func(t *testing.T) {
		for _, tt := range []struct {
			origin string
			want   int
		}{{uiOrigin, 200}, {"http://evil.example", 403}} {
			req := mustReq(http.MethodOptions, e.az.BlobURL+"/"+landing+"/x/0-a.pdf?comp=block")
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			req.Header.Set("Access-Control-Request-Headers", "content-md5,x-ms-blob-content-type")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("preflight from %s: %d, want %d", tt.origin, resp.StatusCode, tt.want)
			}
			if tt.want == 200 && resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
				t.Errorf("allow-origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	})

	t.Run("block list of an unknown blob is empty", func(t *testing.T) {
		bl, err := e.store.BlockList(ctx, upload.BlobRef{Account: e.az.BlobURL, Container: landing, Name: "nothing/here"})
		if err != nil || bl.Exists || len(bl.Uncommitted) != 0 {
			t.Errorf("bl %+v err %v", bl, err)
		}
		_, err = e.store.BlockList(ctx, upload.BlobRef{Account: e.az.BlobURL, Container: "no-such-container", Name: "x"})
		if err == nil {
			t.Error("missing container not reported")
		}
		var de *domain.Error
		if !errors.As(err, &de) {
			t.Errorf("error %v is not a domain error", err)
		}
	})
}

func mustReq(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func putBlobReq(u string) *http.Request {
	r, _ := http.NewRequest(http.MethodPut, u, strings.NewReader("x"))
	r.Header.Set("x-ms-blob-type", "BlockBlob")
	return r
}

func send(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return resp.StatusCode, resp.Header.Get("x-ms-error-code") + " " + string(b)
}

// toClientPlan and toClientState go through JSON, as a browser would, so
// they also prove the API's field names match the client's.
func toClientPlan(f upload.FilePlan) uploadclient.FilePlan {
	var out uploadclient.FilePlan
	viaJSON(f, &out)
	return out
}

func toClientState(f upload.FileState) uploadclient.FileState {
	var out uploadclient.FileState
	viaJSON(f, &out)
	return out
}

func viaJSON(in, out any) {
	b, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
}
