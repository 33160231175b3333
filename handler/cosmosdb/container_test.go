package cosmosdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/domain"
)

type doc struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	N      int    `json:"n"`
}

func wantKind(t *testing.T, what string, err error, k domain.Kind) {
	t.Helper()
	if !domain.Is(err, k) {
		t.Fatalf("%s: err = %v (kind %v), want kind %v", what, err, domain.KindOf(err), k)
	}
}

func TestContainerDocumentLifecycle(t *testing.T) {
	c := testContainer(t, nil)
	ctx := testCtx(t)

	etag1, err := c.Create(ctx, "a", doc{ID: "a", Status: "new", N: 1})
	if err != nil || etag1 == "" {
		t.Fatalf("Create = %q, %v", etag1, err)
	}
	_, err = c.Create(ctx, "a", doc{ID: "a", Status: "dup"})
	wantKind(t, "duplicate Create", err, domain.KindConflict)

	var got doc
	etag, err := c.Read(ctx, "a", &got)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if etag != etag1 || got != (doc{ID: "a", Status: "new", N: 1}) {
		t.Fatalf("Read = %+v %q, want the created doc with etag %q", got, etag, etag1)
	}

	_, err = c.Read(ctx, "missing", &got)
	wantKind(t, "Read missing", err, domain.KindNotFound)

	etag2, err := c.Replace(ctx, "a", doc{ID: "a", Status: "changed", N: 2}, etag1)
	if err != nil || etag2 == "" || etag2 == etag1 {
		t.Fatalf("Replace with current ETag = %q, %v (old %q)", etag2, err, etag1)
	}
	_, err = c.Replace(ctx, "a", doc{ID: "a", Status: "lost update"}, etag1)
	wantKind(t, "Replace with stale ETag", err, domain.KindStale)
	if _, err := c.Read(ctx, "a", &got); err != nil || got.Status != "changed" {
		t.Fatalf("after stale replace: %+v, %v", got, err)
	}
	_, err = c.Replace(ctx, "nope", doc{ID: "nope"}, etag2)
	wantKind(t, "Replace missing", err, domain.KindNotFound)

	// Upsert: insert, then overwrite.
	u1, err := c.Upsert(ctx, "b", doc{ID: "b", Status: "new", N: 10})
	if err != nil || u1 == "" {
		t.Fatalf("Upsert insert = %q, %v", u1, err)
	}
	u2, err := c.Upsert(ctx, "b", doc{ID: "b", Status: "done", N: 11})
	if err != nil || u2 == u1 {
		t.Fatalf("Upsert overwrite = %q, %v", u2, err)
	}
	if e, err := c.Read(ctx, "b", &got); err != nil || e != u2 || got.N != 11 {
		t.Fatalf("Read after upsert = %+v %q %v", got, e, err)
	}

	// Delete: stale ETag refused, then deleted, then gone.
	err = c.Delete(ctx, "a", etag1)
	wantKind(t, "Delete with stale ETag", err, domain.KindStale)
	if err := c.Delete(ctx, "a", etag2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = c.Read(ctx, "a", &got)
	wantKind(t, "Read deleted", err, domain.KindNotFound)
	wantKind(t, "Delete missing", c.Delete(ctx, "a", ""), domain.KindNotFound)
	if err := c.Delete(ctx, "b", ""); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
}

func TestContainerRejectsBadInput(t *testing.T) {
	c := testContainer(t, nil)
	ctx := testCtx(t)
	var v doc
	for _, id := range []string{"", "a/b", "a#b", "a?b"} {
		_, err := c.Read(ctx, id, &v)
		wantKind(t, "Read "+strconv.Quote(id), err, domain.KindInvalid)
		_, err = c.Create(ctx, id, doc{ID: id})
		wantKind(t, "Create "+strconv.Quote(id), err, domain.KindInvalid)
	}
	_, err := c.Create(ctx, "x", doc{ID: "y"})
	wantKind(t, "Create with mismatched id", err, domain.KindInternal)
	_, err = c.Upsert(ctx, "x", map[string]int{"n": 1})
	wantKind(t, "Upsert without id", err, domain.KindInternal)
	_, err = c.Create(ctx, "x", func() {})
	wantKind(t, "Create unencodable", err, domain.KindInternal)

	// A document that does not decode into v.
	if _, err := c.Create(ctx, "s", map[string]any{"id": "s", "n": "not a number"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(ctx, "s", &v)
	wantKind(t, "Read malformed", err, domain.KindInternal)
}

func TestContainerQuery(t *testing.T) {
	c := testContainer(t, nil)
	ctx := testCtx(t)
	const total = 120
	for i := 0; i < total; i++ {
		status := "open"
		if i%3 == 0 {
			status = "closed"
		}
		id := fmt.Sprintf("q%03d", i)
		if _, err := c.Create(ctx, id, doc{ID: id, Status: status, N: i}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		query  string
		params map[string]any
		want   int
	}{
		{"all", "SELECT * FROM c", nil, total},
		{"param with @", "SELECT * FROM c WHERE c.status = @s", map[string]any{"@s": "closed"}, total / 3},
		{"param without @", "SELECT * FROM c WHERE c.status = @s AND c.n >= @min", map[string]any{"s": "open", "min": 60}, 40},
		{"none", "SELECT * FROM c WHERE c.status = @s", map[string]any{"s": "other"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			err := c.Query(ctx, tt.query, tt.params, func(raw []byte) error {
				var d doc
				if err := json.Unmarshal(raw, &d); err != nil {
					return err
				}
				ids = append(ids, d.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tt.want {
				t.Errorf("%d results, want %d", len(ids), tt.want)
			}
			sort.Strings(ids)
			for i := 1; i < len(ids); i++ {
				if ids[i] == ids[i-1] {
					t.Fatalf("duplicate result %s", ids[i])
				}
			}
		})
	}

	stop := errors.New("stop")
	n := 0
	err := c.Query(ctx, "SELECT * FROM c", nil, func([]byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: err=%v after %d calls, want stop after 1", err, n)
	}
	err = c.Query(ctx, "SELECT * FROM c GROUP BY", nil, func([]byte) error { return nil })
	wantKind(t, "malformed query", err, domain.KindInvalid)
}

func TestEnsureSchemaIsIdempotent(t *testing.T) {
	cl := testClient(t)
	ctx := testCtx(t)
	ttl := int32(3600)
	n := shared.seq.Add(1)
	dbName, aName := fmt.Sprintf("schema-db-%d", n), fmt.Sprintf("schema-a-%d", n)
	specs := []ContainerSpec{{Name: aName}, {Name: fmt.Sprintf("schema-ttl-%d", n), DefaultTTL: &ttl}}
	for i := 0; i < 2; i++ {
		if err := cl.EnsureSchema(ctx, dbName, specs); err != nil {
			t.Fatalf("EnsureSchema #%d: %v", i+1, err)
		}
	}
	// An existing container keeps its documents.
	c := cl.Container(dbName, aName)
	if _, err := c.Create(ctx, "keep", doc{ID: "keep"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.EnsureSchema(ctx, dbName, specs); err != nil {
		t.Fatal(err)
	}
	var d doc
	if _, err := c.Read(ctx, "keep", &d); err != nil {
		t.Fatalf("document lost after EnsureSchema: %v", err)
	}
	// A container that does not exist.
	_, err := cl.Container(dbName, "no-such-container").Read(ctx, "x", &d)
	wantKind(t, "Read in missing container", err, domain.KindNotFound)
}

func TestUnreachableIsTransient(t *testing.T) {
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := New("http://127.0.0.1:"+strconv.Itoa(port)+"/", stack.CosmosKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var d doc
	_, err = cl.Container("db", "c").Read(ctx, "x", &d)
	wantKind(t, "Read from closed port", err, domain.KindTransient)
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New("", "k"); err == nil {
		t.Error("empty endpoint accepted")
	}
	if _, err := New("http://127.0.0.1:1/", "not base64!"); err == nil {
		t.Error("malformed key accepted")
	}
}
