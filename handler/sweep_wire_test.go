package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/cosmosdb"
)

// The SWEEP_* settings reach the sweeper with their defaults; a value that
// is not a positive duration, a fail time not after the re-drive time or
// a fallback past the attention window stops start-up naming the setting.
func TestSweepSettings(t *testing.T) {
	cosmos, err := cosmosdb.New("http://127.0.0.1:1/", "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	w, err := wireSweep(settings(), cosmos, nil, nil, nil, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	st := w.Settings
	if st.Batch != 200 || st.Quiet != 2*time.Minute || st.Attention != time.Hour || st.ScanRedrive != 30*time.Minute ||
		st.ScanFail != 2*time.Hour || st.TimerGrace != 10*time.Minute || st.UploadsAfter != time.Hour {
		t.Fatalf("defaults: %+v", st)
	}
	for _, tc := range []struct{ kv []string }{
		{[]string{"SWEEP_BATCH", "0"}},
		{[]string{"SWEEP_QUIET", "soon"}},
		{[]string{"SWEEP_TIMER_GRACE", "-1m"}},
		{[]string{"SWEEP_SCAN_FAIL_AFTER", "20m"}},
		{[]string{"SWEEP_ATTENTION_FALLBACK_AFTER", "2h"}},
		{[]string{"SWEEP_UPLOAD_DELETE_AFTER", "0s"}},
	} {
		_, err := wireSweep(settings(tc.kv...), cosmos, nil, nil, nil, nil, log)
		if err == nil || !strings.Contains(err.Error(), tc.kv[0]) {
			t.Errorf("%s=%s: %v", tc.kv[0], tc.kv[1], err)
		}
	}
}
