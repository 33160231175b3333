package upload_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/upload"
)

// fakeBlobs signs fake URLs and serves block lists from a map.
type fakeBlobs struct {
	lists  map[string]upload.BlockList // by blob name
	signed []upload.BlobRef
	expiry []time.Time
}

func (f *fakeBlobs) SignUpload(_ context.Context, ref upload.BlobRef, expiry time.Time) (string, error) {
	f.signed = append(f.signed, ref)
	f.expiry = append(f.expiry, expiry)
	return ref.Account + "/" + ref.Container + "/" + ref.Name + "?sig=x", nil
}

func (f *fakeBlobs) BlockList(_ context.Context, ref upload.BlobRef) (upload.BlockList, error) {
	return f.lists[ref.Name], nil
}

var (
	alice = domain.Principal{Subject: "alice"}
	bob   = domain.Principal{Subject: "bob"}
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func newService(t *testing.T, blobs *fakeBlobs, accounts ...string) (*upload.Service, *time.Time) {
	t.Helper()
	if len(accounts) == 0 {
		accounts = []string{"https://a1.blob.core.windows.net", "https://a2.blob.core.windows.net", "https://a3.blob.core.windows.net"}
	}
	svc, err := upload.NewService(memory.NewUploadStore(), blobs, blobs, upload.Config{
		Accounts: accounts, Container: "landing", BlockSize: 4 << 20, TTL: 30 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	svc.Now = func() time.Time { return now }
	return svc, &now
}

func TestCreatePlan(t *testing.T) {
	blobs := &fakeBlobs{}
	svc, _ := newService(t, blobs)
	plan, err := svc.Create(context.Background(), alice, "p1", []upload.FileSpec{
		{Name: "Mu\u0308ller.pdf", ContentType: "application/pdf", Size: 25 << 20},
		{Name: "photo.png", ContentType: "image/png", Size: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !upload.ValidUploadID(plan.UploadID) {
		t.Errorf("upload id %q has the wrong shape", plan.UploadID)
	}
	if want := t0.Add(30 * time.Minute); !plan.ExpiresAt.Equal(want) {
		t.Errorf("expiresAt = %v, want %v", plan.ExpiresAt, want)
	}
	if len(plan.Files) != 2 {
		t.Fatalf("files = %d", len(plan.Files))
	}
	f := plan.Files[0]
	if f.Name != "M\u00fcller.pdf" {
		t.Errorf("name not NFC: %q", f.Name)
	}
	if f.BlockCount != 7 || len(f.BlockIDs) != 7 || f.BlockSize != 4<<20 {
		t.Errorf("25 MiB in 4 MiB blocks: count %d ids %d size %d, want 7", f.BlockCount, len(f.BlockIDs), f.BlockSize)
	}
	if plan.Files[1].BlockCount != 1 {
		t.Errorf("1-byte file: %d blocks", plan.Files[1].BlockCount)
	}
	if f.RequiredHeaders["x-ms-blob-content-type"] != "application/pdf" || f.BlockChecksum != "Content-MD5" {
		t.Errorf("headers %v checksum %q", f.RequiredHeaders, f.BlockChecksum)
	}
	// Block ids: deterministic, fixed length, distinct across files and blocks.
	seen := map[string]bool{}
	for fi, fp := range plan.Files {
		for bi, id := range fp.BlockIDs {
			if id != upload.BlockID(plan.UploadID, fi, bi) {
				t.Errorf("block id %d/%d not deterministic", fi, bi)
			}
			raw, err := base64.StdEncoding.DecodeString(id)
			if err != nil || len(raw) > 64 || len(id) != len(plan.Files[0].BlockIDs[0]) {
				t.Errorf("block id %q: decoded %d bytes, err %v", id, len(raw), err)
			}
			if seen[id] {
				t.Errorf("duplicate block id %q", id)
			}
			seen[id] = true
		}
	}
	// One SAS per file, each for its own blob in the upload's folder on the chosen shard.
	if len(blobs.signed) != 2 {
		t.Fatalf("signed %d", len(blobs.signed))
	}
	shard := upload.ChooseShard(plan.UploadID, []string{"https://a1.blob.core.windows.net", "https://a2.blob.core.windows.net", "https://a3.blob.core.windows.net"})
	for i, ref := range blobs.signed {
		if ref.Account != shard || ref.Container != "landing" || !strings.HasPrefix(ref.Name, plan.UploadID+"/") {
			t.Errorf("ref %d = %+v", i, ref)
		}
		if !blobs.expiry[i].Equal(plan.ExpiresAt) {
			t.Errorf("SAS expiry %v != session expiry %v", blobs.expiry[i], plan.ExpiresAt)
		}
	}
	if blobs.signed[0].Name == blobs.signed[1].Name {
		t.Error("both files share a blob")
	}
	if want := plan.UploadID + "/0-M_ller.pdf"; blobs.signed[0].Name != want {
		t.Errorf("blob name %q, want %q", blobs.signed[0].Name, want)
	}
}

func TestCreateRefusesBadInputWithoutSession(t *testing.T) {
	blobs := &fakeBlobs{}
	svc, _ := newService(t, blobs)
	_, err := svc.Create(context.Background(), alice, "p1", []upload.FileSpec{{Name: "photo.exe", ContentType: "image/png", Size: 1}})
	if domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("err = %v, want invalid", err)
	}
	if len(blobs.signed) != 0 {
		t.Error("a SAS was signed for refused input")
	}
	if _, err := svc.Create(context.Background(), domain.Principal{}, "p1", []upload.FileSpec{{Name: "a.pdf", ContentType: "application/pdf", Size: 1}}); domain.KindOf(err) != domain.KindUnauthorized {
		t.Errorf("anonymous create: %v", err)
	}
}

func TestBlockCountAndShard(t *testing.T) {
	for _, tt := range []struct {
		size, bs int64
		want     int
	}{{1, 4 << 20, 1}, {4 << 20, 4 << 20, 1}, {4<<20 + 1, 4 << 20, 2}, {25 << 20, 1 << 20, 25}, {25 << 20, 8 << 20, 4}} {
		if got := upload.BlockCount(tt.size, tt.bs); got != tt.want {
			t.Errorf("BlockCount(%d,%d) = %d, want %d", tt.size, tt.bs, got, tt.want)
		}
	}
	accounts := []string{"a", "b", "c", "d"}
	hits := map[string]int{}
	for i := 0; i < 400; i++ {
		id := upload.NewUploadID()
		s := upload.ChooseShard(id, accounts)
		if s != upload.ChooseShard(id, accounts) {
			t.Fatal("shard choice not deterministic")
		}
		hits[s]++
	}
	for _, a := range accounts {
		if hits[a] < 50 {
			t.Errorf("shard %s chosen %d/400 times: badly spread %v", a, hits[a], hits)
		}
	}
}

func TestNewServiceConfig(t *testing.T) {
	base := upload.Config{Accounts: []string{"x"}, Container: "landing", BlockSize: 4 << 20, TTL: 30 * time.Minute}
	for _, tt := range []struct {
		name string
		mod  func(*upload.Config)
		ok   bool
	}{
		{"ok", func(*upload.Config) {}, true},
		{"default block", func(c *upload.Config) { c.BlockSize = 0 }, true},
		{"1 MiB", func(c *upload.Config) { c.BlockSize = 1 << 20 }, true},
		{"8 MiB", func(c *upload.Config) { c.BlockSize = 8 << 20 }, true},
		{"9 MiB", func(c *upload.Config) { c.BlockSize = 9 << 20 }, false},
		{"small", func(c *upload.Config) { c.BlockSize = 1000 }, false},
		{"ttl 31m", func(c *upload.Config) { c.TTL = 31 * time.Minute }, false},
		{"no accounts", func(c *upload.Config) { c.Accounts = nil }, false},
		{"no container", func(c *upload.Config) { c.Container = "" }, false},
	} {
		c := base
		tt.mod(&c)
		_, err := upload.NewService(memory.NewUploadStore(), nil, nil, c)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

func TestStateAndCommittedFiles(t *testing.T) {
	ctx := context.Background()
	blobs := &fakeBlobs{lists: map[string]upload.BlockList{}}
	svc, now := newService(t, blobs)
	plan, err := svc.Create(ctx, alice, "p1", []upload.FileSpec{{Name: "a.pdf", ContentType: "application/pdf", Size: 9 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	ids := plan.Files[0].BlockIDs
	blob := blobs.signed[0].Name

	// Nothing staged yet.
	st, err := svc.State(ctx, alice, "p1", plan.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files[0].Committed || len(st.Files[0].UncommittedBlocks) != 0 || st.Files[0].UploadURL == "" {
		t.Errorf("fresh state = %+v", st.Files[0])
	}
	// Two of three blocks staged, plus a stray block that is not in the plan.
	blobs.lists[blob] = upload.BlockList{Uncommitted: []upload.Block{{ID: ids[0]}, {ID: "c3RyYXk="}, {ID: ids[2]}}}
	st, _ = svc.State(ctx, alice, "p1", plan.UploadID)
	if got := st.Files[0].UncommittedBlocks; len(got) != 2 || got[0] != ids[0] || got[1] != ids[2] {
		t.Errorf("uncommitted = %v, want [%s %s]", got, ids[0], ids[2])
	}
	if _, err := svc.CommittedFiles(ctx, alice, "p1", plan.UploadID); domain.KindOf(err) != domain.KindConflict {
		t.Errorf("CommittedFiles before commit: %v, want conflict", err)
	}

	committed := func(size int64, ct string, ids ...string) upload.BlockList {
		bl := upload.BlockList{Exists: true, CommittedSize: size, ContentType: ct}
		for _, id := range ids {
			bl.Committed = append(bl.Committed, upload.Block{ID: id})
		}
		return bl
	}
	// Any committed blob within its declared size is accepted, however it
	// was written; the state's ready flag is exactly that check.
	for _, tt := range []struct {
		name string
		bl   upload.BlockList
		kind domain.Kind
		ok   bool
	}{
		{"larger than declared", committed(9<<20+1, "application/pdf", ids...), domain.KindInvalid, false},
		{"26 MiB declared 9 MiB", committed(26<<20, "application/pdf", ids...), domain.KindInvalid, false},
		{"empty", upload.BlockList{Exists: true}, domain.KindInvalid, false},
		{"not committed", upload.BlockList{Uncommitted: []upload.Block{{ID: ids[0]}}}, domain.KindConflict, false},
		{"planned blocks", committed(9<<20, "application/pdf", ids...), 0, true},
		{"one Put Blob, no blocks, no content type", committed(9<<20, "application/octet-stream"), 0, true},
		{"stored type is not trusted either way", committed(9<<20, "text/html", ids...), 0, true},
		{"shorter than declared", committed(1, "application/pdf", ids[0]), 0, true},
	} {
		bl := tt.bl
		bl.ETag = "0x8D" + tt.name
		blobs.lists[blob] = bl
		files, err := svc.CommittedFiles(ctx, alice, "p1", plan.UploadID)
		if tt.ok {
			if err != nil || len(files) != 1 || files[0].Name != "a.pdf" || files[0].BlobName != blob || files[0].Account != blobs.signed[0].Account ||
				files[0].ETag != bl.ETag || files[0].Size != bl.CommittedSize || files[0].File.Size != 9<<20 {
				t.Errorf("%s: files %+v err %v", tt.name, files, err)
			}
		} else if domain.KindOf(err) != tt.kind {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.kind)
		}
		st, err := svc.State(ctx, alice, "p1", plan.UploadID)
		if err != nil {
			t.Fatal(err)
		}
		if f := st.Files[0]; f.Ready != tt.ok || f.Committed != bl.Exists || (bl.Exists && !tt.ok) != (f.Problem != "") {
			t.Errorf("%s: state %+v disagrees with CommittedFiles (ok %v)", tt.name, f, tt.ok)
		}
	}
	blobs.lists[blob] = committed(9<<20, "application/pdf", ids...)
	st, _ = svc.State(ctx, alice, "p1", plan.UploadID)
	if !st.Files[0].Committed || st.Files[0].UploadURL != "" || st.Files[0].CommittedSize != 9<<20 {
		t.Errorf("committed state = %+v", st.Files[0])
	}

	// Other users, other profiles, unknown and malformed ids: not found.
	for _, tt := range []struct {
		name    string
		p       domain.Principal
		profile string
		id      string
	}{
		{"other user", bob, "p1", plan.UploadID},
		{"other profile", alice, "p2", plan.UploadID},
		{"unknown", alice, "p1", upload.NewUploadID()},
		{"malformed", alice, "p1", "../x"},
	} {
		if _, err := svc.State(ctx, tt.p, tt.profile, tt.id); domain.KindOf(err) != domain.KindNotFound {
			t.Errorf("State %s: %v, want not found", tt.name, err)
		}
		if _, err := svc.CommittedFiles(ctx, tt.p, tt.profile, tt.id); domain.KindOf(err) != domain.KindNotFound {
			t.Errorf("CommittedFiles %s: %v, want not found", tt.name, err)
		}
	}

	// Expired: gone.
	*now = plan.ExpiresAt
	if _, err := svc.State(ctx, alice, "p1", plan.UploadID); domain.KindOf(err) != domain.KindGone {
		t.Errorf("expired State: %v, want gone", err)
	}
	if _, err := svc.CommittedFiles(ctx, alice, "p1", plan.UploadID); domain.KindOf(err) != domain.KindGone {
		t.Errorf("expired CommittedFiles: %v, want gone", err)
	}
}

func ExampleBlockID() {
	fmt.Println(upload.BlockID("0123456789abcdef0123456789abcdef", 0, 3))
	// Output: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY6MDowMDAwMw==
}

// An upload serves one request: the claim is taken once, repeated by the
// same request, refused to any other, released only by its holder, and
// a claimed upload can no longer be named by a PATCH.
func TestClaimOneUploadOneRequest(t *testing.T) {
	ctx := context.Background()
	blobs := &fakeBlobs{lists: map[string]upload.BlockList{}}
	svc, now := newService(t, blobs)
	plan, err := svc.Create(ctx, alice, "p1", []upload.FileSpec{{Name: "a.pdf", ContentType: "application/pdf", Size: 10}})
	if err != nil {
		t.Fatal(err)
	}
	blob := blobs.signed[0].Name
	blobs.lists[blob] = upload.BlockList{Exists: true, CommittedSize: 10, ETag: "0x1"}

	steps := []struct {
		name string
		do   func() error
		kind domain.Kind // 0 = success
	}{
		{"first claim", func() error { return svc.Claim(ctx, plan.UploadID, "req-1") }, 0},
		{"same request again", func() error { return svc.Claim(ctx, plan.UploadID, "req-1") }, 0},
		{"another request", func() error { return svc.Claim(ctx, plan.UploadID, "req-2") }, domain.KindConflict},
		{"PATCH naming it", func() error { _, err := svc.CommittedFiles(ctx, alice, "p1", plan.UploadID); return err }, domain.KindConflict},
		{"release by another request changes nothing", func() error { return svc.Release(ctx, plan.UploadID, "req-2") }, 0},
		{"still held", func() error { return svc.Claim(ctx, plan.UploadID, "req-3") }, domain.KindConflict},
		{"release by its holder", func() error { return svc.Release(ctx, plan.UploadID, "req-1") }, 0},
		{"free again", func() error { _, err := svc.CommittedFiles(ctx, alice, "p1", plan.UploadID); return err }, 0},
		{"unknown upload", func() error { return svc.Claim(ctx, upload.NewUploadID(), "req-1") }, domain.KindNotFound},
	}
	for _, st := range steps {
		err := st.do()
		if (st.kind == 0 && err != nil) || (st.kind != 0 && domain.KindOf(err) != st.kind) {
			t.Fatalf("%s: err %v, want kind %v", st.name, err, st.kind)
		}
	}
	if err := svc.Claim(ctx, plan.UploadID, "req-4"); err != nil {
		t.Fatal(err)
	}
	if f, req, err := svc.Declared(ctx, plan.UploadID, blob); err != nil || req != "req-4" || f.Name != "a.pdf" || f.Account == "" {
		t.Fatalf("Declared = %+v, %q, %v", f, req, err)
	}
	if st, _ := svc.State(ctx, alice, "p1", plan.UploadID); st.Request != "/api/v1/requests/req-4" {
		t.Errorf("state request = %q", st.Request)
	}
	for _, name := range []string{plan.UploadID + "/9-x.pdf", "other/0-a.pdf"} {
		if _, _, err := svc.Declared(ctx, plan.UploadID, name); domain.KindOf(err) != domain.KindNotFound {
			t.Errorf("Declared(%s) = %v, want not found", name, err)
		}
	}
	*now = plan.ExpiresAt
	if err := svc.Claim(ctx, plan.UploadID, "req-4"); err != nil {
		t.Errorf("claim repeated by its holder after expiry: %v", err)
	}
	if err := svc.Release(ctx, plan.UploadID, "req-4"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Claim(ctx, plan.UploadID, "req-5"); domain.KindOf(err) != domain.KindGone {
		t.Errorf("claim of an expired upload: %v, want gone", err)
	}
}
