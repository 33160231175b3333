package memory

import (
	"context"
	"strconv"
	"sync"

	"github.com/profileflow/profileflow/handler/domain"
)

// Docs is a generic in-memory document table with Cosmos-like semantics:
// Create → KindConflict on an existing id, Replace → KindStale on an ETag
// mismatch, reads of a missing id → KindNotFound. Values are copied in and
// out through their JSON-free Go value (callers store value types).
type Docs[T any] struct {
	mu   sync.Mutex
	m    map[string]entry[T]
	seq  int64
	what string
}

type entry[T any] struct {
	v    T
	etag string
}

// NewDocs returns an empty table; what names the kind of document in errors.
func NewDocs[T any](what string) *Docs[T] { return &Docs[T]{m: map[string]entry[T]{}, what: what} }

func (d *Docs[T]) next() string { d.seq++; return strconv.FormatInt(d.seq, 10) }

// Get returns the document and its ETag.
func (d *Docs[T]) Get(_ context.Context, id string) (T, string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[id]
	if !ok {
		var zero T
		return zero, "", domain.E(domain.KindNotFound, "%s %s not found", d.what, id)
	}
	return e.v, e.etag, nil
}

// Create stores a new document.
func (d *Docs[T]) Create(_ context.Context, id string, v T) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.m[id]; ok {
		return "", domain.E(domain.KindConflict, "%s %s already exists", d.what, id)
	}
	e := entry[T]{v: v, etag: d.next()}
	d.m[id] = e
	return e.etag, nil
}

// Replace writes v if the stored ETag equals ifMatch.
func (d *Docs[T]) Replace(_ context.Context, id string, v T, ifMatch string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.m[id]
	if !ok {
		return "", domain.E(domain.KindNotFound, "%s %s not found", d.what, id)
	}
	if cur.etag != ifMatch {
		return "", domain.E(domain.KindStale, "%s %s was changed concurrently", d.what, id)
	}
	e := entry[T]{v: v, etag: d.next()}
	d.m[id] = e
	return e.etag, nil
}

// Delete removes a document (ifMatch "" = unconditional).
func (d *Docs[T]) Delete(_ context.Context, id, ifMatch string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, ok := d.m[id]
	if !ok {
		return domain.E(domain.KindNotFound, "%s %s not found", d.what, id)
	}
	if ifMatch != "" && cur.etag != ifMatch {
		return domain.E(domain.KindStale, "%s %s was changed concurrently", d.what, id)
	}
	delete(d.m, id)
	return nil
}

// Len is the number of documents.
func (d *Docs[T]) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

// Each calls f for every document, in no particular order, under the lock
// (f must not call back into d).
func (d *Docs[T]) Each(f func(id string, v T)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, e := range d.m {
		f(id, e.v)
	}
}
