//go:build bench

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Cosmos DB round trips per request kind, counted at the Cosmos DB
// stand-in (its operation counts, GET /_test/ops) while one request of the
// kind runs through a local system of its own, with nothing else running:
// the counts are taken once they settle (quiesce), away from the Sweep
// timer (awaySweep). Estimated request units as
// TestCosmosOperationsPerRequest (ruOf). The minimum the design needs, per
// kind, is minTrips.
//
// Each kind prints a line of the Go benchmark format for the benchmark
// table: trips, min, over-min (trips − min; target ≤ 2) and est-RU; the
// log shows the operations per container, the profile of where the trips
// go.
//
//	go test -tags bench -run '^TestCosmosRoundTrips$' -count=1 -v ./handler/e2e
func TestCosmosRoundTrips(t *testing.T) {
	freshSystem(t)
	ctx := context.Background()
	c := sys.Cosmos
	id, owner, phone := newProfile(t)
	tok := token(t, owner)
	awaySweep()

	measure := func(kind string, min int, run func()) {
		t.Helper()
		quiesce(t, ctx)
		if err := c.ResetOps(ctx); err != nil {
			t.Fatal(err)
		}
		run()
		ops := quiesce(t, ctx)
		trips := 0
		for _, o := range ops {
			trips += o.Read + o.ReadMissing + o.Write + o.WriteRefused + o.Query
		}
		ru := ruOf(ops)
		t.Logf("%s: %d round trips (minimum %d), ≈%.1f RU:\n%s", kind, trips, min, ru, table(ops, 1))
		fmt.Printf("BenchmarkCosmosRoundTrips/%s 1 %d trips %d min %d over-min %.1f est-RU\n", kind, trips, min, trips-min, ru)
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
	a1 := approver(t, "approver-1", "ProfileApprover")
	measure("approval", minTrips["approval"], func() {
		uploadID := f.upload(t, "evidence.pdf", "")
		resp, body := call(t, "PATCH", "/api/v1/profile/"+id, tok, fmt.Sprintf(`{"firstName":"Augusta","timestamp":%q,"uploadId":%q}`, time.Now().UTC().Format(time.RFC3339), uploadID),
			map[string]string{"X-MFA-Token": mfa})
		if resp.StatusCode != 202 {
			t.Fatalf("PATCH: %d %v", resp.StatusCode, body)
		}
		rid := strings.TrimPrefix(body["request"].(string), "/api/v1/requests/")
		quiesce(t, ctx) // scanned, waiting for approval
		if resp, body := decideAs(t, a1, rid, "approve", map[string]string{}); resp.StatusCode != 200 {
			t.Fatalf("approval: %d %v", resp.StatusCode, body)
		}
		waitCond(t, "the requester's SMS", func() bool { return smsContaining(sys, phone, rid+" was applied") == 1 })
	})
}

// minTrips is the least number of Cosmos DB round trips each kind needs
// by the design (see TestCosmosRoundTrips), with field locks kept in the
// profile document:
//
//   - mfa (challenge and verify): challenge: read the profile (the phone),
//     read and write the user's send count (the per-hour limit), store the
//     challenge: 4; verify: read the challenge, record it verified (the
//     failure counter lives in it): 2; 6 in all.
//   - direct: read the profile (with its locks), record the MFA token's
//     single use, create the request record (the status URL's document),
//     replace the profile under its ETag: 4.
//   - approval, whole life (a first-name change with one document, one
//     approval): the upload session (1); PATCH: profile read, upload
//     session read and claim, MFA token use, request record create, profile
//     replace (the field lock): 6; scan: request read and verdict write
//     (2); the approval: request read and write (2); apply: profile read and
//     replace (the change, the lock released), request write (3); the
//     requester's SMS: the sent-notice record (1): 15.
var minTrips = map[string]int{"mfa": 6, "direct": 4, "approval": 15}
