package upload

import (
	"context"
	"time"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Claim binds upload uploadID to the accepted request requestID: from then
// on no other PATCH may name it (an upload is the evidence of exactly one
// request). Claiming again for the same request is a no-op. Errors:
// KindConflict when another request holds it, KindNotFound / KindGone as
// for a missing or expired upload, KindTransient from the store (after
// docstore.Retry gave up on concurrent writers).
func (s *Service) Claim(ctx context.Context, uploadID, requestID string) error {
	return docstore.Retry(ctx, "upload "+uploadID, func(ctx context.Context) error {
		sess, err := s.store.GetSession(ctx, uploadID)
		if err != nil {
			return err
		}
		switch {
		case sess.RequestID == requestID:
			return nil
		case sess.RequestID != "":
			var since time.Time
			if sess.ClaimedAt != nil {
				since = *sess.ClaimedAt
			}
			return NewClaimedError(uploadID, sess.RequestID, since)
		case sess.Expired(s.Now()):
			return domain.E(domain.KindGone, "upload %s expired at %s; start a new upload", uploadID, sess.ExpiresAt.UTC().Format(time.RFC3339))
		}
		now := s.Now().UTC()
		sess.RequestID, sess.ClaimedAt = requestID, &now
		_, err = s.store.ReplaceSession(ctx, sess)
		return err
	})
}

// Release undoes a Claim by requestID whose request was never created (its
// acceptance failed after the claim). A claim of another request, or a
// session that is gone, is left alone.
func (s *Service) Release(ctx context.Context, uploadID, requestID string) error {
	return docstore.Retry(ctx, "upload "+uploadID, func(ctx context.Context) error {
		sess, err := s.store.GetSession(ctx, uploadID)
		if domain.Is(err, domain.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if sess.RequestID != requestID {
			return nil
		}
		sess.RequestID, sess.ClaimedAt = "", nil
		_, err = s.store.ReplaceSession(ctx, sess)
		return err
	})
}

// Declared tells the scan whose document a landing blob is: the file of
// upload uploadID whose blob name is blobName, and the request it was
// submitted with ("" if none yet). Errors: KindNotFound when no session
// declared that blob (a stray blob: nothing may read it).
func (s *Service) Declared(ctx context.Context, uploadID, blobName string) (File, string, error) {
	if !ValidUploadID(uploadID) {
		return File{}, "", domain.E(domain.KindNotFound, "no upload declared blob %q", blobName)
	}
	sess, err := s.store.GetSession(ctx, uploadID)
	if domain.Is(err, domain.KindNotFound) {
		return File{}, "", domain.E(domain.KindNotFound, "no upload declared blob %q", blobName)
	}
	if err != nil {
		return File{}, "", err
	}
	for _, f := range sess.Files {
		if f.BlobName == blobName {
			f.Account = sess.Account
			return f, sess.RequestID, nil
		}
	}
	return File{}, "", domain.E(domain.KindNotFound, "upload %s declared no blob %q", uploadID, blobName)
}

// RecordServerUpload stores the session of files the handler streamed
// itself (the multipart PATCH) under uploadID on account, so that they are
// pinned, claimed and scanned exactly like SAS uploads. files carry their
// real sizes. Errors: KindInvalid for bad names or types, the store's.
func (s *Service) RecordServerUpload(ctx context.Context, p domain.Principal, profileID, uploadID, account string, files []File) (Session, error) {
	now := s.Now().UTC()
	sess := Session{
		ID: uploadID, ProfileID: profileID, Owner: p.Subject, Account: account, Container: s.cfg.Container,
		BlockSize: s.cfg.BlockSize, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TTL).Truncate(time.Second),
		ServerWritten: true,
	}
	for i, f := range files {
		f.Index = i
		f.BlockCount = BlockCount(f.Size, s.cfg.BlockSize)
		f.Account = ""
		sess.Files = append(sess.Files, f)
	}
	return s.store.CreateSession(ctx, sess)
}

// ClaimedError is Claim's refusal of an upload another request holds: a
// KindConflict (errors.As finds the *domain.Error) naming the holder and
// when it claimed the upload, so a caller can tell a claim left behind by
// a request that was never created.
type ClaimedError struct {
	Request string    // the holding request's id
	Since   time.Time // when it claimed the upload (zero if unknown)
	err     *domain.Error
}

// NewClaimedError is the refusal of upload uploadID held by requestID
// since since.
func NewClaimedError(uploadID, requestID string, since time.Time) *ClaimedError {
	return &ClaimedError{Request: requestID, Since: since, err: usedBy(uploadID, requestID).(*domain.Error)}
}

func (e *ClaimedError) Error() string { return e.err.Error() }

// Unwrap returns the KindConflict *domain.Error.
func (e *ClaimedError) Unwrap() error { return e.err }
