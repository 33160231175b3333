package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/upload"
)

// sweepSpy is the sweep use case, recording its calls.
type sweepSpy struct {
	mu     sync.Mutex
	calls  int
	result request.SweepReport
	err    error
}

func (s *sweepSpy) Sweep(context.Context) (request.SweepReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.result, s.err
}

// deletedBlobs is the Expirer's BlobDeleter of the test server: every
// blob is already gone.
type deletedBlobs struct{}

func (deletedBlobs) Delete(context.Context, upload.BlobRef) error { return nil }

func postInvocation(s *Server, function, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/"+function, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Azure-Functions-InvocationId", "inv-sweep")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

// The timer payload never stops the sweep: dates without an offset (a
// timer that never ran reports "Last":"0001-01-01T00:00:00"), a null
// ScheduleStatus, no timer binding at all. Each answer is the 2xx reply
// with the use case's result, and the use case ran exactly once.
func TestSweepTriggerRunsTheSweep(t *testing.T) {
	fixture, err := os.ReadFile("../invoke/testdata/timer-trigger.request.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		pastDue    string
	}{
		{"host fixture (dates with offset)", string(fixture), "no"},
		{"dates without offset", `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-30T17:35:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"Sweep","UtcNow":"2026-11-30T17:30:00.0456789Z","RandGuid":"d4c3b2a1-0f9e-4d8c-b7a6-5e4d3c2b1a09"}}}`, "no"},
		{"dates without offset, past due", `{"Data":{"timer":{"ScheduleStatus":{"Last":"2026-11-30T17:25:00.1234567","Next":"2026-11-30T17:30:00"},"IsPastDue":true}},"Metadata":{}}`, "yes"},
		{"ScheduleStatus null", `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`, "no"},
		{"no timer binding", `{"Data":{},"Metadata":{}}`, "unknown"},
		{"unreadable IsPastDue", `{"Data":{"timer":{"IsPastDue":"sometimes"}},"Metadata":{}}`, "unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s, _ := newTestServer(t, &logs)
			spy := &sweepSpy{result: request.SweepReport{Attention: request.SweepResult{Seen: 3, Started: 1, Flushed: 2},
				Stalled: request.StalledResult{Attended: request.SweepResult{Seen: 1, Flushed: 1}, Rescanned: 2, ScanTimedOut: 1, TimersFired: 4, Failed: 1},
				Uploads: upload.ExpiryResult{Sessions: 5, Blobs: 6, Failed: 7}}}
			s.Sweeper = spy
			rec := postInvocation(s, "Sweep", tc.body)
			var resp struct {
				Logs        []string
				ReturnValue request.SweepReport
			}
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &resp) != nil {
				t.Fatalf("answer %d %s", rec.Code, rec.Body)
			}
			if spy.calls != 1 {
				t.Fatalf("sweep use case called %d times, want once", spy.calls)
			}
			if resp.ReturnValue != spy.result || len(resp.Logs) != 1 ||
				resp.Logs[0] != "sweep: 3 requests needed attention, 1 started, 2 finished, 0 still failing; "+
					"1 found past the attention index (1 finished); 2 documents re-scanned, 1 never scanned in time, 4 lost timers delivered, 1 stalled requests failing; "+
					"5 expired uploads, 6 blobs deleted, 7 failing (past due: "+tc.pastDue+")" {
				t.Errorf("reply = %+v", resp)
			}
			if strings.Contains(rec.Body.String(), "permanent failure") {
				t.Errorf("reported as a failure: %s", rec.Body)
			}
		})
	}
}

// The sweep's own outcome goes through the error table: a storage outage
// answers non-2xx so the host records the failure.
func TestSweepTriggerTransientFailure(t *testing.T) {
	s, _ := newTestServer(t, nil)
	spy := &sweepSpy{err: domain.E(domain.KindTransient, "cosmos unavailable")}
	s.Sweeper = spy
	rec := postInvocation(s, "Sweep", `{"Data":{"timer":{"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`)
	if rec.Code != 503 || spy.calls != 1 || !strings.Contains(rec.Body.String(), "transient") {
		t.Fatalf("answer %d %s after %d calls", rec.Code, rec.Body, spy.calls)
	}
}

// Against the real use case over the in-memory store: the host fixture
// sweeps an empty store.
func TestSweepTriggerWithService(t *testing.T) {
	e := newChangeServer(t)
	fixture, err := os.ReadFile("../invoke/testdata/timer-trigger.request.json")
	if err != nil {
		t.Fatal(err)
	}
	rec := postInvocation(e.s, "Sweep", string(fixture))
	var resp struct{ Logs []string }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &resp) != nil || len(resp.Logs) != 1 || !strings.HasPrefix(resp.Logs[0], "sweep: 0 requests") {
		t.Fatalf("sweep: %d %s", rec.Code, rec.Body)
	}
}
