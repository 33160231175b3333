//go:build bench

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
)

// writeRU is the estimated charge of one write per container, and readRU
// of one point read (found or not), from handler/cosmosdb's access table
// (Microsoft's request-unit figures for 1–3 KB items with the default
// indexing; the deployment indexes no path, so these are upper bounds).
var writeRU = map[string]float64{"profiles": 6, "requests": 10, "uploads": 8, "mfa": 6, "idempotency": 8}

const readRU, refusedRU, queryRU = 1.0, 2.0, 3.0

// quiesce waits until the stand-in's counts stop changing for 3 s (the
// workflow steps, scans and moves that follow a submission are done).
func quiesce(t *testing.T, ctx context.Context) map[string]stack.OpCounts {
	t.Helper()
	last, stable := "", time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ops, err := sys.Cosmos.Ops(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(ops); s != last {
			last, stable = s, time.Now()
		} else if time.Since(stable) > 3*time.Second {
			return ops
		}
	}
	t.Fatal("Cosmos DB operations did not settle within 2 minutes")
	return nil
}

// awaySweep returns once the Sweep timer (every 5 minutes on the minute)
// cannot fire in the next 90 s, so its point reads stay out of the counts.
func awaySweep() {
	now := time.Now()
	next := now.Truncate(5 * time.Minute).Add(5 * time.Minute)
	if next.Sub(now) < 90*time.Second {
		time.Sleep(next.Sub(now) + 15*time.Second)
	}
}

func ruOf(ops map[string]stack.OpCounts) float64 {
	ru := 0.0
	for c, o := range ops {
		ru += float64(o.Read+o.ReadMissing)*readRU + float64(o.Write)*writeRU[c] + float64(o.WriteRefused)*refusedRU + float64(o.Query)*queryRU
	}
	return ru
}

func table(ops map[string]stack.OpCounts, n int) string {
	var names []string
	for c := range ops {
		names = append(names, c)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, c := range names {
		o := ops[c]
		fmt.Fprintf(&b, "    %-12s read %5.1f  missing %5.1f  write %5.1f  refused %4.1f  query %4.1f\n", c,
			float64(o.Read)/float64(n), float64(o.ReadMissing)/float64(n), float64(o.Write)/float64(n), float64(o.WriteRefused)/float64(n), float64(o.Query)/float64(n))
	}
	return b.String()
}

// TestCosmosOperationsPerRequest counts the Cosmos DB document operations
// one request costs, through the development host, handler and Cosmos DB
// stand-in (GET /_test/ops), and prints them with their estimated RU:
//   - a direct change (description, applied at once): MFA challenge and
//     verification, PATCH with an Idempotency-Key;
//   - a change with documents up to the approval task: MFA, upload plan,
//     two documents through the SAS, PATCH, both scans, the moves to clean
//     and the workflow steps that follow, until the counts settle;
//   - one status poll (GET /api/v1/requests/{id}).
//
// Each flow runs 3 times; figures are per request. The approval decision
// and completion are not included (no decision route in this build).
func TestCosmosOperationsPerRequest(t *testing.T) {
	const n = 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	awaySweep()

	type profile struct{ id, owner, phone string }
	var direct, async []profile
	for range n {
		id, owner, phone := newProfile(t)
		direct = append(direct, profile{id, owner, phone})
		id, owner, phone = newProfile(t)
		async = append(async, profile{id, owner, phone})
	}

	quiesce(t, ctx)
	if err := sys.Cosmos.ResetOps(ctx); err != nil {
		t.Fatal(err)
	}
	for i, p := range direct {
		tok := token(t, p.owner)
		mfa := mfaToken(t, tok, p.id, p.phone)
		body := fmt.Sprintf(`{"description":"measured %d","timestamp":%q}`, i, time.Now().UTC().Format(time.RFC3339))
		resp, out := call(t, "PATCH", "/api/v1/profile/"+p.id, tok, body, map[string]string{"X-MFA-Token": mfa, "Idempotency-Key": fmt.Sprintf("ops-%d-%d", i, time.Now().UnixNano())})
		if resp.StatusCode != 200 {
			t.Fatalf("direct PATCH: %d %v", resp.StatusCode, out)
		}
	}
	directOps := quiesce(t, ctx)

	if err := sys.Cosmos.ResetOps(ctx); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range async {
		tok := token(t, p.owner)
		plan := uploadDocs(t, tok, p.id, doc{"deed.pdf", "application/pdf", pdfDoc("")}, doc{"photo.png", "image/png", pngDoc()})
		paths = append(paths, submit(t, tok, p.id, p.phone, plan.UploadID))
	}
	asyncOps := quiesce(t, ctx)

	if err := sys.Cosmos.ResetOps(ctx); err != nil {
		t.Fatal(err)
	}
	tok := token(t, async[0].owner)
	_, st := call(t, "GET", paths[0], tok, nil, nil)
	pollOps, err := sys.Cosmos.Ops(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := st["customStatus"].(map[string]any)
	if tasks, _ := cs["openTasks"].([]any); len(tasks) == 0 {
		t.Fatalf("the measured request did not reach approval: %v", st)
	}
	if directOps["requests"].Write == 0 || asyncOps["requests"].Write == 0 || asyncOps["uploads"].Write == 0 {
		t.Fatalf("counts miss the request's own writes: direct %v async %v", directOps, asyncOps)
	}
	t.Logf("direct change, per request: %.1f RU\n%s", ruOf(directOps)/n, table(directOps, n))
	t.Logf("change with two documents up to the approval task, per request: %.1f RU\n%s", ruOf(asyncOps)/n, table(asyncOps, n))
	t.Logf("one status poll: %.1f RU\n%s", ruOf(pollOps), table(pollOps, 1))
}
