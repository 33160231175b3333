package stores

import (
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
)

// Option configures a store.
type Option func(*options)

type options struct {
	now    func() time.Time
	shards int
	window time.Duration
	grace  time.Duration
}

// WithClock sets the clock that decides expiry (docstore.Expiring) and the
// attention index's buckets; the default is time.Now. For tests.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithAttentionIndex sets the attention index's shards per minute bucket
// (default DefaultAttentionShards) and the window of buckets a sweep reads
// (default DefaultAttentionWindow); values ≤ 0 keep the default. See
// Requests.NeedingAttention.
func WithAttentionIndex(shards int, window time.Duration) Option {
	return func(o *options) {
		if shards > 0 {
			o.shards = min(shards, 100)
		}
		if window > 0 {
			o.window = window
		}
	}
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, shards: DefaultAttentionShards, window: DefaultAttentionWindow, grace: attentionGrace}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// expiring wraps docs with the expiry rule on the options' clock.
func (o options) expiring(docs docstore.Docs) docstore.Docs {
	return docstore.Expiring(docs, o.now)
}
