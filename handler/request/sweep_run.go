package request

import (
	"context"
	"errors"
	"time"

	"github.com/profileflow/profileflow/handler/upload"
)

// UploadExpirer deletes the blobs of upload sessions that expired
// unclaimed (*upload.Expirer), at most limit sessions per call; only
// listing fails it (KindTransient).
type UploadExpirer interface {
	DeleteExpired(ctx context.Context, after time.Duration, limit int) (upload.ExpiryResult, error)
}

// SweepSettings are the sweeper's settings (handler/config documents the
// app settings they come from and their defaults).
type SweepSettings struct {
	Quiet        time.Duration // SWEEP_QUIET: work left undone this long is finished
	Batch        int           // SWEEP_BATCH: at most this many items of each kind per run
	UploadsAfter time.Duration // SWEEP_UPLOAD_DELETE_AFTER: after an upload window closed
	Deadlines
}

// Sweeper is the Sweep function's use case: one run finishes work left
// undone (Service.Sweep over the attention index), handles requests
// waiting past a deadline (Service.SweepStalled) and deletes what expired
// upload sessions left (UploadExpirer). Every part is idempotent and
// bounded by Batch, so overlapping runs are safe.
type Sweeper struct {
	Requests *Service
	Stalled  StalledFinder
	Scans    Rescanner
	Uploads  UploadExpirer
	Settings SweepSettings
}

// SweepReport is what one run did, part by part.
type SweepReport struct {
	Attention SweepResult         `json:"attention"`
	Stalled   StalledResult       `json:"stalled"`
	Uploads   upload.ExpiryResult `json:"uploads"`
}

// Sweep runs every part, each even when an earlier one failed. The error
// joins those of the parts that could not list their work (the stores'
// KindTransient); work items that fail are counted, logged and left for
// the next run.
func (w *Sweeper) Sweep(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	var errs []error
	st := w.Settings
	var err error
	if rep.Attention, err = w.Requests.Sweep(ctx, st.Quiet, st.Batch); err != nil {
		errs = append(errs, err)
	}
	if rep.Stalled, err = w.Requests.SweepStalled(ctx, w.Stalled, w.Scans, st.Deadlines, st.Batch); err != nil {
		errs = append(errs, err)
	}
	if rep.Uploads, err = w.Uploads.DeleteExpired(ctx, st.UploadsAfter, st.Batch); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}
