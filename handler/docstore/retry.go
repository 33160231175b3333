package docstore

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// MaxAttempts is the one give-up rule of every ETag-checked
// read-modify-write: after this many attempts that each lost the race
// (KindStale), Retry stops and reports the document as busy.
const MaxAttempts = 8

// BusyRetryAfter is the Retry-After given to callers when Retry gives up.
const BusyRetryAfter = time.Second

// Retry runs attempt — one fresh read, change and conditional write — until
// it returns anything but a KindStale error, at most MaxAttempts times.
// Between attempts it waits a short jittered backoff (≤ 1 ms × 2^n, capped
// at 50 ms) so racing writers spread out. It returns attempt's own result
// when that is not KindStale; after MaxAttempts stale attempts it returns a
// KindTransient error ("<what> is busy; retry shortly", RetryAfter
// BusyRetryAfter) wrapping the last one; a cancelled ctx returns ctx.Err()
// wrapped as KindTransient. Attempts that race on a create (KindConflict)
// should report KindStale themselves to be retried.
func Retry(ctx context.Context, what string, attempt func(ctx context.Context) error) error {
	var last error
	for n := range MaxAttempts {
		if n > 0 {
			if err := sleep(ctx, backoff(n)); err != nil {
				return domain.Wrap(domain.KindTransient, err, "%s is busy; retry shortly", what)
			}
		}
		last = attempt(ctx)
		if !domain.Is(last, domain.KindStale) {
			return last
		}
	}
	e := domain.Wrap(domain.KindTransient, last, "%s is busy; retry shortly", what)
	e.RetryAfter = BusyRetryAfter
	return e
}

func backoff(n int) time.Duration {
	ceil := time.Millisecond << min(n, 6)
	if ceil > 50*time.Millisecond {
		ceil = 50 * time.Millisecond
	}
	return time.Duration(rand.Int64N(int64(ceil)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
