package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/loadgen"
	"github.com/profileflow/profileflow/handler/domain"
)

// BenchmarkHTTPRows measures the API's hot routes over loopback HTTP with
// vegeta, each against a bare net/http handler on its own loopback server
// answering a body of the same size (the handler's own answer, captured
// first; a request body is read and JSON-decoded as the handler does).
// Both servers run in this process over the same in-memory stores' fakes;
// the load generator does the same work for both (it mints an MFA token
// and formats the body for every request of either side). See
// loadgen.Compare: closed-loop capacity, alternated, then p50/p99 at a
// fixed rate both sustain. Reported: ratio (handler req/s over bare req/s),
// req/s, base-req/s, p50-µs, p99-µs, base-p50-µs, base-p99-µs, at-req/s.
// It ignores b.N: run it with -benchtime 1x.
//
//	go test ./handler/server -run '^$' -bench HTTPRows -benchtime 1x
func BenchmarkHTTPRows(b *testing.B) {
	e := newChangeServer(b)
	hs := httptest.NewServer(e.s)
	defer hs.Close()

	// The status of one direct request.
	first := e.patch("application/json", fmt.Sprintf(`{"description":"s","timestamp":%q}`, now3339()), e.token(b, "user-1000", "1000"), nil)
	var accepted map[string]string
	if err := json.Unmarshal(first.Body.Bytes(), &accepted); err != nil || accepted["request"] == "" {
		b.Fatalf("PATCH: %d %s", first.Code, first.Body)
	}

	// The upload service logs through the default logger; as the
	// handler's own, it formats JSON and discards it.
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewJSONHandler(io.Discard, nil)))

	// PATCH goes round a thousand profiles, so requests in flight at once
	// change different profiles (one open change per field and profile).
	const profiles = 1000
	for i := range profiles {
		id := strconv.Itoa(10000 + i)
		if _, err := e.profiles.CreateProfile(context.Background(), domain.Profile{ID: id, Owner: "user-" + id, FirstName: "Ada", LastName: "Lovelace",
			MaritalStatus: "Single", Phone: "+1555" + id, Version: 1, UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			b.Fatal(err)
		}
	}
	var seq atomic.Int64
	auth := http.Header{"Authorization": {"Bearer user-1000"}}
	patch := func(t *loadgen.Target) {
		n := seq.Add(1)
		id := strconv.Itoa(10000 + int(n%profiles))
		t.Method, t.URL = "PATCH", "/api/v1/profile/"+id
		t.Header = http.Header{"Authorization": {"Bearer user-" + id}, "Content-Type": {"application/json"}}
		t.Header.Set("X-MFA-Token", e.token(b, "user-"+id, id))
		t.Body = fmt.Appendf(nil, `{"description":"v%d","timestamp":%q}`, n, now3339())
	}
	uploadBody := []byte(`{"files":[{"name":"deed.pdf","contentType":"application/pdf","size":1048576},{"name":"photo.jpg","contentType":"image/jpeg","size":2097152}]}`)
	static := func(method, path string, hdr http.Header, body []byte) func(*loadgen.Target) {
		return func(t *loadgen.Target) { t.Method, t.URL, t.Header, t.Body = method, path, hdr, body }
	}
	rows := []struct {
		name string
		want int
		next func(*loadgen.Target) // fills in a path relative to the server
	}{
		{"GETProfile", 200, static("GET", "/api/v1/profile/1000", auth, nil)},
		{"GETStatus", 200, static("GET", accepted["request"], auth, nil)},
		{"POSTUploads", 201, static("POST", "/api/v1/profile/1000/uploads",
			http.Header{"Authorization": {"Bearer user-1000"}, "Content-Type": {"application/json"}}, uploadBody)},
		{"PATCHDirect", 200, patch},
	}
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			// The handler's answer, whose size the bare handler repeats.
			var t loadgen.Target
			row.next(&t)
			req := httptest.NewRequest(t.Method, t.URL, bytes.NewReader(t.Body))
			req.Header = t.Header
			rec := httptest.NewRecorder()
			e.s.ServeHTTP(rec, req)
			if rec.Code != row.want {
				b.Fatalf("%s %s: %d %s", t.Method, t.URL, rec.Code, rec.Body)
			}
			answer := rec.Body.Bytes()
			bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ContentLength != 0 {
					var v map[string]any
					if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
						http.Error(w, err.Error(), 400)
						return
					}
				}
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(row.want)
				_, _ = w.Write(answer)
			}))
			defer bare.Close()
			target := func(base string) loadgen.Targeter {
				return func(t *loadgen.Target) error {
					row.next(t)
					t.URL = base + t.URL
					return nil
				}
			}
			c := loadgen.Compare(loadgen.Side{Name: "handler", Target: target(hs.URL), Want: row.want},
				loadgen.Side{Name: "bare", Target: target(bare.URL), Want: row.want},
				loadgen.Options{Duration: time.Second, Workers: 4})
			if n := c.Errors(); n > 0 {
				b.Fatalf("%d failed requests, e.g. %s", n, c.FirstError())
			}
			for k, v := range c.Metrics() {
				b.ReportMetric(v, k)
			}
			b.ReportMetric(float64(len(answer)), "body-B")
		})
	}
}
