package cosmosdb

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// These tests pin the fixes of dev/cosmos-emu.js with the SDK's own calls,
// so a change of the stand-in that breaks them shows here.

func TestEmulatorReadMissingIs404(t *testing.T) {
	c := testContainer(t, nil)
	_, err := c.cc.ReadItem(testCtx(t), azcosmos.NewPartitionKeyString("missing"), "missing", nil)
	if !isStatus(err, http.StatusNotFound) {
		t.Fatalf("ReadItem missing: %v, want a 404 response", err)
	}
}

type tenantDoc struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	V      int    `json:"v"`
}

func statuses(r azcosmos.TransactionalBatchResponse) []int32 {
	out := make([]int32, len(r.OperationResults))
	for i, o := range r.OperationResults {
		out[i] = o.StatusCode
	}
	return out
}

func equalStatuses(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEmulatorTransactionalBatch(t *testing.T) {
	cl := testClient(t)
	ctx := testCtx(t)
	db, err := cl.az.NewDatabase(testDB)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.EnsureSchema(ctx, testDB, nil); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("batch-%d", shared.seq.Add(1))
	if _, err := db.CreateContainer(ctx, azcosmos.ContainerProperties{
		ID:                     name,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/tenant"}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	cc, err := cl.az.NewContainer(testDB, name)
	if err != nil {
		t.Fatal(err)
	}
	pk := azcosmos.NewPartitionKeyString("t1")
	put := func(d tenantDoc) azcore.ETag {
		b, _ := json.Marshal(d)
		r, err := cc.UpsertItem(ctx, pk, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r.ETag
	}
	read := func(id string) (tenantDoc, azcore.ETag, bool) {
		r, err := cc.ReadItem(ctx, pk, id, nil)
		if isStatus(err, 404) {
			return tenantDoc{}, "", false
		}
		if err != nil {
			t.Fatalf("ReadItem %s: %v", id, err)
		}
		var d tenantDoc
		if err := json.Unmarshal(r.Value, &d); err != nil {
			t.Fatal(err)
		}
		return d, r.ETag, true
	}
	enc := func(d tenantDoc) []byte { b, _ := json.Marshal(d); return b }

	e1 := put(tenantDoc{ID: "d1", Tenant: "t1", V: 1})
	put(tenantDoc{ID: "d3", Tenant: "t1", V: 3})

	t.Run("success", func(t *testing.T) {
		b := cc.NewTransactionalBatch(pk)
		b.CreateItem(enc(tenantDoc{ID: "n1", Tenant: "t1", V: 1}), nil)
		b.ReadItem("d1", nil)
		b.ReplaceItem("d1", enc(tenantDoc{ID: "d1", Tenant: "t1", V: 2}), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &e1})
		p := azcosmos.PatchOperations{}
		p.AppendIncrement("/v", 5)
		b.PatchItem("n1", p, nil)
		r, err := cc.ExecuteTransactionalBatch(ctx, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(r); !r.Success || !equalStatuses(got, []int32{201, 200, 200, 200}) {
			t.Fatalf("Success=%v statuses=%v, want true [201 200 200 200]", r.Success, got)
		}
		if d, _, ok := read("n1"); !ok || d.V != 6 {
			t.Errorf("n1 = %+v (found %v), want v=6", d, ok)
		}
		if d, _, _ := read("d1"); d.V != 2 {
			t.Errorf("d1 = %+v, want v=2", d)
		}
	})

	t.Run("failure rolls back", func(t *testing.T) {
		before, etag, _ := read("d1")
		b := cc.NewTransactionalBatch(pk)
		b.UpsertItem(enc(tenantDoc{ID: "d1", Tenant: "t1", V: 100}), nil)
		b.CreateItem(enc(tenantDoc{ID: "n2", Tenant: "t1"}), nil)
		b.DeleteItem("d3", nil)
		b.CreateItem(enc(tenantDoc{ID: "d1", Tenant: "t1"}), nil) // 409
		b.ReadItem("d3", nil)
		r, err := cc.ExecuteTransactionalBatch(ctx, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(r); r.Success || !equalStatuses(got, []int32{424, 424, 424, 409, 424}) {
			t.Fatalf("Success=%v statuses=%v, want false [424 424 424 409 424]", r.Success, got)
		}
		if after, etag2, _ := read("d1"); after != before || etag2 != etag {
			t.Errorf("d1 not restored: %+v %q, want %+v %q", after, etag2, before, etag)
		}
		if _, _, ok := read("n2"); ok {
			t.Error("n2 created by a failed batch")
		}
		if _, _, ok := read("d3"); !ok {
			t.Error("d3 deleted by a failed batch")
		}
	})

	t.Run("stale etag fails", func(t *testing.T) {
		b := cc.NewTransactionalBatch(pk)
		b.UpsertItem(enc(tenantDoc{ID: "d3", Tenant: "t1", V: 30}), nil)
		b.ReplaceItem("d1", enc(tenantDoc{ID: "d1", Tenant: "t1", V: 9}), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &e1})
		r, err := cc.ExecuteTransactionalBatch(ctx, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(r); r.Success || !equalStatuses(got, []int32{424, 412}) {
			t.Fatalf("Success=%v statuses=%v, want false [424 412]", r.Success, got)
		}
		if d, _, _ := read("d3"); d.V != 3 {
			t.Errorf("d3 = %+v, want the original v=3", d)
		}
	})

	t.Run("document outside the batch partition", func(t *testing.T) {
		b := cc.NewTransactionalBatch(pk)
		b.CreateItem(enc(tenantDoc{ID: "n3", Tenant: "t1"}), nil)
		b.CreateItem(enc(tenantDoc{ID: "n4", Tenant: "other"}), nil)
		r, err := cc.ExecuteTransactionalBatch(ctx, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(r); r.Success || !equalStatuses(got, []int32{424, 400}) {
			t.Fatalf("Success=%v statuses=%v, want false [424 400]", r.Success, got)
		}
		if _, _, ok := read("n3"); ok {
			t.Error("n3 created by a failed batch")
		}
	})
}
