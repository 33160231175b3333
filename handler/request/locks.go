package request

import (
	"context"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Field locks: one open request per field of a profile. The lock document
// (Locks) maps each locked field to the request holding it; it is taken
// before the request record is created and released once the request is
// terminal (afterSave, or the sweeper when that failed).

// lockGrace is how long a lock may name a request that does not exist yet
// (it is taken just before the record is created).
const lockGrace = 2 * time.Minute

// acquire locks the fields for requestID, or fails with KindConflict naming
// the open request that holds one of them (Details["request"] is its status
// URL). Racing writers are retried by docstore.Retry (KindTransient once it
// gives up); a lock document created meanwhile counts as a lost race.
func (s *Service) acquire(ctx context.Context, profileID, requestID string, fields []string) error {
	return docstore.Retry(ctx, "field locks of profile "+profileID, func(ctx context.Context) error {
		l, err := s.Locks.GetLocks(ctx, profileID)
		create := domain.Is(err, domain.KindNotFound)
		if err != nil && !create {
			return err
		}
		if create {
			l = Locks{ID: LocksID(profileID), Type: "locks", ProfileID: profileID}
		}
		if l.Fields == nil {
			l.Fields = map[string]string{}
		}
		if l.Since == nil {
			l.Since = map[string]time.Time{}
		}
		for _, f := range fields {
			holder, ok := l.Fields[f]
			if !ok || holder == requestID {
				continue
			}
			if s.lockIsStale(ctx, holder, l.Since[f]) {
				s.log().WarnContext(ctx, "taking over a stale field lock", "profile", profileID, "field", f, "holder", holder)
				continue
			}
			e := domain.E(domain.KindConflict, "%s has a pending change in request /api/v1/requests/%s", f, holder)
			e.Details = map[string]any{"request": "/api/v1/requests/" + holder}
			return e
		}
		now := s.now()
		for _, f := range fields {
			l.Fields[f] = requestID
			l.Since[f] = now
		}
		if !create {
			_, err = s.Locks.ReplaceLocks(ctx, l)
			return err
		}
		_, err = s.Locks.CreateLocks(ctx, l)
		if domain.Is(err, domain.KindConflict) {
			return domain.Wrap(domain.KindStale, err, "field locks of profile %s created meanwhile", profileID)
		}
		return err
	})
}

// lockIsStale reports whether a lock's holder can no longer need it: the
// request ended (its release failed) or was never created (a crash between
// taking the lock and creating the record).
func (s *Service) lockIsStale(ctx context.Context, holder string, since time.Time) bool {
	rec, err := s.Requests.GetRequest(ctx, holder)
	switch {
	case err == nil:
		// A finished request whose stored outbox still holds its profile
		// write keeps its locks until the sweeper has made that write:
		// taking them over would let a newer change be overwritten by it.
		return rec.RuntimeStatus.Terminal() && !pendingApply(rec)
	case domain.Is(err, domain.KindNotFound):
		return s.now().Sub(since) > lockGrace
	default:
		return false
	}
}

// release drops every field lock requestID holds (nothing to do when it
// holds none), retried by docstore.Retry.
func (s *Service) release(ctx context.Context, profileID, requestID string) error {
	return s.releaseExcept(ctx, profileID, requestID, nil)
}

// releaseExcept drops the field locks requestID holds on fields not in
// keep.
func (s *Service) releaseExcept(ctx context.Context, profileID, requestID string, keep []string) error {
	return docstore.Retry(ctx, "field locks of profile "+profileID, func(ctx context.Context) error {
		l, err := s.Locks.GetLocks(ctx, profileID)
		if domain.Is(err, domain.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		changed := false
		for f, holder := range l.Fields {
			if holder == requestID && !slices.Contains(keep, f) {
				delete(l.Fields, f)
				delete(l.Since, f)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = s.Locks.ReplaceLocks(ctx, l)
		return err
	})
}

func (s *Service) releaseQuietly(ctx context.Context, profileID, requestID string) {
	if err := s.release(ctx, profileID, requestID); err != nil {
		s.log().WarnContext(ctx, "releasing field locks failed", "profile", profileID, "request", requestID, "err", err.Error())
	}
}
