package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/profileflow/profileflow/handler/blobstore"
	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/upload"
)

// wireSweep builds the Sweep function's use case from the SWEEP_* settings:
// the request service and its store (attention index and the stalled
// queries), the scan to re-drive, and the upload sessions with the blob
// adapter to delete what expired uploads left. A bad setting stops
// start-up naming it.
func wireSweep(cfg *config.Config, cosmos *cosmosdb.Client, requests *request.Service, reqStore *stores.Requests, scans *scan.Service, blobs *blobstore.Store, log *slog.Logger) (*request.Sweeper, error) {
	batch, err := cfg.PositiveInt("SWEEP_BATCH")
	if err != nil {
		return nil, err
	}
	st := request.SweepSettings{Batch: batch}
	for _, d := range []struct {
		name string
		into *time.Duration
	}{
		{"SWEEP_QUIET", &st.Quiet},
		{"SWEEP_ATTENTION_FALLBACK_AFTER", &st.Attention},
		{"SWEEP_SCAN_REDRIVE_AFTER", &st.ScanRedrive},
		{"SWEEP_SCAN_FAIL_AFTER", &st.ScanFail},
		{"SWEEP_TIMER_GRACE", &st.TimerGrace},
		{"SWEEP_UPLOAD_DELETE_AFTER", &st.UploadsAfter},
	} {
		v, err := cfg.Duration(d.name)
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("setting %s: %q must be a positive duration", d.name, cfg.String(d.name))
		}
		*d.into = v
	}
	if st.ScanFail <= st.ScanRedrive {
		return nil, fmt.Errorf("setting SWEEP_SCAN_FAIL_AFTER (%s) must be longer than SWEEP_SCAN_REDRIVE_AFTER (%s)", st.ScanFail, st.ScanRedrive)
	}
	if st.Attention > stores.DefaultAttentionWindow {
		return nil, fmt.Errorf("setting SWEEP_ATTENTION_FALLBACK_AFTER (%s) must be at most the attention index's window (%s)", st.Attention, stores.DefaultAttentionWindow)
	}
	sessions := stores.NewUploads(cosmos.Container(cfg.String("COSMOS_DATABASE"), cfg.String("COSMOS_CONTAINER_UPLOADS")))
	return &request.Sweeper{
		Requests: requests, Stalled: reqStore, Scans: scans,
		Uploads:  &upload.Expirer{Sessions: sessions, Blobs: blobs, Log: log},
		Settings: st,
	}, nil
}
