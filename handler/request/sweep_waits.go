package request

import (
	"context"
	"time"
)

// Waits tells when a request started waiting for something the sweeper
// watches with a deadline: AttentionSince, the last update of a record
// saved with Attention set (work a crash or outage left undone, see
// Sweep); ScanSince, the last update of a request still
// waiting for a document's scan verdict (a record waiting for scans is
// not written until a verdict or failed attempt arrives, so that is when
// the wait began or last made progress); TimerDue, the earliest due time of
// the timers its workflow waits for. Each is nil when it does not apply:
// terminal requests wait for nothing, and a request not yet started is the
// attention index's (see Sweep).
type Waits struct {
	AttentionSince *time.Time
	ScanSince      *time.Time
	TimerDue       *time.Time
}

// WaitsOf returns rec's Waits. The store keeps them with the record so that
// StalledFinder can select on them.
func WaitsOf(rec Record) Waits {
	var w Waits
	if rec.Attention {
		t := rec.LastUpdatedTime.UTC()
		w.AttentionSince = &t
	}
	if rec.RuntimeStatus.Terminal() || rec.Workflow == nil {
		return w
	}
	if _, done := verdicts(rec); !done && len(rec.Attachments) > 0 {
		t := rec.LastUpdatedTime.UTC()
		w.ScanSince = &t
	}
	for _, t := range rec.Workflow.Timers {
		if w.TimerDue == nil || t.Due.Before(*w.TimerDue) {
			due := t.Due.UTC()
			w.TimerDue = &due
		}
	}
	return w
}

// StalledFinder lists requests whose Waits passed a deadline
// (*stores.Requests): LeftNeedingAttention the ids of those whose
// AttentionSince is before `before` (the attention index's fallback),
// WaitingForScan those whose ScanSince is, TimersOverdue those whose
// TimerDue is; at most limit
// ids each, in no particular order. Errors are the store's (KindTransient).
// A listed record may have moved on since: callers re-read it.
type StalledFinder interface {
	LeftNeedingAttention(ctx context.Context, before time.Time, limit int) ([]string, error)
	WaitingForScan(ctx context.Context, before time.Time, limit int) ([]string, error)
	TimersOverdue(ctx context.Context, before time.Time, limit int) ([]string, error)
}
