// Package loadgen drives HTTP load on loopback servers with vegeta
// (github.com/tsenart/vegeta) for the project's benchmarks and load tests:
// a closed-loop run (a fixed number of workers, as fast as they can, for a
// fixed duration) finds a server's capacity; an open-loop run (a fixed
// arrival rate for a fixed duration, independent of response times) gives
// the latencies at that rate. Every run is bounded in time and count.
package loadgen

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Target is one request: method, URL, headers and body.
type Target = vegeta.Target

// Targeter fills in the next request of a run. It is called from several
// goroutines at once; it must be safe for that.
type Targeter = vegeta.Targeter

// Static is a Targeter that sends the same request every time.
func Static(method, url string, hdr http.Header, body []byte) Targeter {
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header, t.Body = method, url, hdr, body
		return nil
	}
}

// Result summarises one run: Rate is the successful requests per second
// over the run (closed loop: the capacity; open loop: the rate sustained),
// P50 and P99 the latencies, Errors the requests that failed (transport
// error or a status other than Want), Codes the count per status code.
type Result struct {
	Requests uint64
	Rate     float64 // successful requests per second
	P50, P99 time.Duration
	Errors   uint64
	Codes    map[int]uint64
	// FirstError is the text of one failure (empty when Errors is 0).
	FirstError string
}

// ErrNoTargets is what a Targeter returns when it has no request left: the
// run ends there, and the call counts as no request.
var ErrNoTargets = vegeta.ErrNoTargets

// Options bound a run. Want is the status every answer must have (any
// 2xx when 0).
type Options struct {
	Duration time.Duration
	Workers  int // closed loop: concurrent requests; open loop: initial workers
	Want     int
	Timeout  time.Duration // per request; 10 s when 0
	// Each, when set, sees every answer: the request's URL, the status (0
	// for a transport error) and the body. It is called from one
	// goroutine.
	Each func(url string, code int, body []byte)
}

// Max runs the closed loop: Workers requests in flight for Duration.
func Max(tr Targeter, o Options) Result {
	return run(tr, vegeta.Rate{Freq: 0}, o, uint64(max(o.Workers, 1)))
}

// Fixed runs the open loop: rate requests per second for Duration,
// with as many workers as needed up to 4096.
func Fixed(tr Targeter, rate float64, o Options) Result {
	return run(tr, vegeta.ConstantPacer{Freq: int(math.Round(rate)), Per: time.Second}, o, 4096)
}

func run(tr Targeter, p vegeta.Pacer, o Options, maxWorkers uint64) Result {
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	workers := uint64(max(o.Workers, 1))
	a := vegeta.NewAttacker(
		vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers),
		vegeta.KeepAlive(true), vegeta.Connections(int(maxWorkers)), vegeta.MaxConnections(int(maxWorkers)),
		vegeta.Timeout(timeout), vegeta.Redirects(vegeta.NoFollow),
	)
	var res Result
	res.Codes = map[int]uint64{}
	lat := make([]time.Duration, 0, 1<<14)
	var first, last time.Time
	for r := range a.Attack(tr, p, o.Duration, "") {
		if r.Code == 0 && r.Error == ErrNoTargets.Error() {
			continue
		}
		if o.Each != nil {
			o.Each(r.URL, int(r.Code), r.Body)
		}
		res.Requests++
		res.Codes[int(r.Code)]++
		ok := r.Error == "" && (o.Want == 0 && r.Code >= 200 && r.Code < 300 || o.Want != 0 && int(r.Code) == o.Want)
		if !ok {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = fmt.Sprintf("%s %d %s %.200s", r.Method, r.Code, r.Error, strings.TrimSpace(string(r.Body)))
			}
			continue
		}
		lat = append(lat, r.Latency)
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.Timestamp.Add(r.Latency); end.After(last) {
			last = end
		}
	}
	if n := len(lat); n > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		res.P50, res.P99 = lat[(n-1)*50/100], lat[(n-1)*99/100]
		if d := last.Sub(first); d > 0 {
			res.Rate = float64(n) / d.Seconds()
		}
	}
	return res
}

// Side is one side of a comparison: a name and the request to send.
type Side struct {
	Name   string
	Target Targeter
	Want   int
}

// LatencyRate is the open-loop rate of a comparison's latencies, in
// requests per second, unless half the lower capacity is less: about 8.6
// times the source design's average of 116 profile updates per second, and
// 1.7 times its planned 5× peak.
const LatencyRate = 1000

// Comparison is two sides measured in one run: for each, the capacity of
// a closed loop (Max) and the latencies of an open loop at one rate both
// sustain (Fixed at LatencyRate, or half the lower capacity if less).
type Comparison struct {
	Subject, Baseline Result // closed loop
	SubjectAt, BaseAt Result // open loop at Rate
	Rate              float64
}

// Ratio is the subject's capacity over the baseline's (1 = as fast).
func (c Comparison) Ratio() float64 {
	if c.Baseline.Rate == 0 {
		return 0
	}
	return c.Subject.Rate / c.Baseline.Rate
}

// Errors counts the failures of all four runs.
func (c Comparison) Errors() uint64 {
	return c.Subject.Errors + c.Baseline.Errors + c.SubjectAt.Errors + c.BaseAt.Errors
}

// FirstError is the text of one failure of the four runs.
func (c Comparison) FirstError() string {
	for _, r := range []Result{c.Subject, c.Baseline, c.SubjectAt, c.BaseAt} {
		if r.FirstError != "" {
			return r.FirstError
		}
	}
	return ""
}

// Compare measures subject against baseline side by side: the closed loops
// alternate (subject, baseline, baseline, subject) so drift in the
// machine's load falls on both; each closed-loop run lasts o.Duration, and
// the capacities are the means of the two. Then both run the open loop at
// LatencyRate (or half the lower capacity if less) for o.Duration.
func Compare(subject, baseline Side, o Options) Comparison {
	var c Comparison
	runMax := func(s Side) Result { oo := o; oo.Want = s.Want; return Max(s.Target, oo) }
	s1, b1 := runMax(subject), runMax(baseline)
	b2, s2 := runMax(baseline), runMax(subject)
	c.Subject, c.Baseline = merge(s1, s2), merge(b1, b2)
	c.Rate = math.Max(1, math.Min(LatencyRate, math.Floor(math.Min(c.Subject.Rate, c.Baseline.Rate)/2)))
	oo := o
	oo.Want = subject.Want
	c.SubjectAt = Fixed(subject.Target, c.Rate, oo)
	oo.Want = baseline.Want
	c.BaseAt = Fixed(baseline.Target, c.Rate, oo)
	return c
}

// merge averages two closed-loop runs of one side: rates and latencies are
// means, counts sums.
func merge(a, b Result) Result {
	r := Result{Requests: a.Requests + b.Requests, Rate: (a.Rate + b.Rate) / 2, P50: (a.P50 + b.P50) / 2, P99: (a.P99 + b.P99) / 2,
		Errors: a.Errors + b.Errors, Codes: map[int]uint64{}, FirstError: a.FirstError}
	if r.FirstError == "" {
		r.FirstError = b.FirstError
	}
	for k, v := range a.Codes {
		r.Codes[k] += v
	}
	for k, v := range b.Codes {
		r.Codes[k] += v
	}
	return r
}

// Metrics are a comparison's figures under the names the benchmark table
// reads: "ratio" (capacity subject/baseline), "req/s" and "base-req/s",
// "p50-µs"/"p99-µs" of both at the common open-loop rate ("base-…" for
// the baseline) and that rate ("at-req/s").
func (c Comparison) Metrics() map[string]float64 {
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	return map[string]float64{
		"ratio": c.Ratio(), "req/s": c.Subject.Rate, "base-req/s": c.Baseline.Rate, "at-req/s": c.Rate,
		"p50-µs": us(c.SubjectAt.P50), "p99-µs": us(c.SubjectAt.P99), "base-p50-µs": us(c.BaseAt.P50), "base-p99-µs": us(c.BaseAt.P99),
	}
}
