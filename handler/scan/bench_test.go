package scan

import (
	"context"
	"crypto/sha256"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"
)

// BenchmarkPipeline scans a 25 MiB PDF and a 25 MiB PNG with a no-op
// engine (the pipeline's own cost) and reports, from the same run:
//   - MB/s of the pipeline (b.SetBytes);
//   - sha256-MB/s: SHA-256 over the same bytes, the baseline;
//   - x-sha256: pipeline time per scan ÷ SHA-256 time over the same bytes;
//   - peak-heap-MiB: an upper bound of the heap one scan needs, the file's
//     bytes plus everything the scan allocates (measured with the garbage
//     collector off, so nothing allocated is freed in between);
//   - peak-heap-x-file: peak-heap-MiB ÷ the file size;
//   - live-peak-MiB: the largest heap sampled every millisecond during one
//     scan with the collector at GOGC=5 (close to the live heap), minus
//     the heap before it, plus the file.
func BenchmarkPipeline(b *testing.B) {
	const size = 25 << 20
	cases := []struct {
		name string
		file func(testing.TB) File
	}{
		{"pdf-25MiB", func(tb testing.TB) File { return pdfFile("big.pdf", bigPDF(tb, size)) }},
		{"png-25MiB", func(tb testing.TB) File {
			c := bigPNG(tb, size)
			return File{Name: "big.png", DeclaredType: typePNG, DeclaredSize: int64(len(c)), Content: c}
		}},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			f := bc.file(b)
			p := New(Options{Engine: nopEngine{}})
			ctx := context.Background()
			scan := func() {
				r, err := p.Scan(ctx, f)
				if err != nil || r.Verdict != Clean {
					b.Fatalf("got %+v, %v; want clean", r, err)
				}
			}
			peak := peakHeap(int64(len(f.Content)), scan)
			live := livePeak(int64(len(f.Content)), scan)
			base := sha256Time(f.Content)

			b.SetBytes(int64(len(f.Content)))
			b.ResetTimer()
			for b.Loop() {
				scan()
			}
			per := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(len(f.Content))/base.Seconds()/1e6, "sha256-MB/s")
			b.ReportMetric(per/base.Seconds(), "x-sha256")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peak)/float64(len(f.Content)), "peak-heap-x-file")
			b.ReportMetric(float64(live)/(1<<20), "live-peak-MiB")
		})
	}
}

// sha256Time is the median time of SHA-256 over content (5 runs).
func sha256Time(content []byte) time.Duration {
	runs := make([]time.Duration, 5)
	for i := range runs {
		start := time.Now()
		sha256.Sum256(content)
		runs[i] = time.Since(start)
	}
	slices.Sort(runs)
	return runs[len(runs)/2]
}

// peakHeap runs scan once with the garbage collector off and returns
// fileSize plus the bytes allocated meanwhile: an upper bound of the live
// heap the scan needs while it holds a file of fileSize bytes.
func peakHeap(fileSize int64, scan func()) uint64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	scan()
	runtime.ReadMemStats(&after)
	return uint64(fileSize) + after.TotalAlloc - before.TotalAlloc
}

// livePeak runs scan once with GOGC=5 while sampling the heap every
// millisecond, and returns fileSize plus the largest growth seen.
func livePeak(fileSize int64, scan func()) uint64 {
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				var s runtime.MemStats
				runtime.ReadMemStats(&s)
				peak = max(peak, s.HeapAlloc)
			}
		}
	}()
	scan()
	close(done)
	<-stopped
	return uint64(fileSize) + peak - base
}

// BenchmarkPDFHostile scans PDFs shaped to make the parser build far more
// than the file holds, and reports what the bounds leave: time per scan,
// live-peak-MiB (as in BenchmarkPipeline, including the file) and its
// ratio to the file size. Each is refused or passes within the bounds;
// none may take the process down.
func BenchmarkPDFHostile(b *testing.B) {
	cases := []struct {
		name string
		pdf  func() []byte
	}{
		{"objects-49k", func() []byte { return manyObjects(49_000) }},
		{"xref-1M-entries-one-offset", func() []byte { return sameOffset(1_000_000) }},
		{"dict-24MiB", func() []byte { return denseDict(24 << 20) }},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			f := pdfFile("hostile.pdf", bc.pdf())
			p := New(Options{})
			var r Result
			scan := func() {
				var err error
				if r, err = p.Scan(context.Background(), f); err != nil {
					b.Fatal(err)
				}
			}
			live := livePeak(int64(len(f.Content)), scan)
			b.Logf("%s: %s %s", bc.name, r.Verdict, r.Reason)
			b.SetBytes(int64(len(f.Content)))
			b.ResetTimer()
			for b.Loop() {
				scan()
			}
			b.ReportMetric(float64(len(f.Content))/(1<<20), "file-MiB")
			b.ReportMetric(float64(live)/(1<<20), "live-peak-MiB")
			b.ReportMetric(float64(live)/float64(len(f.Content)), "live-peak-x-file")
		})
	}
}
