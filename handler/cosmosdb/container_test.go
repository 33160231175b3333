package cosmosdb

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

type doc struct {
	ID string `json:"id"`
}

func wantKind(t *testing.T, what string, err error, k domain.Kind) {
	t.Helper()
	if !domain.Is(err, k) {
		t.Fatalf("%s: err = %v (kind %v), want kind %v", what, err, domain.KindOf(err), k)
	}
}

// The adapter renders a docstore.Query as a parameterised filter only: no
// TOP, ORDER BY or OFFSET, which the gateway cannot serve across partitions.
func TestRenderQuery(t *testing.T) {
	tests := []struct {
		q      docstore.Query
		sql    string
		params []azcosmos.QueryParameter
	}{
		{docstore.Query{}, "SELECT * FROM c", []azcosmos.QueryParameter{}},
		{docstore.Query{Limit: 5}, "SELECT * FROM c", []azcosmos.QueryParameter{}},
		{
			docstore.Query{Where: []docstore.Cond{docstore.Where("type", docstore.Eq, "request"), docstore.Where("a.b", docstore.Lt, 3)}, Select: []string{"id", "value"}, Limit: 10},
			`SELECT VALUE {"id": c["id"], "value": c["value"]} FROM c WHERE c["type"] = @p0 AND c["a"]["b"] < @p1`,
			[]azcosmos.QueryParameter{{Name: "@p0", Value: "request"}, {Name: "@p1", Value: float64(3)}},
		},
	}
	for _, tt := range tests {
		sql, params, err := renderQuery(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if sql != tt.sql || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("renderQuery(%+v) = %q %v\nwant %q %v", tt.q, sql, params, tt.sql, tt.params)
		}
		for _, kw := range []string{"TOP", "ORDER BY", "OFFSET", "LIMIT", "DISTINCT", "GROUP BY"} {
			if strings.Contains(sql, kw) {
				t.Errorf("%q uses %s", sql, kw)
			}
		}
	}
	if _, _, err := renderQuery(docstore.Query{Where: []docstore.Cond{docstore.Where(`x"] OR 1=1`, docstore.Eq, 1)}}); !domain.Is(err, domain.KindInvalid) {
		t.Errorf("malformed field: %v", err)
	}
}

// A query the database refuses (HTTP 400) is KindInvalid.
func TestRefusedQueryIsInvalid(t *testing.T) {
	c := testContainer(t, nil)
	pager := c.cc.NewQueryItemsPager("SELECT * FROM c GROUP BY", azcosmos.NewPartitionKey(), nil)
	_, err := pager.NextPage(testCtx(t))
	wantKind(t, "malformed query", translate(err), domain.KindInvalid)
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
