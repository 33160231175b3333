package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// ncrontab is the 6-field NCRONTAB format of Azure Functions timer triggers:
// {second} {minute} {hour} {day} {month} {day-of-week}.
var ncrontab = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

var timeSpanRE = regexp.MustCompile(`^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$`)

// ParseSchedule parses a timer schedule: a 6-field NCRONTAB expression
// ("0 */5 * * * *") or a TimeSpan constant interval ("00:05:00", "1.00:00:00").
// Schedules are evaluated in UTC.
func ParseSchedule(s string) (cron.Schedule, error) {
	s = strings.TrimSpace(s)
	if m := timeSpanRE.FindStringSubmatch(s); m != nil {
		var d time.Duration
		for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
			if m[i+1] == "" {
				continue
			}
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
		if d < time.Second {
			return nil, fmt.Errorf("interval %q is shorter than one second", s)
		}
		return cron.Every(d), nil
	}
	if n := len(strings.Fields(s)); n != 6 {
		return nil, fmt.Errorf("NCRONTAB %q has %d fields, want 6 ({second} {minute} {hour} {day} {month} {day-of-week})", s, n)
	}
	sched, err := ncrontab.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid NCRONTAB %q: %v", s, err)
	}
	return sched, nil
}

var settingRefRE = regexp.MustCompile(`^%([^%]+)%$`)

// resolveSetting expands a whole-value %Setting% reference from env.
func resolveSetting(v string, getenv func(string) string) (string, error) {
	m := settingRefRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return v, nil
	}
	val := getenv(m[1])
	if val == "" {
		return "", fmt.Errorf("app setting %s (referenced as %s) is not set", m[1], v)
	}
	return val, nil
}

// Time formats of the timer payload, as the .NET host writes them.
const (
	dotnetOffsetTime = "2006-01-02T15:04:05.9999999-07:00" // DateTimeOffset-like, "+00:00"
	dotnetUTCTime    = "2006-01-02T15:04:05.0000000Z"      // sys.UtcNow
)

// timerSource is the built-in TriggerSource for timerTrigger functions.
type timerSource struct {
	getenv func(string) string

	mu     sync.Mutex
	timers map[string]*timerState // by lower-case function name
	inv    Invoker
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type timerState struct {
	fn    *Function
	sched cron.Schedule
	mu    sync.Mutex
	last  time.Time // last scheduled occurrence that ran
}

func newTimerSource(app *App, getenv func(string) string) (*timerSource, error) {
	ts := &timerSource{getenv: getenv, timers: map[string]*timerState{}}
	var errs []error
	for _, fn := range app.FunctionsByTrigger(TypeTimerTrigger) {
		expr, err := resolveSetting(fn.Schedule, getenv)
		if err == nil {
			var sched cron.Schedule
			if sched, err = ParseSchedule(expr); err == nil {
				ts.timers[strings.ToLower(fn.Name)] = &timerState{fn: fn, sched: sched}
				continue
			}
		}
		errs = append(errs, &ConfigError{File: fn.File, Field: "bindings[].schedule", Msg: err.Error()})
	}
	return ts, errors.Join(errs...)
}

func (ts *timerSource) Start(ctx context.Context, inv Invoker) error {
	ctx, cancel := context.WithCancel(ctx)
	ts.mu.Lock()
	ts.inv, ts.cancel = inv, cancel
	ts.mu.Unlock()
	for _, st := range ts.timers {
		ts.wg.Add(1)
		go func() {
			defer ts.wg.Done()
			ts.loop(ctx, st)
		}()
	}
	return nil
}

func (ts *timerSource) Stop() error {
	ts.mu.Lock()
	cancel := ts.cancel
	ts.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	ts.wg.Wait()
	return nil
}

// loop runs one timer function: once at start if runOnStartup, then at each
// occurrence. Runs of one function never overlap (like the host's singleton
// lock); occurrences missed while a run is in progress are skipped.
func (ts *timerSource) loop(ctx context.Context, st *timerState) {
	log := ts.inv.Logger().With("function", st.fn.Name, "trigger", TypeTimerTrigger)
	if st.fn.RunOnStartup {
		ts.fire(ctx, st, time.Now().UTC(), false, log)
	}
	for {
		next := st.sched.Next(time.Now().UTC())
		if next.IsZero() {
			log.Warn("timer schedule has no next occurrence", "schedule", st.fn.Schedule)
			return
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ts.fire(ctx, st, next, true, log)
	}
}

func (ts *timerSource) fire(ctx context.Context, st *timerState, scheduled time.Time, record bool, log *slog.Logger) {
	pastDue := time.Since(scheduled) > time.Minute
	err := ts.invoke(ctx, st, pastDue, record, scheduled)
	if err != nil && ctx.Err() == nil {
		log.Error("timer invocation failed", "scheduled", scheduled.Format(time.RFC3339), "error", err)
	}
}

// invoke builds the TimerInfo payload and calls the handler.
func (ts *timerSource) invoke(ctx context.Context, st *timerState, pastDue, record bool, scheduled time.Time) error {
	now := time.Now().UTC()
	st.mu.Lock()
	last := st.last
	if record {
		st.last = scheduled
	}
	st.mu.Unlock()
	var status any // null when useMonitor is false
	if st.fn.UseMonitor {
		status = map[string]any{
			"Last":        last.UTC().Format(dotnetOffsetTime),
			"Next":        st.sched.Next(now).UTC().Format(dotnetOffsetTime),
			"LastUpdated": now.Format(dotnetOffsetTime),
		}
	}
	data := map[string]any{
		st.fn.Trigger.Name: map[string]any{
			"Schedule":       map[string]any{"AdjustForDST": true},
			"ScheduleStatus": status,
			"IsPastDue":      pastDue,
		},
	}
	_, err := ts.inv.Invoke(ctx, st.fn.Name, data, map[string]any{})
	return err
}

// fireNow runs a timer function once, outside its schedule.
func (ts *timerSource) fireNow(ctx context.Context, name string) error {
	st, ok := ts.timers[strings.ToLower(name)]
	if !ok {
		return fmt.Errorf("no timer-triggered function %q", name)
	}
	ts.mu.Lock()
	inv := ts.inv
	ts.mu.Unlock()
	if inv == nil {
		return errors.New("timers are not started")
	}
	return ts.invoke(ctx, st, false, false, time.Now().UTC())
}
