package loadgen

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRuns(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/bad" {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	o := Options{Duration: 300 * time.Millisecond, Workers: 2}

	max := Max(Static("GET", srv.URL+"/ok", nil, nil), o)
	if max.Requests == 0 || max.Errors != 0 || max.Codes[201] != max.Requests || max.Rate <= 0 || max.P99 < max.P50 {
		t.Errorf("closed loop: %+v", max)
	}

	// Want: any other status is an error, reported with its text.
	o.Want = 200
	bad := Fixed(Static("GET", srv.URL+"/bad", nil, nil), 50, o)
	if bad.Requests == 0 || bad.Errors != bad.Requests || !strings.Contains(bad.FirstError, "418") {
		t.Errorf("wrong status: %+v", bad)
	}

	// A targeter that runs out ends the run; Each sees every answer.
	var left atomic.Int64
	left.Store(5)
	seen := 0
	o.Want, o.Duration, o.Each = 0, 5*time.Second, func(url string, code int, body []byte) {
		if code == 201 && strings.HasSuffix(url, "/ok") {
			seen++
		}
	}
	few := Fixed(func(tg *Target) error {
		if left.Add(-1) < 0 {
			return ErrNoTargets
		}
		tg.Method, tg.URL = "GET", srv.URL+"/ok"
		return nil
	}, 100, o)
	if few.Requests != 5 || few.Errors != 0 || seen != 5 {
		t.Errorf("5 targets: %+v, seen %d", few, seen)
	}
}

func TestCompare(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := Compare(Side{Name: "a", Target: Static("GET", srv.URL+"/a", nil, nil), Want: 200},
		Side{Name: "b", Target: Static("GET", srv.URL+"/b", nil, nil), Want: 200}, Options{Duration: 200 * time.Millisecond, Workers: 2})
	m := c.Metrics()
	if c.Errors() != 0 || m["ratio"] <= 0 || m["req/s"] <= 0 || m["base-req/s"] <= 0 || m["at-req/s"] > LatencyRate || m["p99-µs"] <= 0 {
		t.Errorf("comparison %+v, metrics %v", c, m)
	}
}
