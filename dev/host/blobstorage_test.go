package host

import (
	"context"
	"crypto/md5"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/profileflow/profileflow/dev/stack"
)

// storageHarness is a blobStorage plus the writes a test needs to make.
type storageHarness struct {
	s      blobStorage
	mkCont func(t *testing.T, name string)
	put    func(t *testing.T, cont, name string, content []byte, meta map[string]string) string // returns the ETag
	del    func(t *testing.T, cont, name string)
}

func memHarness() (*memStorage, storageHarness) {
	m := newMemStorage()
	return m, storageHarness{
		s:      m,
		mkCont: func(t *testing.T, name string) { m.createContainer(name) },
		put: func(t *testing.T, cont, name string, content []byte, meta map[string]string) string {
			return m.put(cont, name, content, meta, "application/pdf")
		},
		del: func(t *testing.T, cont, name string) { m.remove(cont, name) },
	}
}

// azuriteClient is a shared-key SDK client on a test's Azurite.
func azuriteClient(t testing.TB, az *stack.Azurite) *azblob.Client {
	t.Helper()
	c, err := azblob.NewClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func azuriteHarness(t *testing.T, az *stack.Azurite) storageHarness {
	s, err := openAzureStorage(az.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	c := azuriteClient(t, az)
	return storageHarness{
		s: s,
		mkCont: func(t *testing.T, name string) {
			if _, err := c.CreateContainer(context.Background(), name, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
				t.Fatal(err)
			}
		},
		put: func(t *testing.T, cont, name string, content []byte, meta map[string]string) string {
			return azuritePut(t, c, cont, name, content, meta)
		},
		del: func(t *testing.T, cont, name string) {
			if _, err := c.DeleteBlob(context.Background(), cont, name, nil); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// azuritePut uploads a block blob with one Put Blob (content type
// application/pdf) and returns its ETag.
func azuritePut(t testing.TB, c *azblob.Client, cont, name string, content []byte, meta map[string]string) string {
	t.Helper()
	md := map[string]*string{}
	for k, v := range meta {
		md[k] = &v
	}
	ct := "application/pdf"
	resp, err := c.UploadBuffer(context.Background(), cont, name, content, &azblob.UploadBufferOptions{
		Metadata: md, HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &ct}})
	if err != nil {
		t.Fatal(err)
	}
	return string(*resp.ETag)
}

func TestBlobStorageContract(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		_, h := memHarness()
		runStorageContract(t, h)
	})
	t.Run("azurite", func(t *testing.T) {
		runStorageContract(t, azuriteHarness(t, stack.AzuriteT(t)))
	})
}

func runStorageContract(t *testing.T, h storageHarness) {
	ctx := context.Background()
	s := h.s

	t.Run("listing a missing container", func(t *testing.T) {
		if _, err := s.List(ctx, "nothere", ""); !errors.Is(err, errContainerMissing) {
			t.Errorf("err = %v, want errContainerMissing", err)
		}
	})

	h.mkCont(t, "landing")
	content := []byte("%PDF-1.7\n\xe2\xe3\xcf\xd3 binary")
	etag := h.put(t, "landing", "u-1/a.pdf", content, map[string]string{"uploadedby": "web"})
	h.put(t, "landing", "other/b.pdf", []byte("b"), nil)

	t.Run("list with prefix, properties and metadata", func(t *testing.T) {
		items, err := s.List(ctx, "landing", "u-1/")
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 {
			t.Fatalf("listed %d blobs, want 1: %+v", len(items), items)
		}
		it := items[0]
		sum := md5.Sum(content)
		p := it.Props
		if it.Name != "u-1/a.pdf" || bareETag(it.ETag) != bareETag(etag) || p.ContentLength != int64(len(content)) ||
			!reflect.DeepEqual(p.ContentMD5, sum[:]) || p.ContentType == nil || *p.ContentType != "application/pdf" ||
			p.BlobType != "BlockBlob" || p.LastModified.IsZero() || p.CreatedOn.IsZero() ||
			!reflect.DeepEqual(it.Metadata, map[string]string{"uploadedby": "web"}) {
			t.Errorf("listed %+v (props %+v)", it, p)
		}
		all, err := s.List(ctx, "landing", "")
		if err != nil || len(all) != 2 {
			t.Errorf("list all: %d blobs, %v", len(all), err)
		}
	})

	t.Run("download exactly the listed version", func(t *testing.T) {
		got, err := s.Download(ctx, "landing", "u-1/a.pdf", etag)
		if err != nil || string(got) != string(content) {
			t.Fatalf("Download = %q, %v", got, err)
		}
		newTag := h.put(t, "landing", "u-1/a.pdf", []byte("v2"), nil)
		if _, err := s.Download(ctx, "landing", "u-1/a.pdf", etag); !errors.Is(err, errBlobChanged) {
			t.Errorf("old version: err = %v, want errBlobChanged", err)
		}
		if got, err := s.Download(ctx, "landing", "u-1/a.pdf", bareETag(newTag)); err != nil || string(got) != "v2" {
			t.Errorf("new version (bare ETag): %q, %v", got, err)
		}
		h.del(t, "landing", "u-1/a.pdf")
		if _, err := s.Download(ctx, "landing", "u-1/a.pdf", newTag); !errors.Is(err, errBlobGone) {
			t.Errorf("deleted: err = %v, want errBlobGone", err)
		}
		if _, err := s.Download(ctx, "nothere", "x", newTag); !errors.Is(err, errBlobGone) {
			t.Errorf("missing container: err = %v, want errBlobGone", err)
		}
	})

	t.Run("blob URL", func(t *testing.T) {
		if u := s.BlobURL("landing", "u-1/a b.pdf"); !strings.HasSuffix(u, "/landing/u-1/a%20b.pdf") || !strings.HasPrefix(u, "http") {
			t.Errorf("BlobURL = %q", u)
		}
	})

	t.Run("receipts", func(t *testing.T) {
		k := receiptKey{HostID: "devhost", FunctionID: "Host.Functions.Scan", Container: "landing", Blob: "u-1/a.pdf", ETag: `"0x1"`}
		if _, ok, err := s.Receipt(ctx, k); ok || err != nil {
			t.Fatalf("receipt before any: ok=%v err=%v", ok, err)
		}
		for _, st := range []receiptState{receiptDone, receiptDone, receiptPoisoned} {
			if err := s.PutReceipt(ctx, k, st); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.Receipt(ctx, k); !ok || err != nil || got != st {
				t.Errorf("after PutReceipt(%s): %s ok=%v err=%v", st, got, ok, err)
			}
		}
		other := k
		other.ETag = "0x2"
		if _, ok, _ := s.Receipt(ctx, other); ok {
			t.Error("a receipt of one version answered for another")
		}
	})

	t.Run("poison records", func(t *testing.T) {
		a := PoisonMessage{Type: "BlobTrigger", FunctionID: "Host.Functions.Scan", BlobType: "BlockBlob", ContainerName: "landing", BlobName: "u-1/a.pdf", ETag: `"0x1"`}
		b := a
		b.ETag = `"0x2"`
		for _, m := range []PoisonMessage{a, a, b} {
			if err := s.PutPoison(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.PoisonMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(got, func(i, j int) bool { return got[i].ETag < got[j].ETag })
		if !reflect.DeepEqual(got, []PoisonMessage{a, b}) {
			t.Errorf("poison records %+v, want %+v", got, []PoisonMessage{a, b})
		}
	})
}
