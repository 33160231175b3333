package request

import (
	"context"
	"errors"
	"fmt"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// Evidence pins a request's documents when it is accepted (upload.Service
// claims the upload, blobstore.Store copies the bytes): an upload serves
// one request, and what is scanned, shown and approved is exactly the
// version read at acceptance, whatever the client writes through its SAS
// afterwards.
type Evidence interface {
	// Claim binds upload uploadID to requestID (KindConflict when another
	// request holds it); Release undoes it for a request never created.
	Claim(ctx context.Context, uploadID, requestID string) error
	Release(ctx context.Context, uploadID, requestID string) error
	// Pin copies version etag of src into container to (same shard and
	// name) and returns the copy's ETag (KindConflict when src changed).
	Pin(ctx context.Context, src upload.BlobRef, etag, to string) (string, error)
}

// pin claims the upload of atts for requestID and copies every document's
// accepted version into the landing container. On failure nothing stays
// claimed (copies already made are strays the scan removes).
func (s *Service) pin(ctx context.Context, requestID string, atts []Attachment) ([]Attachment, error) {
	if len(atts) == 0 || s.Evidence == nil {
		return atts, nil
	}
	uploadID := atts[0].UploadID
	for _, a := range atts {
		if a.UploadID != uploadID || a.SourceETag == "" {
			return nil, fmt.Errorf("request: attachment %q is not from upload %s or has no version to pin", a.Name, uploadID)
		}
	}
	if err := s.claim(ctx, uploadID, requestID); err != nil {
		return nil, err
	}
	out := make([]Attachment, len(atts))
	for i, a := range atts {
		etag, err := s.Evidence.Pin(ctx, upload.BlobRef{Account: a.Account, Container: a.Source, Name: a.Blob}, a.SourceETag, s.Landing)
		if err != nil {
			s.unpin(ctx, requestID, atts)
			return nil, err
		}
		a.Container, a.PinnedETag = s.Landing, etag
		out[i] = a
	}
	return out, nil
}

// unpin releases the claim of a request that was not created (best effort:
// a claim left behind points at a request that does not exist, which the
// scan treats as not submitted).
func (s *Service) unpin(ctx context.Context, requestID string, atts []Attachment) {
	if len(atts) == 0 || s.Evidence == nil {
		return
	}
	if err := s.Evidence.Release(context.WithoutCancel(ctx), atts[0].UploadID, requestID); err != nil {
		s.log().WarnContext(ctx, "releasing the upload claim failed", "request", requestID, "upload", atts[0].UploadID, "err", err.Error())
	}
}

// claim claims upload uploadID for requestID. A claim left behind by a
// request that was never created (its call stopped between the claim and
// the record) is taken over once it is older than lockGrace, as a stale
// field lock is: otherwise that upload could never be submitted again.
func (s *Service) claim(ctx context.Context, uploadID, requestID string) error {
	err := s.Evidence.Claim(ctx, uploadID, requestID)
	var held *upload.ClaimedError
	if !errors.As(err, &held) || held.Request == requestID || held.Since.IsZero() || s.now().Sub(held.Since) <= lockGrace {
		return err
	}
	if _, gerr := s.Requests.GetRequest(ctx, held.Request); !domain.Is(gerr, domain.KindNotFound) {
		return err // the holder exists (or cannot be read now): its claim stands
	}
	s.log().WarnContext(ctx, "taking over the claim of a request that was never created", "upload", uploadID, "holder", held.Request, "request", requestID)
	if rerr := s.Evidence.Release(ctx, uploadID, held.Request); rerr != nil {
		return rerr
	}
	return s.Evidence.Claim(ctx, uploadID, requestID)
}
