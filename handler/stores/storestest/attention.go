package storestest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/stores"
)

// Clock is a settable clock for stores.WithClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// t0 is the start of every attention and expiry case.
var t0 = time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC)

// The attention index under test: 2 shards, a 30-minute window (carried
// forward after 15 minutes; stale entries pruned after 10).
const (
	attShards = 2
	attWindow = 30 * time.Minute
)

type attEnv struct {
	t     *testing.T
	ctx   context.Context
	d     docstore.Docs
	clock *Clock
	s     *stores.Requests
}

// at moves the clock to t0+off.
func (e *attEnv) at(off time.Duration) { e.clock.Set(t0.Add(off)) }

// save creates (or, when it exists, replaces) the record id at t0+off with
// the given attention and LastUpdatedTime t0+lut.
func (e *attEnv) save(off time.Duration, id string, attention bool, lut time.Duration) request.Record {
	e.t.Helper()
	e.at(off)
	r, err := e.s.GetRequest(e.ctx, id)
	switch {
	case domain.Is(err, domain.KindNotFound):
		r = request.Record{ID: id, Type: "request", ProfileID: "p1"}
		r.Attention, r.LastUpdatedTime = attention, t0.Add(lut)
		if r, err = e.s.CreateRequest(e.ctx, r); err != nil {
			e.t.Fatalf("CreateRequest %s: %v", id, err)
		}
	case err != nil:
		e.t.Fatal(err)
	default:
		r.Attention, r.LastUpdatedTime = attention, t0.Add(lut)
		if r, err = e.s.ReplaceRequest(e.ctx, r); err != nil {
			e.t.Fatalf("ReplaceRequest %s: %v", id, err)
		}
	}
	if attention != (r.AttentionIndex != "") {
		e.t.Fatalf("saved %s with attention %v but AttentionIndex %q", id, attention, r.AttentionIndex)
	}
	return r
}

// sweep asks, at t0+off, for records last updated before t0+before.
func (e *attEnv) sweep(off, before time.Duration, limit int, want ...string) {
	e.t.Helper()
	e.at(off)
	got, err := e.s.NeedingAttention(e.ctx, t0.Add(before), limit)
	if err != nil || !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		e.t.Fatalf("NeedingAttention at +%v (before +%v, limit %d) = %v, %v; want %v", off, before, limit, got, err, want)
	}
}

// bucket returns the ids listed in the attention document docID (nil when
// it does not exist).
func (e *attEnv) bucket(docID string) []string {
	e.t.Helper()
	var m struct {
		Type string   `json:"type"`
		IDs  []string `json:"ids"`
	}
	if _, err := e.d.Read(e.ctx, docID, &m); domain.Is(err, domain.KindNotFound) {
		return nil
	} else if err != nil || m.Type != "attention" {
		e.t.Fatalf("attention document %s: %+v, %v", docID, m, err)
	}
	return m.IDs
}

// moved names the attention document of the same shard as docID at
// minute t0+off.
func moved(docID string, off time.Duration) string {
	return "attention-" + t0.Add(off).Format("200601021504") + docID[len("attention-200601021504"):]
}

func attentionCases() []Case {
	type tc struct {
		name string
		run  func(e *attEnv)
	}
	cases := []tc{
		{"a record saved needing attention is found by the next sweep", func(e *attEnv) {
			r := e.save(0, "r-1", true, 0)
			if !strings.HasPrefix(r.AttentionIndex, "attention-202611301700-") || !slices.Equal(e.bucket(r.AttentionIndex), []string{"r-1"}) {
				t := e.t
				t.Fatalf("AttentionIndex %q lists %v", r.AttentionIndex, e.bucket(r.AttentionIndex))
			}
			e.save(0, "r-calm", false, 0)
			e.sweep(3*time.Minute, time.Minute, 10, "r-1")
			// Listed until it no longer needs attention.
			e.sweep(8*time.Minute, 6*time.Minute, 10, "r-1")
		}},
		{"one that no longer needs attention is unlisted and skipped", func(e *attEnv) {
			r := e.save(0, "r-1", true, 0)
			e.save(30*time.Second, "r-1", false, 30*time.Second)
			if ids := e.bucket(r.AttentionIndex); ids != nil {
				e.t.Fatalf("bucket still lists %v", ids)
			}
			e.sweep(3*time.Minute, time.Minute, 10)
			// Needing attention again: listed again, in the bucket of the new save.
			r = e.save(4*time.Minute, "r-1", true, 4*time.Minute)
			if !strings.HasPrefix(r.AttentionIndex, "attention-202611301704-") {
				e.t.Fatalf("AttentionIndex = %q", r.AttentionIndex)
			}
			e.sweep(7*time.Minute, 5*time.Minute, 10, "r-1")
		}},
		{"not quiet yet: skipped, found by a later sweep", func(e *attEnv) {
			e.save(0, "r-1", true, 0)
			e.save(2*time.Minute, "r-1", true, 2*time.Minute) // still listed, updated since
			e.sweep(3*time.Minute, time.Minute, 10)
			e.sweep(5*time.Minute, 3*time.Minute, 10, "r-1")
		}},
		{"exact time bound", func(e *attEnv) {
			bound := 2 * time.Minute
			e.save(bound-time.Millisecond, "r-before", true, bound-time.Millisecond)
			e.save(bound, "r-at", true, bound)
			e.save(bound+300*time.Millisecond, "r-after", true, bound+300*time.Millisecond)
			e.sweep(5*time.Minute, bound, 10, "r-before")
		}},
		{"bucket boundaries: each minute its own document, all read", func(e *attEnv) {
			a := e.save(time.Minute-time.Millisecond, "r-a", true, time.Minute-time.Millisecond)
			b := e.save(time.Minute, "r-b", true, time.Minute)
			if !strings.HasPrefix(a.AttentionIndex, "attention-202611301700-") || !strings.HasPrefix(b.AttentionIndex, "attention-202611301701-") {
				e.t.Fatalf("buckets %q, %q", a.AttentionIndex, b.AttentionIndex)
			}
			e.sweep(4*time.Minute, 2*time.Minute, 10, "r-a", "r-b")
		}},
		{"limit: the oldest first, sorted", func(e *attEnv) {
			e.save(0, "r-3", true, 0)
			e.save(time.Minute, "r-1", true, time.Minute)
			e.save(2*time.Minute, "r-2", true, 2*time.Minute)
			e.sweep(6*time.Minute, 4*time.Minute, 2, "r-1", "r-3")
			e.sweep(6*time.Minute, 4*time.Minute, 0)
		}},
		{"duplicate entries: returned once", func(e *attEnv) {
			r := e.save(0, "r-1", true, 0)
			other := moved(r.AttentionIndex, time.Minute)
			if _, err := e.d.Create(e.ctx, other, map[string]any{"id": other, "type": "attention", "bucket": "202611301701", "ids": []string{"r-1"}}); err != nil {
				e.t.Fatal(err)
			}
			e.sweep(4*time.Minute, 2*time.Minute, 10, "r-1")
		}},
		{"stale entries: skipped, pruned once older than the grace", func(e *attEnv) {
			e.save(0, "r-done", false, 0)
			r := e.save(0, "r-live", true, 0)
			e.at(0)
			// r-ghost never saved (its save failed), r-done saved without attention.
			doc := map[string]any{"id": r.AttentionIndex, "type": "attention", "bucket": "202611301700", "ids": []string{"r-done", "r-ghost", "r-live"}}
			if _, err := e.d.Upsert(e.ctx, r.AttentionIndex, doc); err != nil {
				e.t.Fatal(err)
			}
			e.sweep(5*time.Minute, 3*time.Minute, 10, "r-live")
			if ids := e.bucket(r.AttentionIndex); len(ids) != 3 {
				e.t.Fatalf("pruned within the grace: %v", ids)
			}
			e.sweep(11*time.Minute, 9*time.Minute, 10, "r-live")
			if ids := e.bucket(r.AttentionIndex); !slices.Equal(ids, []string{"r-live"}) {
				e.t.Fatalf("after the grace the bucket lists %v, want [r-live]", ids)
			}
		}},
		{"window: carried forward while sweeps run, lost to none", func(e *attEnv) {
			r := e.save(0, "r-1", true, 0)
			e.sweep(16*time.Minute, 14*time.Minute, 10, "r-1")
			// Older than half the window: carried to the current minute.
			if ids := e.bucket(moved(r.AttentionIndex, 16*time.Minute)); !slices.Equal(ids, []string{"r-1"}) {
				e.t.Fatalf("carried bucket lists %v", ids)
			}
			if ids := e.bucket(r.AttentionIndex); ids != nil {
				e.t.Fatalf("old bucket still lists %v", ids)
			}
			e.sweep(35*time.Minute, 33*time.Minute, 10, "r-1")
			e.sweep(60*time.Minute, 58*time.Minute, 10, "r-1")
			// Resolved: the carried entry is stale and skipped.
			e.save(61*time.Minute, "r-1", false, 61*time.Minute)
			e.sweep(65*time.Minute, 63*time.Minute, 10)
		}},
		{"window: a bucket older than the window is not read", func(e *attEnv) {
			e.save(0, "r-1", true, 0)
			e.sweep(60*time.Minute, 58*time.Minute, 10)
			// Saved needing attention again after that long: listed anew.
			e.save(61*time.Minute, "r-1", true, 61*time.Minute)
			e.sweep(64*time.Minute, 62*time.Minute, 10, "r-1")
		}},
	}
	out := make([]Case, len(cases))
	for i, c := range cases {
		out[i] = Case{Name: "attention index: " + c.name, Run: func(t *testing.T, ctx context.Context, d docstore.Docs) {
			clock := NewClock(t0)
			s := stores.NewRequests(d, stores.WithClock(clock.Now), stores.WithAttentionIndex(attShards, attWindow))
			c.run(&attEnv{t: t, ctx: ctx, d: d, clock: clock, s: s})
		}}
	}
	return out
}
