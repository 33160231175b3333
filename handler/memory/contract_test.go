package memory_test

import (
	"testing"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/docstore/docstoretest"
	"github.com/profileflow/profileflow/handler/memory"
)

// The in-memory table passes the same contract as the Cosmos DB adapter
// (handler/cosmosdb runs it against the stand-in).
func TestDocsContract(t *testing.T) {
	n := docstoretest.Run(t, func(*testing.T) docstore.Docs { return memory.NewDocs() })
	t.Logf("%d document contract cases", n)
}
