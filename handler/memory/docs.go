package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Docs is the in-memory docstore.Docs: one table of JSON documents with
// Cosmos DB's semantics (see docstore.Docs). Values are stored as their
// JSON bytes, so reads and writes never share state with the caller. ETags
// look like Cosmos DB's (a quoted string) and come from one counter, so
// every write gets a new one. The fake ignores "ttl" fields. It is safe for
// concurrent use.
type Docs struct {
	mu   sync.Mutex
	m    map[string]stored
	seq  uint64
	hook func(op, id string) error
}

type stored struct {
	raw  []byte
	etag string
}

var _ docstore.Docs = (*Docs)(nil)

// NewDocs returns an empty table.
func NewDocs() *Docs { return &Docs{m: map[string]stored{}} }

// FailWith makes every later call first ask hook(op, id) — op is "read",
// "create", "replace", "upsert", "delete" or "query" (id "") — and return
// its non-nil error instead of running. nil removes the hook. For tests of
// callers' error handling.
func (d *Docs) FailWith(hook func(op, id string) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hook = hook
}

// Len is the number of documents.
func (d *Docs) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

func (d *Docs) nextETag() string {
	d.seq++
	return fmt.Sprintf(`"00000000-0000-0000-%04x-%012x"`, d.seq>>48&0xffff, d.seq&0xffffffffffff)
}

// begin locks d and runs the hook; on error d is unlocked again.
func (d *Docs) begin(op, id string) error {
	d.mu.Lock()
	if d.hook != nil {
		if err := d.hook(op, id); err != nil {
			d.mu.Unlock()
			return err
		}
	}
	return nil
}

func (d *Docs) Read(_ context.Context, id string, v any) (string, error) {
	if err := docstore.CheckID(id); err != nil {
		return "", err
	}
	if err := d.begin("read", id); err != nil {
		return "", err
	}
	s, ok := d.m[id]
	d.mu.Unlock()
	if !ok {
		return "", domain.E(domain.KindNotFound, "not found")
	}
	if err := docstore.Decode(s.raw, v); err != nil {
		return "", err
	}
	return s.etag, nil
}

func (d *Docs) Create(_ context.Context, id string, v any) (string, error) {
	b, err := docstore.Encode(id, v)
	if err != nil {
		return "", err
	}
	if err := d.begin("create", id); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	if _, ok := d.m[id]; ok {
		return "", domain.E(domain.KindConflict, "already exists")
	}
	return d.put(id, b), nil
}

func (d *Docs) Replace(_ context.Context, id string, v any, ifMatch string) (string, error) {
	b, err := docstore.Encode(id, v)
	if err != nil {
		return "", err
	}
	if err := d.begin("replace", id); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	cur, ok := d.m[id]
	if !ok {
		return "", domain.E(domain.KindNotFound, "not found")
	}
	if ifMatch != "" && cur.etag != ifMatch {
		return "", domain.E(domain.KindStale, "changed since it was read")
	}
	return d.put(id, b), nil
}

func (d *Docs) Upsert(_ context.Context, id string, v any) (string, error) {
	b, err := docstore.Encode(id, v)
	if err != nil {
		return "", err
	}
	if err := d.begin("upsert", id); err != nil {
		return "", err
	}
	defer d.mu.Unlock()
	return d.put(id, b), nil
}

func (d *Docs) put(id string, b []byte) string {
	s := stored{raw: b, etag: d.nextETag()}
	d.m[id] = s
	return s.etag
}

func (d *Docs) Delete(_ context.Context, id, ifMatch string) error {
	if err := docstore.CheckID(id); err != nil {
		return err
	}
	if err := d.begin("delete", id); err != nil {
		return err
	}
	defer d.mu.Unlock()
	cur, ok := d.m[id]
	if !ok {
		return domain.E(domain.KindNotFound, "not found")
	}
	if ifMatch != "" && cur.etag != ifMatch {
		return domain.E(domain.KindStale, "changed since it was read")
	}
	delete(d.m, id)
	return nil
}

// Query evaluates q over a snapshot of the table taken when it starts, in
// id order; each runs without the table's lock held.
func (d *Docs) Query(ctx context.Context, q docstore.Query, each func(raw []byte) error) error {
	vals, err := q.Check()
	if err != nil {
		return err
	}
	if err := d.begin("query", ""); err != nil {
		return err
	}
	ids := make([]string, 0, len(d.m))
	for id := range d.m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	docs := make([][]byte, len(ids))
	for i, id := range ids {
		docs[i] = d.m[id].raw
	}
	d.mu.Unlock()

	n := 0
	for _, raw := range docs {
		if q.Limit > 0 && n >= q.Limit {
			break
		}
		if err := ctx.Err(); err != nil {
			return domain.Wrap(domain.KindTransient, err, "the query was cancelled")
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return domain.Wrap(domain.KindInternal, err, "stored document is malformed")
		}
		if !matches(doc, q.Where, vals) {
			continue
		}
		n++
		if len(q.Select) > 0 {
			proj := map[string]any{}
			for _, f := range q.Select {
				if v, ok := doc[f]; ok {
					proj[f] = v
				}
			}
			if raw, err = json.Marshal(proj); err != nil {
				return domain.Wrap(domain.KindInternal, err, "projection cannot be encoded")
			}
		}
		if err := each(slices.Clone(raw)); err != nil {
			return err
		}
	}
	return nil
}

// matches evaluates the conditions as Cosmos DB does: a missing field or a
// value of another JSON type makes the condition undefined, which filters
// the document out.
func matches(doc map[string]any, conds []docstore.Cond, vals []any) bool {
	for i, c := range conds {
		got, ok := lookup(doc, c.Field)
		if !ok {
			return false
		}
		if c.Op == docstore.Contains {
			arr, _ := got.([]any)
			if !slices.ContainsFunc(arr, func(e any) bool { cmp, ok := compare(e, vals[i]); return ok && cmp == 0 }) {
				return false
			}
			continue
		}
		cmp, ok := compare(got, vals[i])
		if !ok {
			return false
		}
		var hold bool
		switch c.Op {
		case docstore.Eq:
			hold = cmp == 0
		case docstore.Lt:
			hold = cmp < 0
		case docstore.Le:
			hold = cmp <= 0
		case docstore.Gt:
			hold = cmp > 0
		case docstore.Ge:
			hold = cmp >= 0
		}
		if !hold {
			return false
		}
	}
	return true
}

func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for name := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[name]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// compare orders two JSON scalars of the same type; ok is false when the
// types differ or are not comparable.
func compare(a, b any) (int, bool) {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return strings.Compare(a, b), ok
	case float64:
		b, ok := b.(float64)
		switch {
		case !ok:
			return 0, false
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	case bool:
		b, ok := b.(bool)
		if !ok || a != b {
			return 1, ok // only Eq is allowed on bools
		}
		return 0, true
	case nil:
		return 0, b == nil
	}
	return 0, false
}
