// Package benchpair measures two operations side by side in one run, for
// benchmarks that report a ratio against a baseline: each is timed over a
// fixed span in alternating order (subject, baseline, baseline, subject),
// so a change in the machine's load during the run falls on both, and the
// figures are the means of the two rounds. It keeps its own timing (not
// testing.Benchmark), so the outer benchmark's -benchtime does not change
// the spans.
package benchpair

import (
	"fmt"
	"runtime"
	"time"
)

// Span is how long each of the four timed rounds lasts, about.
var Span = 500 * time.Millisecond

// Result is one side's mean cost per operation: nanoseconds, bytes and
// allocations.
type Result struct {
	NsPerOp, BytesPerOp, AllocsPerOp float64
	Ops                              int
}

// Pair is the two sides' figures.
type Pair struct{ Subject, Baseline Result }

// CostRatio is the subject's time per operation over the baseline's (1 =
// as costly; 2 = twice the cost).
func (p Pair) CostRatio() float64 {
	if p.Baseline.NsPerOp == 0 {
		return 0
	}
	return p.Subject.NsPerOp / p.Baseline.NsPerOp
}

// SpeedRatio is the subject's operations per second over the baseline's
// (1 = as fast; 0.5 = half as many per second).
func (p Pair) SpeedRatio() float64 {
	if p.Subject.NsPerOp == 0 {
		return 0
	}
	return p.Baseline.NsPerOp / p.Subject.NsPerOp
}

// Measure times subject and baseline, each one operation that returns an
// error when it did not do its work, twice each in alternating order. The
// first error stops the measurement and is returned.
func Measure(subject, baseline func() error) (Pair, error) {
	var rs [4]Result
	for i, f := range []func() error{subject, baseline, baseline, subject} {
		r, err := measure(f)
		if err != nil {
			return Pair{}, err
		}
		rs[i] = r
	}
	return Pair{Subject: mean(rs[0], rs[3]), Baseline: mean(rs[1], rs[2])}, nil
}

// measure calibrates the count of operations that fills Span, then times
// that count.
func measure(f func() error) (Result, error) {
	n := 1
	for {
		d, err := loop(f, n)
		if err != nil {
			return Result{}, err
		}
		if d >= Span/10 || n >= 1<<30 {
			n = int(float64(n) * float64(Span) / float64(max(d, time.Microsecond)))
			break
		}
		n *= 10
	}
	n = max(n, 1)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d, err := loop(f, n)
	runtime.ReadMemStats(&after)
	if err != nil {
		return Result{}, err
	}
	return Result{
		NsPerOp:     float64(d.Nanoseconds()) / float64(n),
		BytesPerOp:  float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
		AllocsPerOp: float64(after.Mallocs-before.Mallocs) / float64(n),
		Ops:         n,
	}, nil
}

func loop(f func() error, n int) (time.Duration, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := f(); err != nil {
			return 0, fmt.Errorf("operation %d: %w", i+1, err)
		}
	}
	return time.Since(start), nil
}

func mean(a, b Result) Result {
	return Result{
		NsPerOp:     (a.NsPerOp + b.NsPerOp) / 2,
		BytesPerOp:  (a.BytesPerOp + b.BytesPerOp) / 2,
		AllocsPerOp: (a.AllocsPerOp + b.AllocsPerOp) / 2,
		Ops:         a.Ops + b.Ops,
	}
}

// Reporter is the part of *testing.B that Report uses.
type Reporter interface{ ReportMetric(n float64, unit string) }

// Report adds the pair's figures under the names the benchmark table
// reads: "subject-ns", "base-ns", "subject-allocs", "base-allocs". The
// caller reports the row's "ratio" (CostRatio or SpeedRatio).
func (p Pair) Report(b Reporter) {
	b.ReportMetric(p.Subject.NsPerOp, "subject-ns")
	b.ReportMetric(p.Baseline.NsPerOp, "base-ns")
	b.ReportMetric(p.Subject.AllocsPerOp, "subject-allocs")
	b.ReportMetric(p.Baseline.AllocsPerOp, "base-allocs")
}
