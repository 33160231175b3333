package stores

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// The attention index lists request records saved with Attention set, so
// that the sweeper finds them with point reads instead of a query over
// every partition of the requests container.
//
// It lives in the requests container as bucket documents, one per minute
// (UTC) and shard:
//
//	{"id": "attention-202611302013-07", "type": "attention",
//	 "bucket": "202611302013", "ids": ["r-…", …]}
//
// A record's shard is FNV-1a(id) mod the number of shards, so concurrent
// writers of one minute spread over that many documents (each an ETag-
// checked read-modify-write through docstore.Retry).
//
// Writing (Requests.save):
//   - a record saved with Attention set and not yet listed (AttentionIndex
//     "", or listed in a bucket older than half the window) is first added
//     to the bucket of the current minute, then saved with AttentionIndex
//     naming that bucket document; a failed save leaves a stale entry;
//   - a record saved without Attention is saved with AttentionIndex "",
//     then removed from the bucket it was listed in (best effort: a
//     failure leaves a stale entry).
//
// Reading (Requests.NeedingAttention) re-reads every listed record, which
// stays the source of truth; stale entries are skipped and pruned.
const (
	// DefaultAttentionShards is the number of bucket documents per minute.
	// At the planned peak (≈ 600 requests/s, each listed and unlisted
	// about once per workflow step) that is ≈ 40 writes/s per document.
	DefaultAttentionShards = 16
	// DefaultAttentionWindow is how far back (before updatedBefore) a sweep
	// reads buckets: (window/1 min + 2) × shards point reads per sweep.
	DefaultAttentionWindow = time.Hour
	// attentionGrace: a stale entry is pruned only once its bucket is this
	// old, far longer than the write of a record after its entry (one
	// call), so an entry is never pruned before its record is saved. It
	// also bounds the clock skew between instances the index tolerates.
	attentionGrace = 10 * time.Minute
	// attentionChecksPerResult bounds the records one NeedingAttention
	// call re-reads to this many per result asked for.
	attentionChecksPerResult = 4
)

const attentionPrefix = "attention-"

type attentionDoc struct {
	ID     string   `json:"id"`
	Type   string   `json:"type"`   // "attention"
	Bucket string   `json:"bucket"` // yyyyMMddHHmm, UTC
	IDs    []string `json:"ids"`    // sorted, no duplicates
}

var attentionMsgs = map[domain.Kind]string{
	domain.KindTransient: "requests are unavailable; retry later",
}

func bucketName(t time.Time) string { return t.UTC().Format("200601021504") }

func (s *Requests) shardOf(recordID string) int {
	h := fnv.New32a()
	h.Write([]byte(recordID))
	return int(h.Sum32() % uint32(s.o.shards))
}

func attentionDocID(minute time.Time, shard int) string {
	return fmt.Sprintf("%s%s-%02d", attentionPrefix, bucketName(minute), shard)
}

// bucketTime is the minute an attention document id names (ok false for
// any other id).
func bucketTime(docID string) (time.Time, bool) {
	const n = len(attentionPrefix) + len("200601021504")
	if len(docID) < n || docID[:len(attentionPrefix)] != attentionPrefix {
		return time.Time{}, false
	}
	t, err := time.Parse("200601021504", docID[len(attentionPrefix):n])
	return t, err == nil
}

// save writes r through write, keeping the attention index in step (see
// above). On error it returns r unchanged.
func (s *Requests) save(ctx context.Context, r request.Record, write func(request.Record) (string, error)) (request.Record, error) {
	in, prev := r, r.AttentionIndex
	if r.Attention {
		if at, ok := bucketTime(prev); !ok || at.Before(s.o.now().Add(-s.o.window/2)) {
			id := attentionDocID(s.o.now(), s.shardOf(r.ID))
			if err := s.addEntries(ctx, id, []string{r.ID}); err != nil {
				return in, docstore.Relabel(err, attentionMsgs)
			}
			r.AttentionIndex = id
		}
	} else {
		r.AttentionIndex = ""
	}
	etag, err := write(r)
	if err != nil {
		return in, docstore.Relabel(err, requestMsgs)
	}
	r.ETag = etag
	if !r.Attention && prev != "" {
		// A failure leaves a stale entry, which NeedingAttention prunes.
		_ = s.removeEntries(ctx, prev, []string{r.ID})
	}
	return r, nil
}

// addEntries adds ids to the bucket document docID (created if missing).
func (s *Requests) addEntries(ctx context.Context, docID string, ids []string) error {
	at, _ := bucketTime(docID)
	return docstore.Retry(ctx, "the attention index", func(ctx context.Context) error {
		var d attentionDoc
		etag, err := s.docs.Read(ctx, docID, &d)
		switch {
		case domain.Is(err, domain.KindNotFound):
			d = attentionDoc{ID: docID, Type: "attention", Bucket: bucketName(at), IDs: sortedUnique(ids)}
			_, err = s.docs.Create(ctx, docID, d)
			if domain.Is(err, domain.KindConflict) {
				return domain.Wrap(domain.KindStale, err, "attention bucket created concurrently")
			}
			return err
		case err != nil:
			return err
		}
		merged := sortedUnique(append(slices.Clone(d.IDs), ids...))
		if slices.Equal(merged, d.IDs) {
			return nil
		}
		d.IDs = merged
		_, err = s.docs.Replace(ctx, docID, d, etag)
		if domain.Is(err, domain.KindNotFound) {
			return domain.Wrap(domain.KindStale, err, "attention bucket deleted concurrently")
		}
		return err
	})
}

// removeEntries removes ids from the bucket document docID, deleting it
// when it is left empty; a missing document is fine.
func (s *Requests) removeEntries(ctx context.Context, docID string, ids []string) error {
	if _, ok := bucketTime(docID); !ok {
		return nil // not an attention document id: nothing was listed
	}
	return docstore.Retry(ctx, "the attention index", func(ctx context.Context) error {
		var d attentionDoc
		etag, err := s.docs.Read(ctx, docID, &d)
		if domain.Is(err, domain.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(d.IDs), func(id string) bool { return slices.Contains(ids, id) })
		switch {
		case len(kept) == len(d.IDs):
			return nil
		case len(kept) == 0:
			err = s.docs.Delete(ctx, docID, etag)
		default:
			d.IDs = kept
			_, err = s.docs.Replace(ctx, docID, d, etag)
		}
		if domain.Is(err, domain.KindNotFound) {
			return nil
		}
		return err
	})
}

func sortedUnique(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// NeedingAttention returns, sorted and without duplicates, up to limit ids
// of request records with Attention set whose LastUpdatedTime is before
// updatedBefore. It runs no query: it point-reads the attention index's
// bucket documents from the window (WithAttentionIndex; default
// DefaultAttentionWindow) before updatedBefore's minute up to the minute
// after it, oldest first, every shard — (window/1 min + 2) × shards reads
// of 1 RU, most of them of absent documents — and then each listed record
// (at most attentionChecksPerResult × limit of them), which decides:
//
//   - a record with Attention set and LastUpdatedTime before updatedBefore
//     is returned;
//   - one with Attention set but updated since is skipped (a later call
//     returns it);
//   - a missing record, or one without Attention, is a stale entry: it is
//     skipped, and pruned once its bucket is older than attentionGrace.
//
// Entries still needing attention in buckets older than half the window
// are carried to the current minute's bucket, so a record left needing
// attention is returned by every call until it no longer needs it as long
// as calls come at least once per half window. Pruning and carrying are
// best effort (a failure is retried by the next call); only reading the
// index or a record can fail the call (KindTransient when throttled).
func (s *Requests) NeedingAttention(ctx context.Context, updatedBefore time.Time, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := s.o.now()
	last := updatedBefore.UTC().Truncate(time.Minute).Add(time.Minute)
	if cur := now.UTC().Truncate(time.Minute); last.After(cur) {
		last = cur
	}
	first := updatedBefore.UTC().Truncate(time.Minute).Add(-s.o.window)
	carryBefore := now.Add(-s.o.window / 2)
	pruneBefore := now.Add(-s.o.grace)
	checks := attentionChecksPerResult * limit
	seen := map[string]bool{}
	var out []string
	for m := first; !m.After(last); m = m.Add(time.Minute) {
		old := !m.Add(time.Minute).After(carryBefore)
		prunable := !m.Add(time.Minute).After(pruneBefore)
		for shard := range s.o.shards {
			docID := attentionDocID(m, shard)
			var d attentionDoc
			if _, err := s.docs.Read(ctx, docID, &d); domain.Is(err, domain.KindNotFound) {
				continue
			} else if err != nil {
				return nil, docstore.Relabel(err, attentionMsgs)
			}
			var stale, carry []string
			for _, id := range d.IDs {
				if len(out) >= limit || checks <= 0 {
					if old {
						carry = append(carry, id)
					}
					continue
				}
				checks--
				rec, err := s.GetRequest(ctx, id)
				switch {
				case domain.Is(err, domain.KindNotFound) || (err == nil && !rec.Attention):
					if prunable {
						stale = append(stale, id)
					}
				case err != nil:
					return nil, err
				default:
					if rec.LastUpdatedTime.Before(updatedBefore) && !seen[id] {
						seen[id] = true
						out = append(out, id)
					}
					if old {
						carry = append(carry, id)
					}
				}
			}
			if len(carry) > 0 {
				if err := s.addEntries(ctx, attentionDocID(now, shard), carry); err == nil {
					stale = append(stale, carry...)
				}
			}
			if len(stale) > 0 {
				_ = s.removeEntries(ctx, docID, stale)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
