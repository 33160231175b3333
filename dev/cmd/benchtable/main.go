// Command benchtable runs the project's benchmarks one package at a time
// and prints one table: a named row per figure, each a ratio against a
// baseline measured side by side in the same run on this machine, with
// its target and whether it is met. `make bench` runs it.
//
// Every row's figures come from lines of the Go benchmark format ("Benchmark<name>
// <iterations> <value> <unit> …") that the benchmarks (and two
// measurements of handler/e2e built with the tag bench) print; the row
// reads the metric "ratio" (or the one it names) of one named line.
//
// Usage:
//
//	go run ./dev/cmd/benchtable [-log build/bench.log]
//
// It exits 1 when a benchmark failed or a row has no figure; a missed
// target is reported in the table, not as a failure.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// step is one `go test` run.
type step struct {
	pkg  string
	args []string
}

// steps run one after another, never in parallel, so no measurement
// competes with another.
var steps = []step{
	{"./handler/server", []string{"-run", "^$", "-bench", "^BenchmarkHTTPRows$", "-benchtime", "1x"}},
	{"./dev/host", []string{"-run", "^$", "-bench", "^BenchmarkForwarding$", "-benchtime", "1x"}},
	{"./handler/auth", []string{"-run", "^$", "-bench", "^BenchmarkTokenCheck$", "-benchtime", "1x"}},
	{"./handler/blobstore", []string{"-run", "^$", "-bench", "^(BenchmarkSASIssuance|BenchmarkUpload25MiB)$", "-benchtime", "1x"}},
	{"./handler/workflow", []string{"-run", "^$", "-bench", "^BenchmarkEngineRow$", "-benchtime", "1x"}},
	{"./handler/scan", []string{"-run", "^$", "-bench", "^BenchmarkPipelineClamd$", "-benchtime", "3x"}},
	{"./handler/e2e", []string{"-v", "-tags", "bench", "-run", "^(TestPeakMemory|TestCosmosOperationsPerRequest|TestCosmosRoundTrips)$", "-bench", "^(BenchmarkWorkflowStepThroughput|BenchmarkForwardingProfile)$", "-benchtime", "300x"}},
}

// cmp is a target's comparison.
type cmp int

const (
	reported cmp = iota // no target: the figure is reported
	atLeast
	atMost
	below
)

// row is one line of the table.
type row struct {
	name, baseline string
	bench          string // benchmark line name, without the -GOMAXPROCS suffix
	metric         string // "ratio" when empty
	cmp            cmp
	target         float64
	unit           string // how the target reads, e.g. "×" or " trips over the minimum"
	figures        func(m map[string]float64) string
}

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func ms(us float64) string {
	if us < 1000 {
		return strconv.FormatFloat(us/1000, 'f', 2, 64)
	}
	return strconv.FormatFloat(us/1000, 'f', 1, 64)
}

func httpFigures(m map[string]float64) string {
	return fmt.Sprintf("%s vs %s req/s; at %s req/s p50 %s vs %s ms, p99 %s vs %s ms", f0(m["req/s"]), f0(m["base-req/s"]), f0(m["at-req/s"]),
		ms(m["p50-µs"]), ms(m["base-p50-µs"]), ms(m["p99-µs"]), ms(m["base-p99-µs"]))
}

func pairFigures(unit string) func(m map[string]float64) string {
	return func(m map[string]float64) string {
		return fmt.Sprintf("%s vs %s µs/%s; %s vs %s allocs", f1(m["subject-ns"]/1e3), f1(m["base-ns"]/1e3), unit, f0(m["subject-allocs"]), f0(m["base-allocs"]))
	}
}

func scanFigures(m map[string]float64) string {
	return fmt.Sprintf("%s vs %s MB/s (pipeline alone %s MB/s)", f0(m["pipeline+clamd-MB/s"]), f0(m["clamd-MB/s"]), f0(m["pipeline-MB/s"]))
}

func rssFigures(m map[string]float64) string {
	return fmt.Sprintf("rise %s MiB, peak %s MiB", f1(m["rise-MiB"]), f1(m["peak-MiB"]))
}

func cosmosFigures(m map[string]float64) string {
	return fmt.Sprintf("%s trips (minimum %s), ≈%s RU", f0(m["trips"]), f0(m["min"]), f0(m["est-RU"]))
}

var rows = []row{
	{name: "GET profile through the handler", baseline: "bare net/http, same body", bench: "BenchmarkHTTPRows/GETProfile", cmp: atLeast, target: 0.5, unit: "×", figures: httpFigures},
	{name: "GET status through the handler", baseline: "bare net/http, same body", bench: "BenchmarkHTTPRows/GETStatus", cmp: atLeast, target: 0.3, unit: "×", figures: httpFigures},
	{name: "POST uploads through the handler", baseline: "bare net/http, same body", bench: "BenchmarkHTTPRows/POSTUploads", figures: httpFigures},
	{name: "PATCH direct through the handler", baseline: "bare net/http, same body", bench: "BenchmarkHTTPRows/PATCHDirect", cmp: atLeast, target: 0.15, unit: "×", figures: httpFigures},
	{name: "development host forwarding, echo handler (worst case)", baseline: "direct calls to the handler", bench: "BenchmarkForwarding", cmp: atLeast, target: 0.5, unit: "×", figures: httpFigures},
	{name: "development host forwarding, GET profile (real handler)", baseline: "direct calls to the handler", bench: "BenchmarkForwardingProfile", cmp: atLeast, target: 0.5, unit: "×", figures: httpFigures},
	{name: "bearer-token check (cost)", baseline: "go-jose RS256 verify", bench: "BenchmarkTokenCheck", cmp: atMost, target: 1.5, unit: "×", figures: pairFigures("check")},
	{name: "SAS issuance", baseline: "raw HMAC-SHA256, same string", bench: "BenchmarkSASIssuance", cmp: atLeast, target: 0.3, unit: "×", figures: pairFigures("op")},
	{name: "chunked upload client, 25 MiB to Azurite", baseline: "azblob UploadBuffer / UploadStream (faster)", bench: "BenchmarkUpload25MiB", cmp: atLeast, target: 0.9, unit: "×",
		figures: func(m map[string]float64) string {
			return fmt.Sprintf("%s vs %s (buffer) / %s (stream) MB/s", f0(m["plan-MB/s"]), f0(m["buffer-MB/s"]), f0(m["stream-MB/s"]))
		}},
	{name: "scan pipeline with clamd, 25 MiB PDF", baseline: "clamd INSTREAM alone", bench: "BenchmarkPipelineClamd/pdf-25MiB", cmp: atLeast, target: 0.8, unit: "×", figures: scanFigures},
	{name: "scan pipeline with clamd, 25 MiB PNG", baseline: "clamd INSTREAM alone", bench: "BenchmarkPipelineClamd/png-25MiB", cmp: atLeast, target: 0.8, unit: "×", figures: scanFigures},
	{name: "handler peak RSS rise, scanning 25 MiB PDF", baseline: "the file's size", bench: "BenchmarkPeakMemory/statement.pdf", metric: "rise-x-file", cmp: below, target: 3, unit: "× file", figures: rssFigures},
	{name: "handler peak RSS rise, scanning 25 MiB PNG", baseline: "the file's size", bench: "BenchmarkPeakMemory/photo.png", metric: "rise-x-file", cmp: below, target: 3, unit: "× file", figures: rssFigures},
	{name: "workflow engine, default definition (steps/s)", baseline: "one JSON round trip of its state", bench: "BenchmarkEngineRow",
		figures: func(m map[string]float64) string {
			return fmt.Sprintf("%s steps/s vs %s round trips/s", f0(m["steps/s"]), f0(m["roundtrips/s"]))
		}},
	{name: "WorkflowStep through the Service Bus peer", baseline: "peer send/receive alone", bench: "BenchmarkWorkflowStepThroughput",
		figures: func(m map[string]float64) string {
			return fmt.Sprintf("%s vs %s msgs/s", f0(m["step-msgs/s"]), f0(m["peer-msgs/s"]))
		}},
	{name: "Cosmos round trips: MFA challenge + verify", baseline: "the design's minimum", bench: "BenchmarkCosmosRoundTrips/mfa", metric: "over-min", cmp: atMost, target: 2, unit: " over", figures: cosmosFigures},
	{name: "Cosmos round trips: direct change", baseline: "the design's minimum", bench: "BenchmarkCosmosRoundTrips/direct", metric: "over-min", cmp: atMost, target: 2, unit: " over", figures: cosmosFigures},
	{name: "Cosmos round trips: approval, whole life", baseline: "the design's minimum", bench: "BenchmarkCosmosRoundTrips/approval", metric: "over-min", cmp: atMost, target: 2, unit: " over", figures: cosmosFigures},
}

func main() {
	logPath := flag.String("log", "build/bench.log", "file for the benchmarks' whole output")
	flag.Parse()
	if err := run(*logPath, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(logPath string, stdout, stderr io.Writer) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	start, loadStart := time.Now(), loadAvg()
	results := map[string]map[string]float64{}
	var failed []string
	for _, s := range steps {
		args := append([]string{"test", "-count=1", "-timeout", "15m"}, s.args...)
		args = append(args, s.pkg)
		fmt.Fprintf(stderr, "benchtable: go %s (load %s)\n", strings.Join(args, " "), loadAvg())
		var out bytes.Buffer
		cmd := exec.Command("go", args...)
		cmd.Stdout = io.MultiWriter(&out, logf)
		cmd.Stderr = io.MultiWriter(&out, logf)
		if err := cmd.Run(); err != nil {
			failed = append(failed, s.pkg)
			fmt.Fprintf(stderr, "benchtable: %s failed (%v); its output is in %s\n", s.pkg, err, logPath)
		}
		for name, m := range parse(out.Bytes()) {
			results[name] = m
		}
	}
	fmt.Fprintf(stdout, "\nBenchmark table — %s, %d s, load average %s at the start and %s at the end (2 cores)\n\n",
		start.UTC().Format(time.RFC3339), int(time.Since(start).Seconds()), loadStart, loadAvg())
	missing := printTable(stdout, results)
	if len(failed) > 0 || missing > 0 {
		return fmt.Errorf("%d rows without figures; failed packages: %v (see %s)", missing, failed, logPath)
	}
	return nil
}

// printTable writes the table and returns the number of rows without a
// figure.
func printTable(w io.Writer, results map[string]map[string]float64) int {
	fmt.Fprintln(w, "| row | baseline (same run) | ratio | target | met | figures |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	missing := 0
	for _, r := range rows {
		m, ok := results[r.bench]
		metric := r.metric
		if metric == "" {
			metric = "ratio"
		}
		v, have := m[metric]
		if !ok || !have {
			missing++
			fmt.Fprintf(w, "| %s | %s | — | %s | no figure | |\n", r.name, r.baseline, targetText(r))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.baseline, strconv.FormatFloat(v, 'f', 2, 64), targetText(r), met(r, v), r.figures(m))
	}
	return missing
}

func targetText(r row) string {
	switch r.cmp {
	case atLeast:
		return "≥ " + strconv.FormatFloat(r.target, 'f', -1, 64) + r.unit
	case atMost:
		return "≤ " + strconv.FormatFloat(r.target, 'f', -1, 64) + r.unit
	case below:
		return "< " + strconv.FormatFloat(r.target, 'f', -1, 64) + r.unit
	}
	return "reported"
}

func met(r row, v float64) string {
	ok := true
	switch r.cmp {
	case reported:
		return "—"
	case atLeast:
		ok = v >= r.target
	case atMost:
		ok = v <= r.target
	case below:
		ok = v < r.target
	}
	if ok {
		return "yes"
	}
	return "**no**"
}

// benchLine matches a line of the Go benchmark format: the name (with an
// optional -GOMAXPROCS suffix), the iterations, then value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S*?)(?:-\d+)?\s+(\d+)\s+(.*)$`)

// parse returns each benchmark line's metrics by name (the last line of a
// name wins).
func parse(out []byte) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mm := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if mm == nil {
			continue
		}
		f := strings.Fields(mm[3])
		if len(f)%2 != 0 {
			continue
		}
		m := map[string]float64{}
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				m = nil
				break
			}
			m[f[i+1]] = v
		}
		if m != nil {
			res[mm[1]] = m
		}
	}
	return res
}

// loadAvg is the 1-, 5- and 15-minute load averages (/proc/loadavg).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
