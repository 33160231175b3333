package scan_test

import (
	"bytes"
	"context"
	stdpng "image/png"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/testdocs"
	"github.com/profileflow/profileflow/handler/clamav"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/upload"
)

// BenchmarkPipelineClamd scans the same bytes three ways in every
// iteration, against one clamd started for the run with its clean-result
// cache off (every iteration is really scanned):
//
//	(a) the pipeline without an engine (limits, sniff, structure, polyglot);
//	(b) the pipeline with clamd as its engine (handler/clamav);
//	(c) clamd's INSTREAM alone through the same client: the baseline.
//
// The files (dev/testdocs), each just under upload.MaxFileSize (25 MiB):
// a PDF of one FlateDecode text stream per page (about 4× its size
// inflated), and an RGBA PNG of random pixels (about 6.5 megapixels). Both must be Clean
// through (a) and (b) and clean for (c), or the benchmark fails.
//
// Reported per file, from the same iterations: MB/s (10^6 bytes per
// second) of (a), (b) and (c); x-clamd = time of (b) ÷ time of (c), the
// whole scan against the engine alone; pipeline-x-clamd = time of (a) ÷
// time of (c); ratio = the speed of (b) over the speed of (c), the
// benchmark table's figure (target ≥ 0.8). ns/op is the three scans
// together.
//
//	go test ./handler/scan -run '^$' -bench PipelineClamd -benchtime 3x
func BenchmarkPipelineClamd(b *testing.B) {
	ctx := context.Background()
	clamd := stack.ClamdT(b, stack.ClamdOptions{DisableCache: true})
	client, err := clamav.New(clamd.Addr, clamav.Options{})
	if err != nil {
		b.Fatal(err)
	}
	bare := scan.New(scan.Options{})
	withAV := scan.New(scan.Options{Engine: client, EngineName: "ClamAV"})

	pdf, err := testdocs.PDF(int(upload.MaxFileSize))
	if err != nil {
		b.Fatal(err)
	}
	png, err := testdocs.PNG(int(upload.MaxFileSize))
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := stdpng.DecodeConfig(bytes.NewReader(png))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("PDF: %d bytes, %d FlateDecode streams; PNG: %d bytes, %d×%d pixels", len(pdf), testdocs.PDFStreams(pdf), len(png), cfg.Width, cfg.Height)
	files := []struct {
		name string
		file scan.File
	}{
		{"pdf-25MiB", scan.File{Name: "statement.pdf", DeclaredType: "application/pdf", DeclaredSize: int64(len(pdf)), Content: pdf}},
		{"png-25MiB", scan.File{Name: "photo.png", DeclaredType: "image/png", DeclaredSize: int64(len(png)), Content: png}},
	}

	pipeline := func(b *testing.B, p *scan.Pipeline, f scan.File, engine string) time.Duration {
		start := time.Now()
		r, err := p.Scan(ctx, f)
		d := time.Since(start)
		if err != nil || r.Verdict != scan.Clean || !strings.HasPrefix(r.Engine, engine) {
			b.Fatalf("%s: %+v, %v; want clean by %s…", f.Name, r, err, engine)
		}
		return d
	}
	alone := func(b *testing.B, f scan.File) time.Duration {
		start := time.Now()
		found, err := client.Scan(ctx, bytes.NewReader(f.Content))
		d := time.Since(start)
		if err != nil || found.Infected {
			b.Fatalf("%s: clamd alone: %+v, %v; want clean", f.Name, found, err)
		}
		return d
	}

	// Setup: both files pass every stage, with and without clamd.
	for _, f := range files {
		pipeline(b, bare, f.file, "none")
		pipeline(b, withAV, f.file, "ClamAV ")
		alone(b, f.file)
	}

	for _, f := range files {
		b.Run(f.name, func(b *testing.B) {
			var ta, tb, tc time.Duration // (a), (b), (c) summed
			n := 0
			for b.Loop() {
				ta += pipeline(b, bare, f.file, "none")
				tb += pipeline(b, withAV, f.file, "ClamAV ")
				tc += alone(b, f.file)
				n++
			}
			mb := float64(len(f.file.Content)) * float64(n) / 1e6
			b.ReportMetric(mb/ta.Seconds(), "pipeline-MB/s")
			b.ReportMetric(mb/tb.Seconds(), "pipeline+clamd-MB/s")
			b.ReportMetric(mb/tc.Seconds(), "clamd-MB/s")
			b.ReportMetric(tb.Seconds()/tc.Seconds(), "x-clamd")
			b.ReportMetric(ta.Seconds()/tc.Seconds(), "pipeline-x-clamd")
			b.ReportMetric(tc.Seconds()/tb.Seconds(), "ratio")
		})
	}
}
