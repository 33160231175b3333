package upload

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// UnclaimedSessions are the sessions the Expirer works through
// (*stores.Uploads): Unclaimed lists up to limit sessions that no request
// claimed, whose upload window closed before `before` and whose blobs were
// not deleted yet (in no particular order, without ETag); GetSession and
// ReplaceSession are SessionStore's (KindNotFound when gone, KindStale
// when the session changed since read). Store outages are KindTransient.
type UnclaimedSessions interface {
	Unclaimed(ctx context.Context, before time.Time, limit int) ([]Session, error)
	GetSession(ctx context.Context, id string) (Session, error)
	ReplaceSession(ctx context.Context, s Session) (Session, error)
}

// BlobDeleter deletes one blob whatever its version; a missing blob is
// not an error (*blobstore.Store). Unavailability is KindTransient.
type BlobDeleter interface {
	Delete(ctx context.Context, ref BlobRef) error
}

// Expirer deletes what expired upload sessions left in the container the
// client wrote to: blobs committed through an upload SAS that no request
// ever claimed (a client that gave up, a PATCH that never came). Staged
// blocks never committed cannot be deleted; Azure discards them after
// 7 days ("Put Block", Azure Storage REST reference).
type Expirer struct {
	Sessions UnclaimedSessions
	Blobs    BlobDeleter
	Now      func() time.Time // time.Now when nil
	Log      *slog.Logger
}

// ExpiryResult counts what DeleteExpired did: sessions listed and
// handled, blobs deleted (or already absent), sessions that failed
// (logged; the next run tries again).
type ExpiryResult struct {
	Sessions, Blobs, Failed int
}

// DeleteExpired deletes the blobs of at most limit sessions whose upload
// window closed more than after ago and that no request claimed, then
// marks each session (BlobsDeletedAt), so the work per run is bounded and
// every run makes progress. A session claimed meanwhile is left alone: a
// claim needs an open window, and the mark is ETag-checked. Only listing
// fails the call (KindTransient).
func (e *Expirer) DeleteExpired(ctx context.Context, after time.Duration, limit int) (ExpiryResult, error) {
	var res ExpiryResult
	now := e.now().UTC()
	list, err := e.Sessions.Unclaimed(ctx, now.Add(-after), limit)
	if err != nil {
		return res, err
	}
	for _, sess := range list {
		n, err := e.expire(ctx, sess, now, after)
		res.Blobs += n
		if err != nil {
			e.log().WarnContext(ctx, "sweep: deleting the blobs of an expired upload failed", "upload", sess.ID, "err", err.Error())
			res.Failed++
			continue
		}
		res.Sessions++
	}
	return res, nil
}

// expire deletes the blobs of the listed session, read again, and marks
// it; it returns the blobs deleted.
func (e *Expirer) expire(ctx context.Context, listed Session, now time.Time, after time.Duration) (int, error) {
	sess, err := e.Sessions.GetSession(ctx, listed.ID)
	if domain.Is(err, domain.KindNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if sess.RequestID != "" || sess.BlobsDeletedAt != nil || now.Sub(sess.ExpiresAt) < after {
		return 0, nil // listed before it changed
	}
	n := 0
	var errs []string
	for _, f := range sess.Files {
		if err := e.Blobs.Delete(ctx, sess.Ref(f)); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", f.BlobName, err))
			continue
		}
		n++
	}
	if len(errs) > 0 {
		return n, domain.E(domain.KindTransient, "upload %s: %s", sess.ID, strings.Join(errs, "; "))
	}
	sess.BlobsDeletedAt = &now
	if _, err := e.Sessions.ReplaceSession(ctx, sess); err != nil && !domain.Is(err, domain.KindStale) && !domain.Is(err, domain.KindNotFound) {
		return n, err
	}
	return n, nil
}

func (e *Expirer) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Expirer) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}
