package cosmosdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// The fidelity suite: the stand-in (dev/cosmos-emu.js) behaves like Azure
// where this adapter and the stores depend on it. Each test drives the
// stand-in with azcosmos directly and, where it applies, through Container;
// a change of the stand-in that loses one of these behaviours fails here.

// fidelityContainer creates a container partitioned on pkPath (with an
// optional default TTL in seconds) and returns its SDK client and name.
func fidelityContainer(t *testing.T, pkPath string, defaultTTL *int32) (*azcosmos.ContainerClient, string) {
	t.Helper()
	cl := testClient(t)
	ctx := testCtx(t)
	if err := cl.EnsureSchema(ctx, testDB, nil); err != nil {
		t.Fatal(err)
	}
	db, err := cl.az.NewDatabase(testDB)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("fid-%s-%d", nonName.ReplaceAllString(t.Name(), "-"), shared.seq.Add(1))
	if _, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
		ID:                     name,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{pkPath}},
		DefaultTimeToLive:      defaultTTL,
	}, nil); err != nil {
		t.Fatal(err)
	}
	cc, err := cl.az.NewContainer(testDB, name)
	if err != nil {
		t.Fatal(err)
	}
	return cc, name
}

func putJSON(t *testing.T, cc *azcosmos.ContainerClient, pk string, v map[string]any) azcosmos.ItemResponse {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cc.UpsertItem(testCtx(t), azcosmos.NewPartitionKeyString(pk), b, nil)
	if err != nil {
		t.Fatalf("upsert %v: %v", v, err)
	}
	return r
}

// queryIDs runs sql over pk (cross-partition when pk has no value) and
// returns the ids of all results, following continuation tokens, and the
// number of pages.
func queryIDs(ctx context.Context, cc *azcosmos.ContainerClient, sql string, pk azcosmos.PartitionKey, opts *azcosmos.QueryOptions) (ids []string, pages int, err error) {
	pager := cc.NewQueryItemsPager(sql, pk, opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, pages, err
		}
		pages++
		for _, raw := range page.Items {
			var d struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				return nil, pages, err
			}
			ids = append(ids, d.ID)
		}
	}
	slices.Sort(ids)
	return ids, pages, nil
}

func seedAttention(t *testing.T, cc *azcosmos.ContainerClient, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("req-%02d", i)
		putJSON(t, cc, id, map[string]any{
			"id": id, "attention": i%2 == 0, "lastUpdatedTime": fmt.Sprintf("2026-01-01T00:00:%02dZ", i), "n": i,
			"tags": []string{"a", "b"},
		})
	}
}

// Azure's gateway refuses a query over all partitions that needs state
// across pages with 400 BadRequest, substatus 1004 and this message; the Go
// SDK has no query engine to run it instead. Among them the sweeper's old
// query. The same queries scoped to one partition are served (by header, or
// by a WHERE that fixes the partition key to one value; where the stand-in's
// parser knows the syntax), and correlated subqueries, keywords in string
// literals and properties named like keywords are not refused.
func TestFidelityGatewayRefusesStatefulCrossPartitionQueries(t *testing.T) {
	cc, _ := fidelityContainer(t, "/id", nil)
	seedAttention(t, cc, 6)
	ctx := testCtx(t)
	before := azcosmos.QueryParameter{Name: "@before", Value: "2026-06-01T00:00:00Z"}
	tests := []struct {
		name, sql   string
		refused     bool
		inPartition bool // also run with a partition key and expect it served
	}{
		{"old sweeper query", "SELECT TOP 10 c.id FROM c WHERE c.attention = true AND c.lastUpdatedTime < @before", true, true},
		{"order by", "SELECT c.id FROM c WHERE c.attention = true ORDER BY c.lastUpdatedTime", true, true},
		{"order by lower case", "select c.id from c order   by c.lastUpdatedTime desc", true, true},
		{"offset limit", "SELECT c.id FROM c WHERE c.attention = true OFFSET 0 LIMIT 5", true, false},
		{"count", "SELECT VALUE COUNT(1) FROM c WHERE c.attention = true", true, true},
		{"sum", "SELECT VALUE SUM(c.n) FROM c", true, true},
		{"min", "SELECT VALUE MIN(c.n) FROM c", true, true},
		{"max", "SELECT VALUE MAX(c.n) FROM c", true, true},
		{"avg", "SELECT VALUE AVG(c.n) FROM c", true, true},
		{"distinct", "SELECT DISTINCT c.attention FROM c", true, false},
		{"group by", "SELECT c.attention, COUNT(1) AS n FROM c GROUP BY c.attention", true, false},
		{"top in FROM subquery", "SELECT * FROM (SELECT TOP 2 * FROM c) s", true, false},
		{"partition key pinned by OR is not one partition", "SELECT TOP 1 c.id FROM c WHERE c.id = 'req-00' OR c.id = 'req-01'", true, true},
		{"partition key pinned in WHERE routes to one partition", "SELECT TOP 1 c.id FROM c WHERE c.attention = true AND c.id = @id ORDER BY c.n", false, true},
		{"plain filter", "SELECT c.id FROM c WHERE c.attention = true AND c.lastUpdatedTime < @before", false, true},
		{"keywords in string literals", `SELECT c.id FROM c WHERE c.lastUpdatedTime != 'TOP 1 ORDER BY x' AND c.id != "count(1) group by"`, false, true},
		{"properties named like keywords", `SELECT c.id, c["top"], c["order"] FROM c WHERE c.count = 1 OR c["distinct"] = 2 OR NOT IS_DEFINED(c["group"]) OR c.id != ''`, false, true},
		{"correlated subqueries", "SELECT c.id, ARRAY(SELECT VALUE t FROM t IN c.tags) AS t FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'a')", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := &azcosmos.QueryOptions{}
			if strings.Contains(tt.sql, "@before") {
				opts.QueryParameters = append(opts.QueryParameters, before)
			}
			if strings.Contains(tt.sql, "@id") {
				opts.QueryParameters = append(opts.QueryParameters, azcosmos.QueryParameter{Name: "@id", Value: "req-00"})
			}
			_, _, err := queryIDs(ctx, cc, tt.sql, azcosmos.NewPartitionKey(), opts)
			if !tt.refused {
				if err != nil {
					t.Fatalf("served query failed across partitions: %v", err)
				}
			} else {
				var re *azcore.ResponseError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a 400 response", err)
				}
				var body struct{ Code, Message string }
				if err := json.NewDecoder(re.RawResponse.Body).Decode(&body); err != nil {
					t.Fatalf("error body: %v", err)
				}
				if re.StatusCode != http.StatusBadRequest || body.Code != "BadRequest" {
					t.Errorf("status %d code %q, want 400 BadRequest", re.StatusCode, body.Code)
				}
				if sub := re.RawResponse.Header.Get("x-ms-substatus"); sub != "1004" {
					t.Errorf("x-ms-substatus = %q, want 1004", sub)
				}
				if !strings.Contains(err.Error(), "cross partition query can not be directly served by the gateway") {
					t.Errorf("error lacks Azure's message: %v", err)
				}
				wantKind(t, "refused query through translate", translate(err), domain.KindInvalid)
			}
			if tt.inPartition {
				pager := cc.NewQueryItemsPager(tt.sql, azcosmos.NewPartitionKeyString("req-00"), opts)
				if _, err := pager.NextPage(ctx); err != nil {
					t.Errorf("single-partition query refused: %v", err)
				}
			}
		})
	}
}

// A filter across partitions is served page by page: the page size is
// honoured, continuation tokens carry on, and every match comes back once
// (also through Container.Query, whose Limit stops paging early).
func TestFidelityCrossPartitionFilterPages(t *testing.T) {
	c := testContainer(t, nil)
	ctx := testCtx(t)
	for i := range 25 {
		id := fmt.Sprintf("p-%02d", i)
		if _, err := c.Create(ctx, id, map[string]any{"id": id, "kind": "page", "odd": i%2 == 1}); err != nil {
			t.Fatal(err)
		}
	}
	pager := c.cc.NewQueryItemsPager("SELECT c.id FROM c WHERE c.kind = @k",
		azcosmos.NewPartitionKey(), &azcosmos.QueryOptions{PageSizeHint: 10,
			QueryParameters: []azcosmos.QueryParameter{{Name: "@k", Value: "page"}}})
	var sizes []int
	seen := map[string]bool{}
	tokens := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Items))
		if page.ContinuationToken != nil && *page.ContinuationToken != "" {
			tokens++
		}
		for _, raw := range page.Items {
			var d doc
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			if seen[d.ID] {
				t.Errorf("%s returned twice", d.ID)
			}
			seen[d.ID] = true
		}
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) || tokens != 2 {
		t.Errorf("page sizes %v with %d continuation tokens, want [10 10 5] with 2", sizes, tokens)
	}
	if len(seen) != 25 {
		t.Errorf("%d distinct results, want 25", len(seen))
	}
	n := 0
	err := c.Query(ctx, docstore.Query{Where: []docstore.Cond{docstore.Where("odd", docstore.Eq, true)}, Limit: 7},
		func([]byte) error { n++; return nil })
	if err != nil || n != 7 {
		t.Errorf("Container.Query with Limit 7: %d results, err %v", n, err)
	}
	n = 0
	err = c.Query(ctx, docstore.Query{Where: []docstore.Cond{docstore.Where("odd", docstore.Eq, true)}},
		func([]byte) error { n++; return nil })
	if err != nil || n != 12 {
		t.Errorf("Container.Query without limit: %d results, err %v; want 12", n, err)
	}
}

// A query given a partition key sees only that partition, for a container
// on /id (every profileflow container) and on another path.
func TestFidelityPartitionScopedQuery(t *testing.T) {
	ctx := testCtx(t)
	t.Run("pk /tenant", func(t *testing.T) {
		cc, _ := fidelityContainer(t, "/tenant", nil)
		for i, tenant := range []string{"t1", "t2", "t1", "t3", "t1", "t2"} {
			putJSON(t, cc, tenant, map[string]any{"id": "d" + strconv.Itoa(i), "tenant": tenant, "n": i})
		}
		ids, _, err := queryIDs(ctx, cc, "SELECT * FROM c", azcosmos.NewPartitionKeyString("t1"), nil)
		if err != nil || !slices.Equal(ids, []string{"d0", "d2", "d4"}) {
			t.Errorf("partition t1: %v %v, want [d0 d2 d4]", ids, err)
		}
		// ORDER BY and TOP are served within one partition.
		pager := cc.NewQueryItemsPager("SELECT TOP 2 c.id FROM c ORDER BY c.n DESC", azcosmos.NewPartitionKeyString("t1"), nil)
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(page.Items[0]) + string(page.Items[1]); len(page.Items) != 2 || got != `{"id":"d4"}{"id":"d2"}` {
			t.Errorf("TOP 2 ORDER BY n DESC in t1 = %q", page.Items)
		}
		ids, _, err = queryIDs(ctx, cc, "SELECT * FROM c", azcosmos.NewPartitionKeyString("nobody"), nil)
		if err != nil || len(ids) != 0 {
			t.Errorf("empty partition: %v %v", ids, err)
		}
		all, _, err := queryIDs(ctx, cc, "SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
		if err != nil || len(all) != 6 {
			t.Errorf("across partitions: %v %v, want 6", all, err)
		}
	})
	t.Run("pk /id", func(t *testing.T) {
		c := testContainer(t, nil)
		for _, id := range []string{"a", "b", "c"} {
			if _, err := c.Create(ctx, id, map[string]any{"id": id, "kind": "x"}); err != nil {
				t.Fatal(err)
			}
		}
		ids, _, err := queryIDs(ctx, c.cc, "SELECT * FROM c WHERE c.kind = 'x'", azcosmos.NewPartitionKeyString("b"), nil)
		if err != nil || !slices.Equal(ids, []string{"b"}) {
			t.Errorf("partition b: %v %v, want [b]", ids, err)
		}
	})
}

// TTL as Azure applies it: an item's ttl (seconds after its last write)
// counts only in a container with a default TTL (-1 = on, no default); the
// container's default applies to items without ttl; ttl -1 never expires.
// An expired item is absent to read, query, replace and patch, and its id
// is free again. Short TTLs (1 s) and one wait cover every case.
func TestFidelityTTL(t *testing.T) {
	ctx := testCtx(t)
	off := int32(-1)
	one := int32(1)
	itemTTL := testContainer(t, &off)    // TTL on, no default
	defaultTTL := testContainer(t, &one) // every item 1 s unless its own ttl
	noTTL := testContainer(t, nil)       // TTL off: item ttl ignored
	create := func(c *Container, id string, v map[string]any) {
		t.Helper()
		v["id"] = id
		if _, err := c.Create(ctx, id, v); err != nil {
			t.Fatal(err)
		}
	}
	create(itemTTL, "short", map[string]any{"ttl": 1, "kind": "t"})
	create(itemTTL, "forever", map[string]any{"kind": "t"})
	create(itemTTL, "never", map[string]any{"ttl": -1, "kind": "t"})
	create(defaultTTL, "default", map[string]any{"kind": "t"})
	create(defaultTTL, "never", map[string]any{"ttl": -1, "kind": "t"})
	create(defaultTTL, "longer", map[string]any{"ttl": 3600, "kind": "t"})
	create(noTTL, "ignored", map[string]any{"ttl": 1, "kind": "t"})

	var d map[string]any
	if _, err := itemTTL.Read(ctx, "short", &d); err != nil {
		t.Fatalf("item with ttl 1 gone at once: %v", err)
	}
	time.Sleep(2100 * time.Millisecond) // _ts is in whole seconds: ttl 1 has passed for sure

	visible := func(c *Container) []string {
		t.Helper()
		var ids []string
		err := c.Query(ctx, docstore.Query{Where: []docstore.Cond{docstore.Where("kind", docstore.Eq, "t")}},
			func(raw []byte) error {
				var x doc
				if err := json.Unmarshal(raw, &x); err != nil {
					return err
				}
				ids = append(ids, x.ID)
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	expired := func(c *Container, id string) {
		t.Helper()
		_, err := c.Read(ctx, id, &d)
		wantKind(t, "Read of expired "+id, err, domain.KindNotFound)
		_, err = c.cc.ReadItem(ctx, azcosmos.NewPartitionKeyString(id), id, nil)
		if !isStatus(err, http.StatusNotFound) {
			t.Errorf("SDK ReadItem of expired %s: %v, want 404", id, err)
		}
		_, err = c.Replace(ctx, id, map[string]any{"id": id, "kind": "t"}, "")
		wantKind(t, "Replace of expired "+id, err, domain.KindNotFound)
		_, err = c.cc.PatchItem(ctx, azcosmos.NewPartitionKeyString(id), id,
			func() azcosmos.PatchOperations { var p azcosmos.PatchOperations; p.AppendSet("/x", 1); return p }(), nil)
		if !isStatus(err, http.StatusNotFound) {
			t.Errorf("PatchItem of expired %s: %v, want 404", id, err)
		}
	}

	t.Run("item ttl", func(t *testing.T) {
		expired(itemTTL, "short")
		if got := visible(itemTTL); !slices.Equal(got, []string{"forever", "never"}) {
			t.Errorf("query sees %v, want [forever never]", got)
		}
		// The id is free again: a create succeeds.
		if _, err := itemTTL.Create(ctx, "short", map[string]any{"id": "short", "kind": "t"}); err != nil {
			t.Errorf("create over an expired item: %v", err)
		}
	})
	t.Run("container default ttl", func(t *testing.T) {
		expired(defaultTTL, "default")
		if got := visible(defaultTTL); !slices.Equal(got, []string{"longer", "never"}) {
			t.Errorf("query sees %v, want [longer never]", got)
		}
	})
	t.Run("no container ttl ignores item ttl", func(t *testing.T) {
		if _, err := noTTL.Read(ctx, "ignored", &d); err != nil {
			t.Errorf("item ttl took effect without a container TTL: %v", err)
		}
		if got := visible(noTTL); !slices.Equal(got, []string{"ignored"}) {
			t.Errorf("query sees %v, want [ignored]", got)
		}
	})
}

// Document responses carry x-ms-session-token; every write moves it on,
// and a read returns the token of the last write.
func TestFidelitySessionToken(t *testing.T) {
	cc, _ := fidelityContainer(t, "/id", nil)
	ctx := testCtx(t)
	token := func(what string, p *string) string {
		t.Helper()
		if p == nil || *p == "" {
			t.Fatalf("%s: no x-ms-session-token", what)
		}
		return *p
	}
	t1 := token("create", putJSON(t, cc, "s", map[string]any{"id": "s", "v": 1}).SessionToken)
	t2 := token("update", putJSON(t, cc, "s", map[string]any{"id": "s", "v": 2}).SessionToken)
	if t1 == t2 {
		t.Errorf("token %q unchanged by a write", t1)
	}
	r, err := cc.ReadItem(ctx, azcosmos.NewPartitionKeyString("s"), "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if t3 := token("read", r.SessionToken); t3 != t2 {
		t.Errorf("read token %q, want the last write's %q", t3, t2)
	}
	d, err := cc.DeleteItem(ctx, azcosmos.NewPartitionKeyString("s"), "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if t4 := token("delete", d.SessionToken); t4 == t2 {
		t.Errorf("token %q unchanged by a delete", t4)
	}
	// Azure's form: <partition key range id>:<version>#<lsn>, the lsn rising.
	lsn := func(tok string) int {
		i := strings.LastIndexByte(tok, '#')
		n, err := strconv.Atoi(tok[i+1:])
		if i < 0 || err != nil || !strings.HasPrefix(tok, "0:") {
			t.Fatalf("token %q is not 0:<version>#<lsn>", tok)
		}
		return n
	}
	if !(lsn(t1) < lsn(t2)) {
		t.Errorf("lsn did not rise: %q then %q", t1, t2)
	}
}

// faultCosmos returns the shared stand-in, with faults cleared when the
// test ends.
func faultCosmos(t *testing.T) *stack.Cosmos {
	t.Helper()
	testClient(t)
	cos := shared.cosmos
	t.Cleanup(func() {
		if err := cos.ClearFaults(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return cos
}

// adapterAttempts is how many times the adapter sends a request that keeps
// answering 429: the first try plus clientOptions' MaxRetries.
const adapterAttempts = 1 + 3

// Injected 429s with x-ms-retry-after-ms: fewer than the adapter's retries
// are retried away (reads and writes succeed, a create is stored once);
// more surface as KindTransient with the server's retry-after.
func TestFidelityInjected429(t *testing.T) {
	cos := faultCosmos(t)
	c := testContainer(t, nil)
	ctx := testCtx(t)
	match := "/colls/" + c.Name() + "/"
	if _, err := c.Create(ctx, "x", doc{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	inject := func(n int) {
		t.Helper()
		if err := cos.InjectFaults(ctx, stack.Fault{Status: 429, Count: n, RetryAfter: 30 * time.Millisecond, Match: match}); err != nil {
			t.Fatal(err)
		}
	}
	served := func() int {
		t.Helper()
		st, err := cos.Faults(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Served
	}

	inject(adapterAttempts - 1)
	var d doc
	if _, err := c.Read(ctx, "x", &d); err != nil || d.ID != "x" {
		t.Fatalf("Read after %d 429s: %v", adapterAttempts-1, err)
	}
	if got := served(); got != adapterAttempts-1 {
		t.Errorf("%d 429s answered, want %d", got, adapterAttempts-1)
	}

	inject(2)
	if _, err := c.Create(ctx, "y", doc{ID: "y"}); err != nil {
		t.Fatalf("Create after 2 429s: %v", err)
	}
	n := 0
	if err := c.Query(ctx, docstore.Query{Where: []docstore.Cond{docstore.Where("id", docstore.Eq, "y")}},
		func([]byte) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("created once? %d copies, err %v", n, err)
	}

	inject(adapterAttempts + 5)
	_, err := c.Read(ctx, "x", &d)
	wantKind(t, "Read under persistent 429", err, domain.KindTransient)
	var de *domain.Error
	if errors.As(err, &de) && de.RetryAfter != 30*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 30ms from x-ms-retry-after-ms", de.RetryAfter)
	}
	if got := served(); got != adapterAttempts {
		t.Errorf("%d attempts under persistent 429, want %d", got, adapterAttempts)
	}
	if !isStatus(errors.Unwrap(err), http.StatusTooManyRequests) {
		t.Errorf("cause %v, want a 429 response", errors.Unwrap(err))
	}
}

// An injected 503 surfaces as KindTransient at once: azcosmos retries a
// 503 only by failing over to another preferred region, and the adapter
// configures none (the caller's retry, e.g. the trigger's, takes over).
func TestFidelityInjected503(t *testing.T) {
	cos := faultCosmos(t)
	c := testContainer(t, nil)
	ctx := testCtx(t)
	match := "/colls/" + c.Name() + "/"
	if _, err := c.Create(ctx, "x", doc{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		call func() error
	}{
		{"Read", func() error { var d doc; _, err := c.Read(ctx, "x", &d); return err }},
		{"Replace", func() error { _, err := c.Replace(ctx, "x", doc{ID: "x"}, ""); return err }},
		{"Query", func() error { return c.Query(ctx, docstore.Query{}, func([]byte) error { return nil }) }},
	} {
		if err := cos.InjectFaults(ctx, stack.Fault{Status: 503, Count: 1, Match: match}); err != nil {
			t.Fatal(err)
		}
		err := op.call()
		wantKind(t, op.name+" under 503", err, domain.KindTransient)
		if !isStatus(errors.Unwrap(err), http.StatusServiceUnavailable) {
			t.Errorf("%s: cause %v, want a 503 response", op.name, errors.Unwrap(err))
		}
		st, err := cos.Faults(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Served != 1 || st.Remaining != 0 {
			t.Errorf("%s: fault state %+v, want served 1, remaining 0", op.name, st)
		}
		if err := op.call(); err != nil {
			t.Errorf("%s once the 503 is spent: %v", op.name, err)
		}
	}
}
