//go:build load

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/loadgen"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

// TestLoad finds the highest fixed rate of profile updates the whole local
// system sustains on this machine: PATCHes through the development host
// at a fixed arrival rate (vegeta, open loop) in the source design's mix —
// 20 % direct changes (a description), 80 % changes that need approval (a
// first name with a small PDF uploaded through its SAS plan beforehand) —
// each step LOAD_STEP_SECONDS long (default 10), the rate doubling from
// LOAD_START_RATE (default 5/s) up to LOAD_MAX_RATE (default 80/s).
//
// After each step every request must come to rest — Completed for a direct
// change, waiting for approval (scanned, task open) for the others — or
// the test fails: none lost, none stuck. It waits while requests keep
// coming to rest (at most 5 minutes). A step is sustained end to end when
// every PATCH got its answer (200 direct, 202 approval; no error, no other
// status) and every request was at rest within LOAD_MAX_LAG seconds
// (default 5) of the step's last answer: the asynchronous half (upload
// pinning, scan, workflow steps) keeps pace with the arrivals. The PATCH
// side alone is sustained at a rate with no error and p99 under 1 s. The
// steps go on while the PATCH side holds.
//
// Everything a request needs (profile, bearer token, SMS-verified MFA
// token, uploaded document) is prepared before its step, untimed. It runs
// on a local system of its own with the workflow's real timers (nothing
// expires during the run) and clamd.
//
// It logs each step (rate, requests, p50/p99 latency, errors, seconds
// until all rested, documents brought to rest per second) and prints
// "load: …" with the sustained rates.
//
//	make load
func TestLoad(t *testing.T) {
	loadSystem(t)
	stepSeconds := envInt(t, "LOAD_STEP_SECONDS", 10)
	maxLag := time.Duration(envInt(t, "LOAD_MAX_LAG", 5)) * time.Second
	rate, maxRate := envInt(t, "LOAD_START_RATE", 5), envInt(t, "LOAD_MAX_RATE", 80)
	var endToEnd, front struct {
		rate int
		p99  time.Duration
	}
	drain := 0.0
	for ; rate <= maxRate; rate *= 2 {
		n := rate * stepSeconds
		reqs := prepareLoad(t, n)
		byURL := map[string]*loadRequest{}
		for _, r := range reqs {
			byURL[r.url] = r
		}
		var next atomic.Int64
		tr := func(tg *loadgen.Target) error {
			i := next.Add(1) - 1
			if i >= int64(len(reqs)) {
				return loadgen.ErrNoTargets
			}
			r := reqs[i]
			tg.Method, tg.URL, tg.Body, tg.Header = "PATCH", r.url, r.body, r.hdr
			return nil
		}
		began := time.Now()
		res := loadgen.Fixed(tr, float64(rate), loadgen.Options{Duration: time.Duration(stepSeconds+5) * time.Second, Workers: 8, Timeout: 30 * time.Second,
			Each: func(url string, code int, body []byte) {
				r := byURL[url]
				r.code = code
				var m map[string]string
				if json.Unmarshal(body, &m) == nil {
					r.status = m["request"]
				}
			}})
		errs := 0
		for _, r := range reqs {
			if r.code != r.want || r.status == "" {
				errs++
			}
		}
		rested, lag := waitRested(t, reqs, 30*time.Second, 5*time.Minute)
		approvals := n - countDirect(reqs)
		docsPerSec := float64(approvals) / time.Since(began).Seconds()
		t.Logf("step %d req/s: %d requests (%d direct, %d approval), p50 %v, p99 %v, %d errors (codes %v), %d of %d at rest %.1f s after the step; %.1f documents to rest per second",
			rate, n, n-approvals, approvals, res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), errs, res.Codes, rested, n, lag.Seconds(), docsPerSec)
		fmt.Printf("load step: rate %d req/s, %d requests, p50 %v, p99 %v, errors %d, at rest %d/%d %.1f s after the step\n",
			rate, n, res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), errs, rested, n, lag.Seconds())
		if rested < n {
			t.Errorf("%d of %d requests of the %d req/s step never came to rest (lost or stuck)", n-rested, n, rate)
		}
		if errs > 0 || res.P99 > time.Second {
			break
		}
		front.rate, front.p99 = rate, res.P99
		if lag <= maxLag && rested == n {
			endToEnd.rate, endToEnd.p99 = rate, res.P99
		} else {
			drain = max(drain, docsPerSec)
		}
	}
	fmt.Printf("load: sustained end to end %d req/s (20 %% direct, 80 %% approval; PATCH p99 %v, 0 errors, every request at rest within %v); "+
		"PATCH side alone %d req/s (p99 %v, 0 errors); when the asynchronous half lagged it brought %.1f documents per second to rest\n",
		endToEnd.rate, endToEnd.p99.Round(time.Millisecond), maxLag, front.rate, front.p99.Round(time.Millisecond), drain)
	if endToEnd.rate == 0 {
		t.Errorf("not even %d req/s sustained end to end", envInt(t, "LOAD_START_RATE", 5))
	}
}

// loadRequest is one prepared PATCH and what became of it.
type loadRequest struct {
	direct bool
	url    string
	body   []byte
	hdr    http.Header
	want   int
	tok    string
	// From the answer:
	code   int
	status string // the status URL
}

func countDirect(rs []*loadRequest) int {
	n := 0
	for _, r := range rs {
		if r.direct {
			n++
		}
	}
	return n
}

// prepareLoad makes n requests in the mix: every fifth direct.
func prepareLoad(t *testing.T, n int) []*loadRequest {
	t.Helper()
	ctx := context.Background()
	out := make([]*loadRequest, 0, n)
	for i := range n {
		id, owner, phone := newProfile(t)
		tok, err := sys.Token(owner, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &loadRequest{direct: i%5 == 0, url: sys.URL + "/api/v1/profile/" + id, tok: tok}
		r.hdr = http.Header{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}}
		r.hdr.Set("X-MFA-Token", mfaToken(t, tok, id, phone))
		ts := time.Now().UTC().Format(time.RFC3339)
		if r.direct {
			r.want = 200
			r.body = fmt.Appendf(nil, `{"description":"load %d","timestamp":%q}`, i, ts)
		} else {
			r.want = 202
			pdf := pdfDoc("load " + id)
			api := uploadclient.API{BaseURL: sys.URL, Token: tok}
			plan, err := api.Start(ctx, id, []uploadclient.FileSpec{{Name: "evidence.pdf", ContentType: "application/pdf", Size: int64(len(pdf))}})
			if err != nil {
				t.Fatal(err)
			}
			var cl uploadclient.Client
			if err := cl.Upload(ctx, plan.Files[0], bytes.NewReader(pdf), nil); err != nil {
				t.Fatal(err)
			}
			r.body = fmt.Appendf(nil, `{"firstName":"Augusta","timestamp":%q,"uploadId":%q}`, ts, plan.UploadID)
		}
		out = append(out, r)
	}
	return out
}

// waitRested polls the status of every accepted request until each rests
// (Completed for direct changes, waiting for approval for the others), no
// request came to rest for idle, or limit passes; it returns how many rest
// and how long after the call the last came to rest.
func waitRested(t *testing.T, reqs []*loadRequest, idle, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	rested := make([]bool, len(reqs))
	n, last := 0, time.Duration(0)
	for {
		for i, r := range reqs {
			if rested[i] || r.status == "" {
				continue
			}
			_, st := callOn(t, sys.URL, "GET", r.status, r.tok, nil, nil)
			if (r.direct && st["runtimeStatus"] == "Completed") || (!r.direct && stage(st) == "waitingForApproval") {
				rested[i] = true
				n++
				last = time.Since(start)
			}
		}
		if n == len(reqs) || time.Since(start)-last > idle || time.Since(start) > limit {
			return n, last
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// loadSystem starts a local system of its own for the load test, with the
// sample settings (real workflow timers, the local MFA limits) and clamd,
// and points the helpers at it until the test ends.
func loadSystem(t *testing.T) {
	t.Helper()
	ownSystem(t, local.Options{RequireAntivirus: true})
}
