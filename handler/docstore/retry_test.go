package docstore

import (
	"context"
	"errors"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
)

func TestRetry(t *testing.T) {
	stale := domain.E(domain.KindStale, "changed")
	tests := []struct {
		name      string
		results   []error // one per attempt; the last repeats
		wantCalls int
		wantKind  domain.Kind
		wantNil   bool
	}{
		{"first try wins", []error{nil}, 1, 0, true},
		{"wins after two races", []error{stale, stale, nil}, 3, 0, true},
		{"other error returned at once", []error{domain.E(domain.KindNotFound, "gone")}, 1, domain.KindNotFound, false},
		{"gives up busy", []error{stale}, MaxAttempts, domain.KindTransient, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry(context.Background(), "thing", func(context.Context) error {
				r := tc.results[min(calls, len(tc.results)-1)]
				calls++
				return r
			})
			if calls != tc.wantCalls {
				t.Fatalf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if tc.wantNil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if domain.KindOf(err) != tc.wantKind {
				t.Fatalf("kind = %v, want %v (%v)", domain.KindOf(err), tc.wantKind, err)
			}
		})
	}
}

func TestRetryGiveUpCarriesRetryAfter(t *testing.T) {
	err := Retry(context.Background(), "counters", func(context.Context) error { return domain.E(domain.KindStale, "x") })
	var de *domain.Error
	if !errors.As(err, &de) || de.RetryAfter != BusyRetryAfter || de.Msg != "counters is busy; retry shortly" {
		t.Fatalf("got %#v", err)
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry(ctx, "x", func(context.Context) error {
		calls++
		cancel()
		return domain.E(domain.KindStale, "x")
	})
	if calls != 1 || !domain.Is(err, domain.KindTransient) || !errors.Is(err, context.Canceled) {
		t.Fatalf("calls=%d err=%v", calls, err)
	}
}
