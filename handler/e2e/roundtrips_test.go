//go:build bench

package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
)

// Cosmos DB round trips per request kind, counted at the Cosmos DB
// stand-in (its request log) while one request of the kind runs through
// the local system, with nothing else running: the test waits for the
// stand-in to go quiet (no request for quietFor) rather than polling the
// API, whose reads would count. Requests of the Sweep timer (queries
// across partitions) are left out, and so are the SDK's metadata reads
// (database, container, partition key ranges: cached per process);
// both are reported apart.
//
// Estimated request units: Azure's published costs for session
// consistency by item size (1 KB: read 1.00, write 4.95; 2 KB: 1.04 and
// 6.29; 4 KB: 1.14 and 6.67; 8 KB: 1.33 and 7.04; 16 KB: 1.67 and 9.52 —
// "Understand request unit consumption", Azure Cosmos DB docs), the next
// size up from the body; a delete costs as a 1 KB write; a single-partition
// query costs 2.9 RU plus a read of the bytes returned (an assumption:
// Azure publishes no fixed query figure).
//
// The minimum the design needs, per kind (see minTrips): a direct change
// reads the profile, records the MFA token's single use, creates the
// request record (the status URL's document), replaces the profile under
// its ETag: 4. An approval, from its upload plan to the applied change and
// the requester's SMS, is counted in roundTripsApproval's comment.
//
// Each kind prints a line of the Go benchmark format for the benchmark
// table: trips, min, over-min (trips − min; target ≤ 2), est-RU,
// metadata and sweep.
//
//	go test -tags bench -run '^TestCosmosRoundTrips$' -count=1 -v ./handler/e2e
func TestCosmosRoundTrips(t *testing.T) {
	freshSystem(t)
	ctx := context.Background()
	c := sys.Cosmos
	id, owner, phone := newProfile(t)
	tok := token(t, owner)

	measure := func(kind string, min int, run func()) {
		t.Helper()
		if err := c.RecordRequests(ctx); err != nil {
			t.Fatal(err)
		}
		run()
		reqs := quiet(t, c)
		if err := c.StopRecording(ctx); err != nil {
			t.Fatal(err)
		}
		var trips, meta, sweep int
		var ru float64
		var kinds []string
		for _, r := range reqs {
			switch {
			case !strings.Contains(r.Path, "/docs"):
				meta++
				continue
			case r.Query && r.PartitionKey == "":
				sweep++
				continue
			}
			trips++
			ru += estimateRU(r)
			kinds = append(kinds, opName(r))
		}
		t.Logf("%s: %d round trips (minimum %d), ≈%.1f RU; %d metadata reads, %d sweep queries left out; in order: %s",
			kind, trips, min, ru, meta, sweep, strings.Join(kinds, " "))
		fmt.Printf("BenchmarkCosmosRoundTrips/%s 1 %d trips %d min %d over-min %.1f est-RU %d metadata %d sweep\n", kind, trips, min, trips-min, ru, meta, sweep)
	}

	measure("mfa", minTrips["mfa"], func() { mfaToken(t, tok, id, phone) })
	mfa := mfaToken(t, tok, id, phone)
	measure("direct", minTrips["direct"], func() {
		resp, body := call(t, "PATCH", "/api/v1/profile/"+id, tok, fmt.Sprintf(`{"description":"counted","timestamp":%q}`, time.Now().UTC().Format(time.RFC3339)),
			map[string]string{"X-MFA-Token": mfa})
		if resp.StatusCode != 200 {
			t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
		}
	})
	mfa = mfaToken(t, tok, id, phone)
	b := newBus(t, sys)
	f := &flow{s: sys, b: b, id: id, phone: phone, tok: tok}
	a1, a2 := approver(t, "approver-1", "ProfileApprover"), approver(t, "approver-2", "ProfileApprover")
	measure("approval", minTrips["approval"], func() {
		uploadID := f.upload(t, "evidence.pdf", "")
		resp, body := call(t, "PATCH", "/api/v1/profile/"+id, tok, fmt.Sprintf(`{"lastName":"Byron","timestamp":%q,"uploadId":%q}`, time.Now().UTC().Format(time.RFC3339), uploadID),
			map[string]string{"X-MFA-Token": mfa})
		if resp.StatusCode != 202 {
			t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
		}
		rid := strings.TrimPrefix(body["request"].(string), "/api/v1/requests/")
		quiet(t, c) // scanned, waiting for approval
		for _, a := range []string{a1, a2} {
			if resp, body := decideAs(t, a, rid, "approve", map[string]string{}); resp.StatusCode != 200 {
				t.Fatalf("approval: %d %v", resp.StatusCode, body)
			}
			quiet(t, c)
		}
		waitCond(t, "the requester's SMS", func() bool { return smsContaining(sys, phone, rid+" was applied") == 1 })
	})
}

// minTrips is the least number of Cosmos DB round trips each kind needs
// by the design (see TestCosmosRoundTrips):
//
//   - mfa (challenge and verify): store the challenge (1), read it (1) and
//     record it verified (1) at verify: 3.
//   - direct: 4 (profile read, MFA token use, request record, profile
//     replace).
//   - approval, whole life: the upload session (1); PATCH: profile read,
//     upload session read, MFA token use, request record create (with the
//     field lock in it), upload session claim: 5; scan: request read and
//     verdict write (2); each of two approvals: request read and write (2
//     each, 4); apply: profile read and replace, request write (3); the
//     requester's SMS: the sent-notice record (1): 16.
var minTrips = map[string]int{"mfa": 3, "direct": 4, "approval": 16}

// quietFor is how long the stand-in must serve no request before a
// measurement ends.
const quietFor = 2 * time.Second

// quiet waits until the stand-in has served no new request for quietFor
// (at most a minute) and returns the requests recorded so far.
func quiet(t *testing.T, c *stack.Cosmos) []stack.CosmosRequest {
	t.Helper()
	var last []stack.CosmosRequest
	since := time.Now()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got, err := c.Requests(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(last) {
			last, since = got, time.Now()
			continue
		}
		if time.Since(since) >= quietFor {
			return got
		}
	}
	t.Fatal("the Cosmos DB stand-in did not go quiet within a minute")
	return nil
}

func opName(r stack.CosmosRequest) string {
	coll := r.Path
	if i := strings.Index(coll, "/colls/"); i >= 0 {
		coll = coll[i+len("/colls/"):]
	}
	coll, _, _ = strings.Cut(coll, "/")
	op := map[string]string{"GET": "read", "PUT": "replace", "DELETE": "delete", "PATCH": "patch"}[r.Method]
	switch {
	case r.Batch:
		op = "batch"
	case r.Query:
		op = "query"
	case r.Method == "POST" && r.Upsert:
		op = "upsert"
	case r.Method == "POST":
		op = "create"
	}
	return fmt.Sprintf("%s:%s:%d", coll, op, r.Status)
}

// ruBySize: Azure's published RU per item size (KB) for reads and writes.
var ruBySize = []struct{ kb, read, write float64 }{
	{1, 1.00, 4.95}, {2, 1.04, 6.29}, {4, 1.14, 6.67}, {8, 1.33, 7.04}, {16, 1.67, 9.52}, {32, 2.19, 11.23}, {64, 4.76, 22.67},
}

func ruFor(bytes int, write bool) float64 {
	kb := math.Max(1, float64(bytes)/1024)
	for _, r := range ruBySize {
		if kb <= r.kb {
			if write {
				return r.write
			}
			return r.read
		}
	}
	last := ruBySize[len(ruBySize)-1]
	if write {
		return last.write * kb / last.kb
	}
	return last.read * kb / last.kb
}

func estimateRU(r stack.CosmosRequest) float64 {
	switch {
	case r.Query:
		return 2.9 + ruFor(r.BytesOut, false)
	case r.Method == "GET":
		return ruFor(r.BytesOut, false)
	case r.Method == "DELETE":
		return ruFor(1024, true)
	default:
		return ruFor(max(r.BytesIn, r.BytesOut), true)
	}
}
