package server

import (
	"context"
	"fmt"

	"github.com/profileflow/profileflow/handler/invoke"
	"github.com/profileflow/profileflow/handler/request"
)

// SweepService is the Sweep function's use case (*request.Sweeper): one
// bounded run over work left undone, requests waiting past a deadline and
// expired uploads; an error (the stores' KindTransient) means some part
// could not list its work, and the report holds what the others did.
type SweepService interface {
	Sweep(ctx context.Context) (request.SweepReport, error)
}

// sweep is the timer-triggered Sweep function (functions/Sweep): it finishes
// requests whose workflow never started, effects not yet dispatched and
// field locks not yet released; re-drives the scans of requests waiting
// too long for a verdict and fails them after a second deadline; delivers
// timers whose scheduled message never came; and deletes the blobs of
// upload sessions that expired unclaimed.
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
	rep, err := s.Sweeper.Sweep(ctx)
	a, st, up := rep.Attention, rep.Stalled, rep.Uploads
	msg := fmt.Sprintf("sweep: %d requests needed attention, %d started, %d finished, %d still failing; "+
		"%d found past the attention index (%d finished); %d documents re-scanned, %d never scanned in time, %d lost timers delivered, %d stalled requests failing; "+
		"%d expired uploads, %d blobs deleted, %d failing (past due: %s)",
		a.Seen, a.Started, a.Flushed, a.Failed,
		st.Attended.Seen, st.Attended.Flushed, st.Rescanned, st.ScanTimedOut, st.TimersFired, st.Failed+st.Attended.Failed,
		up.Sessions, up.Blobs, up.Failed, due)
	if err != nil {
		s.log.WarnContext(ctx, msg, "err", err.Error())
		return invoke.Response{}, err
	}
	s.log.InfoContext(ctx, msg)
	return invoke.Response{Logs: []string{msg}, ReturnValue: rep}, nil
}
