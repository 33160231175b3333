package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkHTTPRows/GETProfile-2         	       1	6071112355 ns/op	      4836 at-req/s	         0.5305 ratio
    some_test.go:12: BenchmarkNot 1 2 x (indented log lines count too, once trimmed)
BenchmarkPeakMemory/photo.png 1 1.234 rise-x-file 30.5 rise-MiB
BenchmarkOdd-2 1 5 ns/op 7
BenchmarkBad 1 x ratio
--- FAIL: BenchmarkX
`)
	got := parse(out)
	if v := got["BenchmarkHTTPRows/GETProfile"]["ratio"]; v != 0.5305 {
		t.Errorf("GETProfile ratio = %v", v)
	}
	if v := got["BenchmarkPeakMemory/photo.png"]["rise-x-file"]; v != 1.234 {
		t.Errorf("photo.png rise = %v", v)
	}
	for _, name := range []string{"BenchmarkOdd", "BenchmarkBad", "BenchmarkX"} {
		if _, ok := got[name]; ok {
			t.Errorf("%s parsed from a malformed line: %v", name, got[name])
		}
	}
}

func TestMetAndTargets(t *testing.T) {
	for _, tc := range []struct {
		r      row
		v      float64
		want   string
		target string
	}{
		{row{cmp: atLeast, target: 0.5, unit: "×"}, 0.5, "yes", "≥ 0.5×"},
		{row{cmp: atLeast, target: 0.5, unit: "×"}, 0.49, "**no**", "≥ 0.5×"},
		{row{cmp: atMost, target: 1.5, unit: "×"}, 1.6, "**no**", "≤ 1.5×"},
		{row{cmp: below, target: 3, unit: "× file"}, 3, "**no**", "< 3× file"},
		{row{}, 7, "—", "reported"},
	} {
		if got := met(tc.r, tc.v); got != tc.want {
			t.Errorf("met(%+v, %v) = %q, want %q", tc.r, tc.v, got, tc.want)
		}
		if got := targetText(tc.r); got != tc.target {
			t.Errorf("targetText = %q, want %q", got, tc.target)
		}
	}
}

// Every row is printed; a row without its benchmark line says so and is
// counted.
func TestPrintTable(t *testing.T) {
	var buf bytes.Buffer
	missing := printTable(&buf, map[string]map[string]float64{"BenchmarkTokenCheck": {"ratio": 1.25, "subject-ns": 73835, "base-ns": 58863}})
	if missing != len(rows)-1 {
		t.Errorf("missing = %d, want %d", missing, len(rows)-1)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(rows)+2 {
		t.Fatalf("%d lines for %d rows:\n%s", len(lines), len(rows), buf.String())
	}
	if !strings.Contains(buf.String(), "| bearer-token check (cost) | go-jose RS256 verify | 1.25 | ≤ 1.5× | yes | 73.8 vs 58.9 µs/check") {
		t.Errorf("token row:\n%s", buf.String())
	}
}
