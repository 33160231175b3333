package workflow

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/benchpair"
)

// runDefaultLastName drives the default definition through its longest
// happy path: start, scan, reminder, first approval, second approval, apply.
func runDefaultLastName(b *testing.B, def *Definition, svc ServiceHandlers) (*Instance, int) {
	ctx := context.Background()
	vars := map[string]any{"changedFields": []string{"lastName"}, "nameChanged": true, "lastNameChanged": true, "attachmentCount": 1, "requester": "rita"}
	in, eff, err := Start(ctx, def, "req-bench", vars, t0, svc)
	if err != nil {
		b.Fatal(err)
	}
	steps := eff.Steps
	deliver := func(ev Event, now time.Time) {
		e, err := in.Deliver(ctx, def, ev, now, svc)
		if err != nil {
			b.Fatal(err)
		}
		steps += e.Steps
	}
	deliver(Event{ID: "scan", Type: EventMessage, Name: "attachmentsScanned", Vars: map[string]any{"allClean": true}}, t0)
	task := in.OpenTasks()[0]
	deliver(Event{ID: "remind", Type: EventTimerFired, TimerID: in.Timers[0].ID}, t0.Add(24*time.Hour))
	deliver(Event{ID: "a1", Type: EventTaskDecision, TaskID: task.ID, Decision: Approve, Actor: "alice", Groups: approver}, t0.Add(25*time.Hour))
	deliver(Event{ID: "a1", Type: EventTaskDecision, TaskID: task.ID, Decision: Approve, Actor: "alice", Groups: approver}, t0.Add(25*time.Hour)) // duplicate
	deliver(Event{ID: "a2", Type: EventTaskDecision, TaskID: "Approve2", Decision: Approve, Actor: "bob", Groups: approver}, t0.Add(26*time.Hour))
	if in.Status != StatusCompleted {
		b.Fatalf("status %s", in.Status)
	}
	return in, steps
}

func benchServices() ServiceHandlers {
	return ServiceHandlers{
		"applyChange": func(*ServiceContext) error { return nil },
		"notify":      func(*ServiceContext) error { return nil },
	}
}

// BenchmarkEngineDefaultLastName: engine steps per second for the default
// definition (one op = Start + 5 deliveries through to completion).
func BenchmarkEngineDefaultLastName(b *testing.B) {
	def := mustParse(b, defaultDefinition)
	svc := benchServices()
	total := 0
	b.ReportAllocs()
	for b.Loop() {
		_, n := runDefaultLastName(b, def, svc)
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(total)/float64(b.N), "steps/op")
}

// BenchmarkEngineDefaultDescriptionOnly: the synchronous path of PATCH.
func BenchmarkEngineDefaultDescriptionOnly(b *testing.B) {
	def := mustParse(b, defaultDefinition)
	svc := benchServices()
	vars := map[string]any{"changedFields": []string{"description"}, "attachmentCount": 0, "requester": "rita"}
	total := 0
	b.ReportAllocs()
	for b.Loop() {
		in, eff, err := Start(context.Background(), def, "req-bench", vars, t0, svc)
		if err != nil || in.Status != StatusCompleted {
			b.Fatal(err)
		}
		total += eff.Steps
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkBaselineStateJSONRoundTrip: what the caller pays anyway per step
// (load and save the completed instance as JSON), for a ratio.
func BenchmarkBaselineStateJSONRoundTrip(b *testing.B) {
	def := mustParse(b, defaultDefinition)
	in, _ := runDefaultLastName(b, def, benchServices())
	b.ReportAllocs()
	for b.Loop() {
		buf, err := json.Marshal(in)
		if err != nil {
			b.Fatal(err)
		}
		var out Instance
		if err := json.Unmarshal(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDefault: loading the shipped definition (done once at start-up).
func BenchmarkParseDefault(b *testing.B) {
	for b.Loop() {
		mustParse(b, defaultDefinition)
	}
}

// BenchmarkEngineRow measures, side by side in one run, the engine over
// the default definition's longest happy path (Start and five deliveries
// to completion) and one JSON round trip (marshal, unmarshal) of the
// completed instance's state, which a caller pays per step anyway.
// Reported: steps/s, roundtrips/s and ratio = steps per second over round
// trips per second (no target: reported). It ignores b.N: run it with
// -benchtime 1x.
func BenchmarkEngineRow(b *testing.B) {
	def := mustParse(b, defaultDefinition)
	svc := benchServices()
	in, steps := runDefaultLastName(b, def, svc)
	p, err := benchpair.Measure(func() error {
		runDefaultLastName(b, def, svc)
		return nil
	}, func() error {
		buf, err := json.Marshal(in)
		if err != nil {
			return err
		}
		var out Instance
		return json.Unmarshal(buf, &out)
	})
	if err != nil {
		b.Fatal(err)
	}
	p.Report(b)
	stepsPerSec := float64(steps) / (p.Subject.NsPerOp / 1e9)
	tripsPerSec := 1e9 / p.Baseline.NsPerOp
	b.ReportMetric(stepsPerSec, "steps/s")
	b.ReportMetric(tripsPerSec, "roundtrips/s")
	b.ReportMetric(stepsPerSec/tripsPerSec, "ratio")
}

// BenchmarkDefaultParseAndRun: loading the shipped definition and running
// its longest path once (one op = parse + Start + 5 deliveries).
func BenchmarkDefaultParseAndRun(b *testing.B) {
	svc := benchServices()
	b.ReportAllocs()
	for b.Loop() {
		runDefaultLastName(b, mustParse(b, defaultDefinition), svc)
	}
}
