package benchpair

import (
	"errors"
	"testing"
	"time"
)

type metrics map[string]float64

func (m metrics) ReportMetric(v float64, unit string) { m[unit] = v }

func TestMeasure(t *testing.T) {
	old := Span
	Span = 20 * time.Millisecond
	defer func() { Span = old }()
	sink := 0
	p, err := Measure(func() error { _ = make([]byte, 64); sink++; return nil }, func() error { sink++; return nil })
	if err != nil || p.Subject.Ops == 0 || p.Baseline.Ops == 0 || p.Subject.NsPerOp <= 0 || p.CostRatio() <= 0 || p.SpeedRatio() <= 0 {
		t.Fatalf("%+v, %v", p, err)
	}
	m := metrics{}
	p.Report(m)
	for _, k := range []string{"subject-ns", "base-ns", "subject-allocs", "base-allocs"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s in %v", k, m)
		}
	}
	boom := errors.New("boom")
	if _, err := Measure(func() error { return nil }, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("error = %v, want boom", err)
	}
	if (Pair{}).CostRatio() != 0 || (Pair{}).SpeedRatio() != 0 {
		t.Error("ratios of an empty pair")
	}
}
