package cosmosdb

import (
	"testing"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/docstore/docstoretest"
)

// The Cosmos DB adapter against the stand-in passes the same contract as
// the in-memory table (handler/memory runs it too).
func TestDocsContract(t *testing.T) {
	n := docstoretest.Run(t, func(t *testing.T) docstore.Docs { return testContainer(t, nil) })
	t.Logf("%d document contract cases", n)
}
