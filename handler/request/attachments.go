package request

import (
	"context"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// ReadLinkTTL is the validity of a read link to a clean document.
const ReadLinkTTL = 5 * time.Minute

// DocumentLinks signs short-lived read-only URLs of one blob
// (*blobstore.Store); KindNotFound when the blob does not exist.
type DocumentLinks interface {
	SignRead(ctx context.Context, ref upload.BlobRef, ttl time.Duration, contentType string) (string, error)
}

// AttachmentLink returns a URL reading request requestID's document name
// for p: read-only, that one blob in the clean container, valid
// ReadLinkTTL. Only a clean document is ever readable. Errors: as Get when
// p may not read the request (KindNotFound); KindNotFound for an unknown
// document; KindConflict while it is not scanned (or not yet moved to the
// clean container); KindGone when it was not clean (quarantined).
func (s *Service) AttachmentLink(ctx context.Context, p domain.Principal, requestID, name string) (string, error) {
	rec, err := s.Get(ctx, p, requestID)
	if err != nil {
		return "", err
	}
	i := slices.IndexFunc(rec.Attachments, func(a Attachment) bool { return a.Name == name })
	if i < 0 {
		return "", domain.E(domain.KindNotFound, "request %s has no attachment %q", requestID, name)
	}
	a := rec.Attachments[i]
	switch {
	case a.Verdict == VerdictPending || a.Verdict == "":
		return "", domain.E(domain.KindConflict, "attachment %q is not scanned yet; try again later", name)
	case a.Verdict != VerdictClean:
		return "", domain.E(domain.KindGone, "attachment %q is quarantined (%s): it cannot be read", name, a.Verdict)
	case s.Links == nil || s.Clean == "":
		return "", domain.E(domain.KindInternal, "reading documents is not configured")
	case a.Stored != s.Clean:
		return "", domain.E(domain.KindConflict, "attachment %q is being stored; try again in a few seconds", name)
	}
	u, err := s.Links.SignRead(ctx, upload.BlobRef{Account: a.Account, Container: s.Clean, Name: a.Blob}, ReadLinkTTL, a.ContentType)
	if domain.Is(err, domain.KindNotFound) {
		return "", domain.E(domain.KindGone, "attachment %q is no longer stored", name)
	}
	return u, err
}
