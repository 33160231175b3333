package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// genEvent draws a plausible (sometimes invalid) next event from the state.
func genEvent(rng *rand.Rand, in *Instance, step int, now time.Time) (Event, time.Time) {
	id := fmt.Sprintf("ev-%d", step)
	actors := []string{"alice", "bob", "sam", "rita"}
	groupSets := [][]string{approver, supervisor, {"ProfileApprover", "ProfileSupervisor"}, nil}
	decisions := []DecisionKind{Approve, Approve, Approve, Reject, SendBack}
	switch p := rng.Intn(100); {
	case p < 20:
		return Event{ID: id, Type: EventMessage, Name: "attachmentsScanned", Vars: map[string]any{"allClean": rng.Intn(4) != 0}}, now.Add(time.Minute)
	case p < 65:
		task := []string{"Approve1", "Approve2", "Approve1Sup", "Nope"}[rng.Intn(4)]
		if len(in.Tasks) > 0 && rng.Intn(3) != 0 {
			task = in.Tasks[rng.Intn(len(in.Tasks))].ID
		}
		return Event{ID: id, Type: EventTaskDecision, TaskID: task, Decision: decisions[rng.Intn(len(decisions))],
			Actor: actors[rng.Intn(len(actors))], Groups: groupSets[rng.Intn(len(groupSets))], Comment: "c" + id}, now.Add(time.Hour)
	case p < 90:
		if len(in.Timers) == 0 {
			return Event{ID: id, Type: EventTimerFired, TimerID: "req/none"}, now
		}
		tm := in.Timers[rng.Intn(len(in.Timers))]
		if tm.Due.After(now) && rng.Intn(5) != 0 {
			now = tm.Due
		}
		return Event{ID: id, Type: EventTimerFired, TimerID: tm.ID}, now
	case p < 95:
		return Event{ID: id, Type: EventCancel, Actor: "rita"}, now
	default:
		return Event{ID: id, Type: EventMessage, Name: "unknown"}, now
	}
}

func randomStartVars(rng *rand.Rand) map[string]any {
	var fields []string
	for _, f := range []string{"description", "firstName", "lastName", "maritalStatus"} {
		if rng.Intn(2) == 0 {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		fields = []string{"lastName"}
	}
	v := changeVars(fields...)
	v["attachmentCount"] = rng.Intn(3)
	if rng.Intn(8) == 0 {
		v["attachmentCount"] = 0
	}
	return v
}

func roundTrip(t *testing.T, in *Instance) *Instance {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Instance
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func effJSON(t *testing.T, e Effects) string {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRedeliveryIsIdempotent: for random event sequences, an instance that
// gets every event twice (and earlier events again, stored and loaded as JSON
// between steps) ends in exactly the state of one that gets each event once.
func TestRedeliveryIsIdempotent(t *testing.T) {
	def := mustParse(t, defaultDefinition)
	ctx := context.Background()
	terminalSeen := map[Status]int{}
	for seed := int64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewSource(seed))
		vars := randomStartVars(rng)
		recOnce, svcOnce := newRecorder("applyChange", "notify")
		recTwice, svcTwice := newRecorder("applyChange", "notify")
		once, _, err := Start(ctx, def, "req", vars, t0, svcOnce)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		twice, _, err := Start(ctx, def, "req", vars, t0, svcTwice)
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		var applied []Event
		for step := 0; step < 15; step++ {
			var ev Event
			ev, now = genEvent(rng, once, step, now)
			effOnce, errOnce := once.Deliver(ctx, def, ev, now, svcOnce)

			twice = roundTrip(t, twice)
			eff1, err1 := twice.Deliver(ctx, def, ev, now, svcTwice)
			if domain.KindOf(errOnce) != domain.KindOf(err1) || (errOnce == nil) != (err1 == nil) {
				t.Fatalf("seed %d step %d: errors differ: %v vs %v", seed, step, errOnce, err1)
			}
			if effJSON(t, effOnce) != effJSON(t, eff1) {
				t.Fatalf("seed %d step %d: effects differ:\n%s\n%s", seed, step, effJSON(t, effOnce), effJSON(t, eff1))
			}
			before := stateJSON(t, twice)
			eff2, err2 := twice.Deliver(ctx, def, ev, now, svcTwice)
			switch {
			case errOnce != nil:
				if domain.KindOf(err2) != domain.KindOf(errOnce) {
					t.Fatalf("seed %d step %d: refused event redelivered: %v then %v", seed, step, errOnce, err2)
				}
			case effOnce.Ignored != "":
				if err2 != nil || eff2.Ignored == "" {
					t.Fatalf("seed %d step %d: ignored event redelivered: %+v %v", seed, step, eff2, err2)
				}
			default:
				if err2 != nil || !eff2.Duplicate || effJSON(t, eff2) != effJSON(t, Effects{Duplicate: true}) {
					t.Fatalf("seed %d step %d: duplicate gave %+v %v", seed, step, eff2, err2)
				}
				applied = append(applied, ev)
			}
			if stateJSON(t, twice) != before {
				t.Fatalf("seed %d step %d: redelivery changed the state", seed, step)
			}
			// Redeliver an earlier applied event, possibly much later.
			if len(applied) > 0 && rng.Intn(2) == 0 {
				old := applied[rng.Intn(len(applied))]
				eff, err := twice.Deliver(ctx, def, old, now, svcTwice)
				if err != nil || !eff.Duplicate {
					t.Fatalf("seed %d step %d: old event %s: %+v %v", seed, step, old.ID, eff, err)
				}
			}
			if got, want := stateJSON(t, twice), stateJSON(t, once); got != want {
				t.Fatalf("seed %d step %d: states differ\nonce:  %s\ntwice: %s", seed, step, want, got)
			}
		}
		if recOnce.calls["applyChange"] != recTwice.calls["applyChange"] || recOnce.calls["applyChange"] > 1 {
			t.Fatalf("seed %d: applyChange calls once=%d twice=%d", seed, recOnce.calls["applyChange"], recTwice.calls["applyChange"])
		}
		if (recOnce.calls["applyChange"] == 1) != (once.Status == StatusCompleted) {
			t.Fatalf("seed %d: status %s but applyChange called %d times", seed, once.Status, recOnce.calls["applyChange"])
		}
		terminalSeen[once.Status]++
	}
	// The generator must actually reach every outcome, or the property is weak.
	for _, st := range []Status{StatusRunning, StatusCompleted, StatusFailed, StatusTerminated} {
		if terminalSeen[st] == 0 {
			t.Errorf("no random run ended %s: %v", st, terminalSeen)
		}
	}
	t.Logf("final statuses over 300 seeds: %v", terminalSeen)
}
