package server

import (
	"context"
	"fmt"
	"time"

	"github.com/profileflow/profileflow/handler/invoke"
)

// Sweep settings: requests untouched for sweepQuiet with work left undone
// are finished, at most sweepBatch per run.
const (
	sweepQuiet = 2 * time.Minute
	sweepBatch = 200
)

// sweep is the timer-triggered Sweep function (functions/Sweep): it finishes
// requests whose workflow never started, effects not yet dispatched and
// field locks not yet released.
//
// The timer payload is informational: only IsPastDue is read, for the log
// line, so no timer payload (ScheduleStatus null, dates without an offset,
// no timer binding at all, even a malformed IsPastDue) stops the sweep.
// A storage outage answers non-2xx (logged by the host; the next run
// retries).
func (s *Server) sweep(ctx context.Context, req *invoke.Request) (invoke.Response, error) {
	due := "no"
	switch pastDue, known, err := req.Timer("timer").IsPastDue.Lookup(); {
	case err != nil:
		due = "unreadable"
		s.log.WarnContext(ctx, "sweep: timer payload not understood; sweeping anyway", "err", err.Error())
	case !known:
		due = "unknown"
	case pastDue:
		due = "yes"
	}
	res, err := s.Requests.Sweep(ctx, sweepQuiet, sweepBatch)
	if err != nil {
		return invoke.Response{}, err
	}
	msg := fmt.Sprintf("sweep: %d requests needed attention, %d started, %d finished, %d still failing (past due: %s)", res.Seen, res.Started, res.Flushed, res.Failed, due)
	s.log.InfoContext(ctx, msg)
	return invoke.Response{Logs: []string{msg}, ReturnValue: res}, nil
}
