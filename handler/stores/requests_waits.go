package stores

import (
	"context"
	"encoding/json"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/request"
)

var _ request.StalledFinder = (*Requests)(nil)

// A request document carries its request.Waits beside the record, as
// fixed-width UTC strings (nine fraction digits), so that the sweeper's
// queries compare them as strings correctly; a wait that does not apply is
// absent, and a query condition on an absent field does not hold:
//
//	"sweepAttentionSince": "…", "sweepScanSince": "2026-11-30T20:13:00.000000000Z", "sweepTimerDue": "…"
const (
	fieldAttentionSince = "sweepAttentionSince"
	fieldScanSince      = "sweepScanSince"
	fieldTimerDue       = "sweepTimerDue"
	waitLayout          = "2006-01-02T15:04:05.000000000Z"
)

// requestDoc is a record as stored: the record and its waits.
type requestDoc struct {
	request.Record
	AttentionSince string `json:"sweepAttentionSince,omitempty"`
	ScanSince      string `json:"sweepScanSince,omitempty"`
	TimerDue       string `json:"sweepTimerDue,omitempty"`
}

func stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(waitLayout)
}

// docOf is the stored form of r.
func docOf(r request.Record) requestDoc {
	w := request.WaitsOf(r)
	return requestDoc{Record: r, AttentionSince: stamp(w.AttentionSince), ScanSince: stamp(w.ScanSince), TimerDue: stamp(w.TimerDue)}
}

// LeftNeedingAttention lists up to limit ids of requests saved with
// Attention set and not updated since before `before` (one cross-partition
// query): those the attention index no longer lists because no sweep read
// it for longer than its window.
func (s *Requests) LeftNeedingAttention(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return s.waitingBefore(ctx, fieldAttentionSince, before, limit)
}

// WaitingForScan lists up to limit ids of requests waiting for a scan
// verdict since before `before` (one cross-partition query).
func (s *Requests) WaitingForScan(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return s.waitingBefore(ctx, fieldScanSince, before, limit)
}

// TimersOverdue lists up to limit ids of requests with a timer due before
// `before` (one cross-partition query).
func (s *Requests) TimersOverdue(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return s.waitingBefore(ctx, fieldTimerDue, before, limit)
}

func (s *Requests) waitingBefore(ctx context.Context, field string, before time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := docstore.Query{
		Where:  []docstore.Cond{docstore.Where("type", docstore.Eq, "request"), docstore.Where(field, docstore.Lt, before.UTC().Format(waitLayout))},
		Select: []string{"id"},
		Limit:  limit,
	}
	var ids []string
	err := s.docs.Query(ctx, q, func(raw []byte) error {
		var d struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		ids = append(ids, d.ID)
		return nil
	})
	if err != nil {
		return nil, docstore.Relabel(err, requestMsgs)
	}
	return ids, nil
}
