package memory_test

import (
	"testing"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/docstore/docstoretest"
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
