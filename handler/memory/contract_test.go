package memory_test

import (
	"context"
	"slices"
	"testing"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/docstore/docstoretest"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/memory"
	"github.com/profileflow/profileflow/handler/stores/storestest"
)

// The in-memory table passes the same contract as the Cosmos DB adapter
// (handler/cosmosdb runs it against the stand-in).
func TestDocsContract(t *testing.T) {
	n := docstoretest.Run(t, func(*testing.T) docstore.Docs { return memory.NewDocs() })
	t.Logf("%d document contract cases", n)
}

// The entity stores over the in-memory table pass the same contract as over
// Cosmos DB.
func TestStoresContract(t *testing.T) {
	n := storestest.Run(t, func(*testing.T) docstore.Docs { return memory.NewDocs() })
	t.Logf("%d entity store contract cases", n)
}

func TestDocsFailWith(t *testing.T) {
	ctx := context.Background()
	d := memory.NewDocs()
	boom := domain.E(domain.KindTransient, "throttled")
	var seen []string
	d.FailWith(func(op, id string) error {
		seen = append(seen, op+" "+id)
		if op == "create" {
			return boom
		}
		return nil
	})
	if _, err := d.Create(ctx, "a", map[string]string{"id": "a"}); err != boom {
		t.Fatalf("Create = %v, want the injected error", err)
	}
	if d.Len() != 0 {
		t.Fatal("a failed create stored the document")
	}
	if _, err := d.Upsert(ctx, "a", map[string]string{"id": "a"}); err != nil {
		t.Fatal(err)
	}
	d.FailWith(nil)
	if _, err := d.Create(ctx, "b", map[string]string{"id": "b"}); err != nil || d.Len() != 2 {
		t.Fatalf("after removing the hook: %v, %d documents", err, d.Len())
	}
	if want := []string{"create a", "upsert a"}; !slices.Equal(seen, want) {
		t.Fatalf("hook saw %v, want %v", seen, want)
	}
}
