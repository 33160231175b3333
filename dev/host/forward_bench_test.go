package host

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
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

// Invocation ids are random version-4 UUIDs in the canonical text form.
func TestNewUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := newUUID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("newUUID() = %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
