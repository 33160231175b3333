package cosmosdb

import (
	"testing"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/docstore/docstoretest"
	"github.com/profileflow/profileflow/handler/stores/storestest"
)

// The Cosmos DB adapter against the stand-in passes the same contract as
// the in-memory table (handler/memory runs it too).
func TestDocsContract(t *testing.T) {
	n := docstoretest.Run(t, func(t *testing.T) docstore.Docs { return testContainer(t, nil) })
	t.Logf("%d document contract cases", n)
}

// The entity stores over the stand-in pass the same contract as over the
// in-memory table; containers have TTL on, as in production.
func TestStoresContract(t *testing.T) {
	ttl := int32(-1)
	n := storestest.Run(t, func(t *testing.T) docstore.Docs { return testContainer(t, &ttl) })
	t.Logf("%d entity store contract cases", n)
}
