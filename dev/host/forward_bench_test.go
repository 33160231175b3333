package host

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/loadgen"
)

// BenchmarkForwarding measures the development host's HTTP forwarding:
// GET requests through the host to a handler (this test binary serving a
// JSON echo of ~1 KB) against the same requests sent to the handler
// directly, over loopback with vegeta (loadgen.Compare). Reported: ratio
// (req/s through the host over req/s direct), req/s, base-req/s and the
// latencies of both at a fixed rate. It ignores b.N: run it with
// -benchtime 1x.
//
//	go test ./dev/host -run '^$' -bench Forwarding -benchtime 1x
func BenchmarkForwarding(b *testing.B) {
	h, err := startTestHost(b, "ok", testFunctions, func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	})
	if err != nil {
		b.Fatal(err)
	}
	const path = "/api/items/7/a/b?x=1"
	hdr := http.Header{"Authorization": {"Bearer token"}}
	c := loadgen.Compare(
		loadgen.Side{Name: "host", Target: loadgen.Static("GET", h.URL()+path, hdr, nil), Want: 201},
		loadgen.Side{Name: "direct", Target: loadgen.Static("GET", h.HandlerURL()+path, hdr, nil), Want: 201},
		loadgen.Options{Duration: time.Second, Workers: 4})
	if n := c.Errors(); n > 0 {
		b.Fatalf("%d failed requests, e.g. %s", n, c.FirstError())
	}
	for k, v := range c.Metrics() {
		b.ReportMetric(v, k)
	}
}
