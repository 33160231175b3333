// Package docstoretest is the contract suite of docstore.Docs: one table
// of cases that every implementation must pass. The in-memory table and the
// Cosmos DB adapter (against the local stand-in) both run it, so the fake
// cannot drift from the real thing.
package docstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Case is one contract case; it gets an empty container.
type Case struct {
	Name string
	Run  func(t *testing.T, ctx context.Context, d docstore.Docs)
}

// Run runs every case of Cases as a subtest, each against a fresh, empty
// container from newDocs. It returns the number of cases run.
func Run(t *testing.T, newDocs func(t *testing.T) docstore.Docs) int {
	return RunCases(t, Cases(), newDocs)
}

// RunCases runs cs as subtests, each against a fresh, empty container from
// newDocs with a one-minute deadline. It returns len(cs).
func RunCases(t *testing.T, cs []Case, newDocs func(t *testing.T) docstore.Docs) int {
	for _, c := range cs {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c.Run(t, ctx, newDocs(t))
		})
	}
	return len(cs)
}

// Doc is the document type of the cases.
type Doc struct {
	ID     string            `json:"id"`
	Status string            `json:"status,omitempty"`
	N      int               `json:"n"`
	Tags   []string          `json:"tags,omitempty"`
	Meta   map[string]string `json:"meta,omitempty"`
}

func wantKind(t *testing.T, what string, err error, k domain.Kind) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != k {
		t.Fatalf("%s: err = %v (kind %v), want a *domain.Error of kind %v", what, err, domain.KindOf(err), k)
	}
}

func mustCreate(t *testing.T, ctx context.Context, d docstore.Docs, v Doc) string {
	t.Helper()
	etag, err := d.Create(ctx, v.ID, v)
	if err != nil || etag == "" {
		t.Fatalf("Create %s = %q, %v", v.ID, etag, err)
	}
	return etag
}

func mustRead(t *testing.T, ctx context.Context, d docstore.Docs, id string) (Doc, string) {
	t.Helper()
	var v Doc
	etag, err := d.Read(ctx, id, &v)
	if err != nil {
		t.Fatalf("Read %s: %v", id, err)
	}
	return v, etag
}

func equal(a, b Doc) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func query(t *testing.T, ctx context.Context, d docstore.Docs, q docstore.Query) []string {
	t.Helper()
	var ids []string
	err := d.Query(ctx, q, func(raw []byte) error {
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		ids = append(ids, v.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Query %+v: %v", q, err)
	}
	slices.Sort(ids)
	return ids
}

// seed creates q000…q{n-1}: n = i, status "closed" when i%3 == 0 else
// "open", and meta.stage "s{i%2}".
func seed(t *testing.T, ctx context.Context, d docstore.Docs, n int) {
	t.Helper()
	for i := range n {
		status := "open"
		if i%3 == 0 {
			status = "closed"
		}
		mustCreate(t, ctx, d, Doc{ID: fmt.Sprintf("q%03d", i), Status: status, N: i, Meta: map[string]string{"stage": fmt.Sprintf("s%d", i%2)}})
	}
}

func ids(format string, ns ...int) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = fmt.Sprintf(format, n)
	}
	return out
}

func span(from, to int, keep func(int) bool) []int {
	var out []int
	for i := from; i < to; i++ {
		if keep == nil || keep(i) {
			out = append(out, i)
		}
	}
	return out
}

// Cases returns the contract table.
func Cases() []Case {
	return []Case{
		{"create then read returns the document and its ETag", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			in := Doc{ID: "a", Status: "new", N: 1, Tags: []string{"x", "y"}, Meta: map[string]string{"k": "v"}}
			etag := mustCreate(t, ctx, d, in)
			got, etag2 := mustRead(t, ctx, d, "a")
			if !equal(got, in) || etag2 != etag {
				t.Fatalf("Read = %+v %q, want %+v %q", got, etag2, in, etag)
			}
		}},
		{"create of an existing id is Conflict and keeps the document", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			etag := mustCreate(t, ctx, d, Doc{ID: "a", Status: "first"})
			_, err := d.Create(ctx, "a", Doc{ID: "a", Status: "second"})
			wantKind(t, "duplicate Create", err, domain.KindConflict)
			if got, e := mustRead(t, ctx, d, "a"); got.Status != "first" || e != etag {
				t.Fatalf("after duplicate create: %+v %q", got, e)
			}
		}},
		{"read of a missing id is NotFound", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			var v Doc
			_, err := d.Read(ctx, "missing", &v)
			wantKind(t, "Read missing", err, domain.KindNotFound)
		}},
		{"replace with the current ETag writes and returns a new ETag", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e1 := mustCreate(t, ctx, d, Doc{ID: "a", Status: "new"})
			e2, err := d.Replace(ctx, "a", Doc{ID: "a", Status: "changed", N: 2}, e1)
			if err != nil || e2 == "" || e2 == e1 {
				t.Fatalf("Replace = %q, %v (old %q)", e2, err, e1)
			}
			if got, e := mustRead(t, ctx, d, "a"); got.Status != "changed" || got.N != 2 || e != e2 {
				t.Fatalf("after replace: %+v %q, want etag %q", got, e, e2)
			}
		}},
		{"replace with a stale ETag is Stale and keeps the document", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e1 := mustCreate(t, ctx, d, Doc{ID: "a", Status: "new"})
			e2, err := d.Replace(ctx, "a", Doc{ID: "a", Status: "winner"}, e1)
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Replace(ctx, "a", Doc{ID: "a", Status: "lost update"}, e1)
			wantKind(t, "Replace with stale ETag", err, domain.KindStale)
			if got, e := mustRead(t, ctx, d, "a"); got.Status != "winner" || e != e2 {
				t.Fatalf("after stale replace: %+v %q", got, e)
			}
		}},
		{"replace of a missing id is NotFound", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e1 := mustCreate(t, ctx, d, Doc{ID: "a"})
			_, err := d.Replace(ctx, "b", Doc{ID: "b"}, e1)
			wantKind(t, "Replace missing with an ETag", err, domain.KindNotFound)
			_, err = d.Replace(ctx, "b", Doc{ID: "b"}, "")
			wantKind(t, "Replace missing without an ETag", err, domain.KindNotFound)
		}},
		{"replace without an ETag is unconditional", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e1 := mustCreate(t, ctx, d, Doc{ID: "a", N: 1})
			if _, err := d.Replace(ctx, "a", Doc{ID: "a", N: 2}, e1); err != nil {
				t.Fatal(err)
			}
			e3, err := d.Replace(ctx, "a", Doc{ID: "a", N: 3}, "")
			if err != nil {
				t.Fatalf("unconditional Replace: %v", err)
			}
			if got, e := mustRead(t, ctx, d, "a"); got.N != 3 || e != e3 {
				t.Fatalf("after replace: %+v %q", got, e)
			}
		}},
		{"upsert inserts, then overwrites", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			u1, err := d.Upsert(ctx, "b", Doc{ID: "b", Status: "new", N: 10})
			if err != nil || u1 == "" {
				t.Fatalf("Upsert insert = %q, %v", u1, err)
			}
			if got, e := mustRead(t, ctx, d, "b"); got.N != 10 || e != u1 {
				t.Fatalf("after insert: %+v %q", got, e)
			}
			u2, err := d.Upsert(ctx, "b", Doc{ID: "b", Status: "done", N: 11})
			if err != nil || u2 == "" || u2 == u1 {
				t.Fatalf("Upsert overwrite = %q, %v (old %q)", u2, err, u1)
			}
			if got, e := mustRead(t, ctx, d, "b"); got.N != 11 || got.Status != "done" || e != u2 {
				t.Fatalf("after overwrite: %+v %q", got, e)
			}
		}},
		{"delete with a stale ETag is Stale and keeps the document", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e1 := mustCreate(t, ctx, d, Doc{ID: "a"})
			if _, err := d.Replace(ctx, "a", Doc{ID: "a", N: 1}, e1); err != nil {
				t.Fatal(err)
			}
			wantKind(t, "Delete with stale ETag", d.Delete(ctx, "a", e1), domain.KindStale)
			if got, _ := mustRead(t, ctx, d, "a"); got.N != 1 {
				t.Fatalf("after stale delete: %+v", got)
			}
		}},
		{"delete with the current ETag removes the document", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e1 := mustCreate(t, ctx, d, Doc{ID: "a"})
			mustCreate(t, ctx, d, Doc{ID: "other"})
			if err := d.Delete(ctx, "a", e1); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			var v Doc
			_, err := d.Read(ctx, "a", &v)
			wantKind(t, "Read deleted", err, domain.KindNotFound)
			mustRead(t, ctx, d, "other")
		}},
		{"delete without an ETag is unconditional", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			mustCreate(t, ctx, d, Doc{ID: "a"})
			if err := d.Delete(ctx, "a", ""); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			var v Doc
			_, err := d.Read(ctx, "a", &v)
			wantKind(t, "Read deleted", err, domain.KindNotFound)
		}},
		{"delete of a missing id is NotFound", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			wantKind(t, "Delete missing", d.Delete(ctx, "a", ""), domain.KindNotFound)
			e := mustCreate(t, ctx, d, Doc{ID: "a"})
			if err := d.Delete(ctx, "a", e); err != nil {
				t.Fatal(err)
			}
			wantKind(t, "Delete twice", d.Delete(ctx, "a", e), domain.KindNotFound)
		}},
		{"every write gets a new ETag", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seen := map[string]string{}
			note := func(what, etag string, err error) {
				t.Helper()
				if err != nil || etag == "" {
					t.Fatalf("%s = %q, %v", what, etag, err)
				}
				if prev, dup := seen[etag]; dup {
					t.Fatalf("%s returned the ETag %q of %s", what, etag, prev)
				}
				seen[etag] = what
			}
			v := Doc{ID: "a", N: 1}
			e, err := d.Create(ctx, "a", v)
			note("create", e, err)
			e, err = d.Replace(ctx, "a", v, e) // same content
			note("replace with the same content", e, err)
			e, err = d.Upsert(ctx, "a", v)
			note("upsert with the same content", e, err)
			if err := d.Delete(ctx, "a", e); err != nil {
				t.Fatal(err)
			}
			e, err = d.Create(ctx, "a", v)
			note("create after delete", e, err)
			e, err = d.Create(ctx, "b", Doc{ID: "b", N: 2})
			note("create of another id", e, err)
		}},
		{"stored documents are copies", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			in := Doc{ID: "a", Tags: []string{"x"}, Meta: map[string]string{"k": "v"}}
			mustCreate(t, ctx, d, in)
			in.Tags[0], in.Meta["k"] = "changed", "changed"
			got, etag := mustRead(t, ctx, d, "a")
			if got.Tags[0] != "x" || got.Meta["k"] != "v" {
				t.Fatalf("the caller's value changed the stored document: %+v", got)
			}
			got.Tags[0], got.Meta["k"] = "changed", "changed"
			again, _ := mustRead(t, ctx, d, "a")
			if again.Tags[0] != "x" || again.Meta["k"] != "v" {
				t.Fatalf("a read value changed the stored document: %+v", again)
			}
			upd := Doc{ID: "a", Tags: []string{"y"}}
			if _, err := d.Replace(ctx, "a", upd, etag); err != nil {
				t.Fatal(err)
			}
			upd.Tags[0] = "changed"
			if got, _ := mustRead(t, ctx, d, "a"); got.Tags[0] != "y" {
				t.Fatalf("the replaced value changed the stored document: %+v", got)
			}
		}},
		{"read into a raw message gets the stored JSON", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			mustCreate(t, ctx, d, Doc{ID: "a", Status: "s", N: 7})
			var raw json.RawMessage
			if _, err := d.Read(ctx, "a", &raw); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("raw %s: %v", raw, err)
			}
			if m["id"] != "a" || m["status"] != "s" || m["n"] != float64(7) {
				t.Fatalf("raw document = %s", raw)
			}
		}},
		{"non-ASCII values round-trip", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			id := "a b~!$&'()*+,;=:@"
			in := Doc{ID: id, Status: "Zoë \u2028 \"quoted\" <tag> &", Meta: map[string]string{"ключ": "值"}}
			mustCreate(t, ctx, d, in)
			if got, _ := mustRead(t, ctx, d, id); !equal(got, in) {
				t.Fatalf("Read = %+v, want %+v", got, in)
			}
		}},
		{"ids Cosmos DB cannot store are Invalid", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			for _, id := range []string{"", "a/b", `a\b`, "a?b", "a#b", " a", "a ", "Müller", "a\nb", strings.Repeat("x", docstore.MaxIDBytes+1)} {
				var v Doc
				_, err := d.Read(ctx, id, &v)
				wantKind(t, fmt.Sprintf("Read %q", id), err, domain.KindInvalid)
				_, err = d.Create(ctx, id, Doc{ID: id})
				wantKind(t, fmt.Sprintf("Create %q", id), err, domain.KindInvalid)
				_, err = d.Replace(ctx, id, Doc{ID: id}, "")
				wantKind(t, fmt.Sprintf("Replace %q", id), err, domain.KindInvalid)
				_, err = d.Upsert(ctx, id, Doc{ID: id})
				wantKind(t, fmt.Sprintf("Upsert %q", id), err, domain.KindInvalid)
				wantKind(t, fmt.Sprintf("Delete %q", id), d.Delete(ctx, id, ""), domain.KindInvalid)
			}
			long := strings.Repeat("x", docstore.MaxIDBytes)
			mustCreate(t, ctx, d, Doc{ID: long})
			mustRead(t, ctx, d, long)
		}},
		{"documents that do not carry their id are Internal and not stored", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			_, err := d.Create(ctx, "x", Doc{ID: "y"})
			wantKind(t, "Create with another id", err, domain.KindInternal)
			_, err = d.Upsert(ctx, "x", map[string]int{"n": 1})
			wantKind(t, "Upsert without id", err, domain.KindInternal)
			_, err = d.Create(ctx, "x", func() {})
			wantKind(t, "Create of an unencodable value", err, domain.KindInternal)
			_, err = d.Create(ctx, "x", []string{"x"})
			wantKind(t, "Create of a non-object", err, domain.KindInternal)
			if got := query(t, ctx, d, docstore.Query{}); len(got) != 0 {
				t.Fatalf("refused writes stored %v", got)
			}
		}},
		{"documents over 2 MB are Invalid", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			_, err := d.Create(ctx, "big", Doc{ID: "big", Status: strings.Repeat("x", docstore.MaxDocBytes)})
			wantKind(t, "Create 2 MB", err, domain.KindInvalid)
			var v Doc
			_, err = d.Read(ctx, "big", &v)
			wantKind(t, "Read refused", err, domain.KindNotFound)
		}},
		{"a stored document that does not fit the target is Internal", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			if _, err := d.Create(ctx, "s", map[string]any{"id": "s", "n": "not a number"}); err != nil {
				t.Fatal(err)
			}
			var v Doc
			_, err := d.Read(ctx, "s", &v)
			wantKind(t, "Read malformed", err, domain.KindInternal)
		}},
		{"concurrent replaces with one ETag: exactly one wins", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			e := mustCreate(t, ctx, d, Doc{ID: "a"})
			const n = 6
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				won    []int
				others []error
			)
			for i := range n {
				wg.Go(func() {
					_, err := d.Replace(ctx, "a", Doc{ID: "a", N: i + 1}, e)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						won = append(won, i+1)
					case !domain.Is(err, domain.KindStale):
						others = append(others, err)
					}
				})
			}
			wg.Wait()
			if len(won) != 1 || len(others) > 0 {
				t.Fatalf("winners %v, other errors %v; want exactly one winner and only Stale losers", won, others)
			}
			if got, _ := mustRead(t, ctx, d, "a"); got.N != won[0] {
				t.Fatalf("stored n = %d, want the winner's %d", got.N, won[0])
			}
		}},
		{"Retry makes concurrent read-modify-writes lose nothing", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			mustCreate(t, ctx, d, Doc{ID: "counter"})
			const n = 5
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					errs[i] = docstore.Retry(ctx, "the counter", func(ctx context.Context) error {
						var c Doc
						etag, err := d.Read(ctx, "counter", &c)
						if err != nil {
							return err
						}
						c.N++
						_, err = d.Replace(ctx, "counter", c, etag)
						return err
					})
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("increment %d: %v", i, err)
				}
			}
			if got, _ := mustRead(t, ctx, d, "counter"); got.N != n {
				t.Fatalf("counter = %d, want %d", got.N, n)
			}
		}},
		{"query without conditions returns every document once", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 30)
			if got, want := query(t, ctx, d, docstore.Query{}), ids("q%03d", span(0, 30, nil)...); !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		}},
		{"query filters by string equality", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 12)
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("status", docstore.Eq, "closed")}})
			if want := ids("q%03d", 0, 3, 6, 9); !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
			if got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("status", docstore.Eq, "other")}}); len(got) != 0 {
				t.Fatalf("no match: ids = %v", got)
			}
		}},
		{"query compares numbers with < <= > >=", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 10)
			for _, tc := range []struct {
				op   docstore.Op
				want []int
			}{
				{docstore.Lt, span(0, 4, nil)}, {docstore.Le, span(0, 5, nil)},
				{docstore.Gt, span(5, 10, nil)}, {docstore.Ge, span(4, 10, nil)}, {docstore.Eq, []int{4}},
			} {
				got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("n", tc.op, 4)}})
				if want := ids("q%03d", tc.want...); !slices.Equal(got, want) {
					t.Errorf("n %s 4: ids = %v, want %v", tc.op, got, want)
				}
			}
		}},
		{"query compares strings by code point", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			for _, s := range []string{"2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", "B", "a", "Z"} {
				id := strings.NewReplacer(":", "-").Replace(s)
				mustCreate(t, ctx, d, Doc{ID: id, Status: s})
			}
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{
				docstore.Where("status", docstore.Ge, time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)),
				docstore.Where("status", docstore.Lt, "2026-11-30T12"),
			}})
			if want := []string{"2026-11-30T10-00-00Z", "2026-11-30T11-00-00Z"}; !slices.Equal(got, want) {
				t.Fatalf("time range: ids = %v, want %v", got, want)
			}
			got = query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("status", docstore.Gt, "B")}})
			if want := []string{"Z", "a"}; !slices.Equal(got, want) {
				t.Fatalf(`status > "B": ids = %v, want %v (upper case sorts before lower case)`, got, want)
			}
		}},
		{"query combines conditions with AND", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 12)
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{
				docstore.Where("status", docstore.Eq, "open"),
				docstore.Where("n", docstore.Ge, 5),
				docstore.Where("n", docstore.Lt, 10),
			}})
			if want := ids("q%03d", 5, 7, 8); !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		}},
		{"query finds an element of an array field with contains", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			mustCreate(t, ctx, d, Doc{ID: "a1", Tags: []string{"ProfileApprover", "ProfileSupervisor"}, N: 1})
			mustCreate(t, ctx, d, Doc{ID: "a2", Tags: []string{"ProfileSupervisor"}, N: 2})
			mustCreate(t, ctx, d, Doc{ID: "a3", Status: "ProfileApprover", N: 3}) // not an array
			mustCreate(t, ctx, d, Doc{ID: "a4", Tags: []string{"profileapprover"}, N: 4})
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("tags", docstore.Contains, "ProfileApprover")}})
			if want := []string{"a1"}; !slices.Equal(got, want) {
				t.Fatalf("tags contains ProfileApprover: ids = %v, want %v", got, want)
			}
			got = query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("tags", docstore.Contains, "ProfileSupervisor"), docstore.Where("n", docstore.Ge, 2)}})
			if want := []string{"a2"}; !slices.Equal(got, want) {
				t.Fatalf("tags contains ProfileSupervisor and n >= 2: ids = %v, want %v", got, want)
			}
			if got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("status", docstore.Contains, "ProfileApprover")}}); len(got) != 0 {
				t.Fatalf("contains on a string field: ids = %v, want none", got)
			}
			err := d.Query(ctx, docstore.Query{Where: []docstore.Cond{docstore.Where("tags", docstore.Contains, nil)}}, func([]byte) error { return nil })
			wantKind(t, "contains null", err, domain.KindInvalid)
		}},
		{"query filters on nested fields", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 6)
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("meta.stage", docstore.Eq, "s1")}})
			if want := ids("q%03d", 1, 3, 5); !slices.Equal(got, want) {
				t.Fatalf("ids = %v, want %v", got, want)
			}
		}},
		{"query filters on bools", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			for i, b := range []bool{true, false, true} {
				id := fmt.Sprintf("b%d", i)
				if _, err := d.Create(ctx, id, map[string]any{"id": id, "flag": b}); err != nil {
					t.Fatal(err)
				}
			}
			mustCreate(t, ctx, d, Doc{ID: "noflag"})
			if got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("flag", docstore.Eq, true)}}); !slices.Equal(got, []string{"b0", "b2"}) {
				t.Fatalf("flag = true: %v", got)
			}
			if got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("flag", docstore.Eq, false)}}); !slices.Equal(got, []string{"b1"}) {
				t.Fatalf("flag = false: %v", got)
			}
		}},
		{"query skips documents lacking the field or holding another type", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			for id, v := range map[string]any{
				"num": 5, "str": "5", "null": nil, "bool": true, "obj": map[string]int{"x": 5}, "arr": []int{5},
			} {
				if _, err := d.Create(ctx, id, map[string]any{"id": id, "v": v}); err != nil {
					t.Fatal(err)
				}
			}
			mustCreate(t, ctx, d, Doc{ID: "none"})
			for _, tc := range []struct {
				c    docstore.Cond
				want []string
			}{
				{docstore.Where("v", docstore.Ge, 0), []string{"num"}},
				{docstore.Where("v", docstore.Lt, 10), []string{"num"}},
				{docstore.Where("v", docstore.Ge, ""), []string{"str"}},
				{docstore.Where("v", docstore.Eq, "5"), []string{"str"}},
				{docstore.Where("v", docstore.Eq, 5), []string{"num"}},
				{docstore.Where("v", docstore.Eq, nil), []string{"null"}},
				{docstore.Where("v.x", docstore.Eq, 5), []string{"obj"}},
			} {
				if got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{tc.c}}); !slices.Equal(got, tc.want) {
					t.Errorf("%s %s %v: ids = %v, want %v", tc.c.Field, tc.c.Op, tc.c.Value, got, tc.want)
				}
			}
		}},
		{"query fields named like SQL keywords work", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			for i, v := range []string{"a", "b"} {
				id := fmt.Sprintf("k%d", i)
				if _, err := d.Create(ctx, id, map[string]any{"id": id, "value": v, "select": i, "from": map[string]string{"order": v}}); err != nil {
					t.Fatal(err)
				}
			}
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{
				docstore.Where("value", docstore.Eq, "b"), docstore.Where("select", docstore.Ge, 1), docstore.Where("from.order", docstore.Eq, "b"),
			}, Select: []string{"id", "value"}})
			if !slices.Equal(got, []string{"k1"}) {
				t.Fatalf("ids = %v, want [k1]", got)
			}
		}},
		{"query limit stops after that many results", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 20)
			open := ids("q%03d", span(0, 20, func(i int) bool { return i%3 != 0 })...)
			for _, limit := range []int{1, 3, 13, 14, 50} {
				calls := 0
				var got []string
				err := d.Query(ctx, docstore.Query{Where: []docstore.Cond{docstore.Where("status", docstore.Eq, "open")}, Limit: limit}, func(raw []byte) error {
					calls++
					var v Doc
					if err := json.Unmarshal(raw, &v); err != nil {
						return err
					}
					got = append(got, v.ID)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want := min(limit, len(open))
				slices.Sort(got)
				if calls != want || len(slices.Compact(slices.Clone(got))) != want {
					t.Fatalf("limit %d: %d calls, ids %v; want %d distinct", limit, calls, got, want)
				}
				for _, id := range got {
					if !slices.Contains(open, id) {
						t.Fatalf("limit %d: %s does not match the filter", limit, id)
					}
				}
			}
		}},
		{"query pages through more documents than one page", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 120)
			got := query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("n", docstore.Ge, 0)}})
			if want := ids("q%03d", span(0, 120, nil)...); !slices.Equal(got, want) {
				t.Fatalf("%d ids, want 120 distinct: %v", len(got), got)
			}
			got = query(t, ctx, d, docstore.Query{Where: []docstore.Cond{docstore.Where("n", docstore.Ge, 0)}, Limit: 110})
			if len(slices.Compact(got)) != 110 {
				t.Fatalf("limit 110: %d distinct ids", len(slices.Compact(got)))
			}
		}},
		{"query projects onto the selected fields", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			mustCreate(t, ctx, d, Doc{ID: "a", Status: "open", N: 3, Tags: []string{"t"}})
			var rows []map[string]any
			err := d.Query(ctx, docstore.Query{Select: []string{"id", "n", "missing"}}, func(raw []byte) error {
				var m map[string]any
				if err := json.Unmarshal(raw, &m); err != nil {
					return err
				}
				rows = append(rows, m)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || len(rows[0]) != 2 || rows[0]["id"] != "a" || rows[0]["n"] != float64(3) {
				t.Fatalf("rows = %v, want [{id:a n:3}]", rows)
			}
		}},
		{"an error from each stops the query and is returned as is", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 5)
			stop := errors.New("stop")
			n := 0
			err := d.Query(ctx, docstore.Query{}, func([]byte) error { n++; return stop })
			if !errors.Is(err, stop) || n != 1 {
				t.Fatalf("err = %v after %d calls, want stop after 1", err, n)
			}
		}},
		{"malformed queries are Invalid", func(t *testing.T, ctx context.Context, d docstore.Docs) {
			seed(t, ctx, d, 2)
			for name, q := range map[string]docstore.Query{
				"injected field":   {Where: []docstore.Cond{docstore.Where(`n"] OR 1=1 --`, docstore.Eq, 1)}},
				"unknown operator": {Where: []docstore.Cond{docstore.Where("n", "<>", 1)}},
				"object value":     {Where: []docstore.Cond{docstore.Where("n", docstore.Eq, map[string]int{})}},
				"negative limit":   {Limit: -1},
				"nested select":    {Select: []string{"meta.stage"}},
			} {
				called := false
				err := d.Query(ctx, q, func([]byte) error { called = true; return nil })
				wantKind(t, name, err, domain.KindInvalid)
				if called {
					t.Fatalf("%s: results were returned", name)
				}
			}
		}},
	}
}
