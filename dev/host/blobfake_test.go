package host

import (
	"context"
	"crypto/md5"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// memStorage is an in-memory blobStorage: the fake the blob source's unit
// tests run on. The contract suite (blobstorage_test.go) holds it and
// azureStorage on Azurite to the same behaviour.
type memStorage struct {
	base string // URL of the account, e.g. http://mem.example/acct

	mu         sync.Mutex
	seq        int
	containers map[string]map[string]*memBlob
	receipts   map[string]receiptState
	poison     map[string]PoisonMessage
	poisonSeq  map[string]int
	// onDownload runs (without the lock) before a download reads the blob.
	onDownload func(container, name string)
}

type memBlob struct {
	content []byte
	item    blobItem
}

func newMemStorage() *memStorage {
	return &memStorage{base: "http://mem.example/acct", containers: map[string]map[string]*memBlob{},
		receipts: map[string]receiptState{}, poison: map[string]PoisonMessage{}, poisonSeq: map[string]int{}}
}

func (m *memStorage) createContainer(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.containers[name] == nil {
		m.containers[name] = map[string]*memBlob{}
	}
}

// put writes a block blob (creating the container) and returns its ETag.
func (m *memStorage) put(cont, name string, content []byte, meta map[string]string, contentType string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.containers[cont] == nil {
		m.containers[cont] = map[string]*memBlob{}
	}
	m.seq++
	etag := fmt.Sprintf(`"0x8DC%012X"`, m.seq)
	now := time.Now().UTC().Truncate(time.Second)
	created := now
	if old, ok := m.containers[cont][name]; ok {
		created = old.item.Props.CreatedOn
	}
	sum := md5.Sum(content)
	ct := contentType
	if meta == nil {
		meta = map[string]string{}
	}
	m.containers[cont][name] = &memBlob{content: append([]byte(nil), content...), item: blobItem{
		Name: name, ETag: etag, Metadata: meta,
		Props: blobProps{BlobType: "BlockBlob", ContentLength: int64(len(content)), ContentType: &ct, ContentMD5: sum[:],
			LastModified: now, CreatedOn: created, LeaseState: "available", LeaseStatus: "unlocked", ServerEncrypted: true},
	}}
	return etag
}

func (m *memStorage) remove(cont, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.containers[cont], name)
}

func (m *memStorage) List(ctx context.Context, cont, prefix string) ([]blobItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	blobs, ok := m.containers[cont]
	if !ok {
		return nil, errContainerMissing
	}
	var out []blobItem
	for name, b := range blobs {
		if strings.HasPrefix(name, prefix) {
			out = append(out, b.item)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memStorage) Download(ctx context.Context, cont, name, etag string) ([]byte, error) {
	if hook := m.onDownload; hook != nil {
		hook(cont, name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.containers[cont][name]
	switch {
	case !ok:
		return nil, errBlobGone
	case bareETag(b.item.ETag) != bareETag(etag):
		return nil, errBlobChanged
	}
	return append([]byte(nil), b.content...), nil
}

func (m *memStorage) BlobURL(cont, name string) string {
	return m.base + "/" + cont + "/" + (&url.URL{Path: name}).EscapedPath()
}

func (m *memStorage) Receipt(ctx context.Context, k receiptKey) (receiptState, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.receipts[k.path()]
	return st, ok, nil
}

func (m *memStorage) PutReceipt(ctx context.Context, k receiptKey, s receiptState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.receipts[k.path()] = s
	return nil
}

func (m *memStorage) PutPoison(ctx context.Context, msg PoisonMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := poisonBlobName(msg)
	if _, ok := m.poison[key]; !ok {
		m.seq++
		m.poisonSeq[key] = m.seq
	}
	m.poison[key] = msg
	return nil
}

func (m *memStorage) PoisonMessages(ctx context.Context) ([]PoisonMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.poison))
	for k := range m.poison {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m.poisonSeq[keys[i]] < m.poisonSeq[keys[j]] })
	out := make([]PoisonMessage, len(keys))
	for i, k := range keys {
		out[i] = m.poison[k]
	}
	return out, nil
}
