package stack

import (
	"context"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/cosmosdb"
)

// The stand-in counts each document operation once, by container and
// outcome, and ResetOps starts the counts again.
func TestCosmosOps(t *testing.T) {
	c := CosmosT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cosmosdb.New(c.Endpoint, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.EnsureSchema(ctx, "opsdb", []cosmosdb.ContainerSpec{{Name: "a"}, {Name: "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetOps(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := cl.Container("opsdb", "a"), cl.Container("opsdb", "b")
	doc := map[string]any{"id": "x", "n": 1}
	etag, err := a.Create(ctx, "x", doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create(ctx, "x", doc); err == nil {
		t.Fatal("second create succeeded")
	}
	var got map[string]any
	if _, err := a.Read(ctx, "x", &got); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Read(ctx, "missing", &got); err == nil {
		t.Fatal("missing read succeeded")
	}
	if _, err := a.Replace(ctx, "x", doc, etag); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Upsert(ctx, "y", map[string]any{"id": "y"}); err != nil {
		t.Fatal(err)
	}
	ops, err := c.Ops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (OpCounts{Read: 1, ReadMissing: 1, Write: 2, WriteRefused: 1}); ops["a"] != want {
		t.Errorf("container a: %+v, want %+v", ops["a"], want)
	}
	if want := (OpCounts{Write: 1}); ops["b"] != want {
		t.Errorf("container b: %+v, want %+v", ops["b"], want)
	}
	if err := c.ResetOps(ctx); err != nil {
		t.Fatal(err)
	}
	if ops, err := c.Ops(ctx); err != nil || len(ops) != 0 {
		t.Errorf("after ResetOps: %v %v", ops, err)
	}
}
