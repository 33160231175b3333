package webui_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/uploadclient"
)

// BenchmarkUploadBrowserVsGoClient uploads the 25 MiB PDF to the same
// Azurite b.N times from the web UI in Chromium (4 blocks in flight,
// per-block MD5 in workers, File.slice() bodies), b.N times from the web UI
// hashing on the page's own thread, and b.N times with the Go upload client
// (4 blocks in flight, per-block MD5), each timed from the first Put Block
// to the Put Block List answer. It reports the throughputs in MB/s (10^6
// bytes per second) and browser/go, the ratio of the UI's to the client's.
//
//	go test -run '^$' -bench UploadBrowserVsGoClient -benchtime 3x ./dev/webui
func BenchmarkUploadBrowserVsGoClient(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(docsDir, bigPDF))
	if err != nil {
		b.Fatal(err)
	}
	id, owner, _ := newProfile(b)
	tok, err := sys.Token(owner, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	api := uploadclient.API{BaseURL: sys.URL, Token: tok}
	var goTime time.Duration
	for range b.N {
		plan, err := api.Start(context.Background(), id, []uploadclient.FileSpec{{Name: bigPDF, ContentType: "application/pdf", Size: int64(len(data))}})
		if err != nil {
			b.Fatal(err)
		}
		var cl uploadclient.Client
		start := time.Now()
		if err := cl.Upload(context.Background(), plan.Files[0], bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		goTime += time.Since(start)
	}
	r := browse(b, "throughput", map[string]any{"profileId": id, "owner": owner, "big": bigPDF, "n": b.N})
	mb := float64(len(data)) * float64(b.N) / 1e6
	goMBps := mb / goTime.Seconds()
	ms := r["ms"].(map[string]any)
	rate := func(variant string) float64 {
		var total float64
		for _, v := range ms[variant].([]any) {
			total += v.(float64)
		}
		return mb / (total / 1000)
	}
	browserMBps, inlineMBps := rate("workers"), rate("inline")
	b.ReportMetric(browserMBps, "browser-MB/s")
	b.ReportMetric(inlineMBps, "browser-md5-inline-MB/s")
	b.ReportMetric(goMBps, "go-MB/s")
	b.ReportMetric(browserMBps/goMBps, "browser/go")
}
