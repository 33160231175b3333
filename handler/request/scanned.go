package request

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/upload"
)

// The request side of a scan (scan.Documents): the pinned document of a
// landing blob, and the verdict, failed attempts, move and rewrites
// recorded in the request (the source of truth, ETag-checked).

var _ scan.Documents = (*Service)(nil)

// Document returns the pinned document of request requestID stored as
// blob. Errors: KindNotFound when the request or the document is unknown.
func (s *Service) Document(ctx context.Context, requestID, blob string) (scan.Document, error) {
	rec, err := s.Requests.GetRequest(ctx, requestID)
	if err != nil {
		return scan.Document{}, err
	}
	i := slices.IndexFunc(rec.Attachments, func(a Attachment) bool { return a.Blob == blob })
	if i < 0 {
		return scan.Document{}, domain.E(domain.KindNotFound, "request %s has no document %q", requestID, blob)
	}
	a := rec.Attachments[i]
	doc := scan.Document{
		RequestID: rec.ID, Name: a.Name, DeclaredType: a.ContentType, DeclaredSize: a.DeclaredSize,
		Pinned:     upload.BlobRef{Account: a.Account, Container: a.Container, Name: a.Blob},
		PinnedETag: a.PinnedETag,
		Source:     upload.BlobRef{Account: a.Account, Container: a.Source, Name: a.Blob},
		SourceETag: a.SourceETag,
		Stored:     a.Stored,
	}
	if a.Verdict != VerdictPending && a.Verdict != "" {
		doc.Verdict, doc.SHA256 = scan.Verdict(a.Verdict), a.SHA256
	}
	if doc.DeclaredSize == 0 {
		doc.DeclaredSize = a.Size
	}
	return doc, nil
}

// RecordScan stores the verdict r of a document and, once every document
// has one, moves the workflow on (RecordVerdict). The same verdict again
// is a no-op; KindConflict when the document already has another one.
func (s *Service) RecordScan(ctx context.Context, requestID, blob string, r scan.Result) error {
	_, err := s.recordVerdict(ctx, requestID, blob, r)
	return err
}

// RecordScanFailure counts a failed scan attempt of a document. At max
// attempts the document gets the verdict Error ("could not be scanned")
// and the workflow moves on (the request fails: not scanned is never
// clean); it reports true then.
func (s *Service) RecordScanFailure(ctx context.Context, requestID, blob, cause string, max int) (bool, error) {
	gaveUp := false
	_, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		a, err := attachment(rec, blob)
		if err != nil {
			return false, err
		}
		if a.Verdict != VerdictPending && a.Verdict != "" {
			return false, nil
		}
		a.ScanAttempts++
		gaveUp = a.ScanAttempts >= max
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "AttachmentScanFailed", Actor: "scanner", Detail: fmt.Sprintf("%s: attempt %d of %d: %s", a.Name, a.ScanAttempts, max, cause)})
		rec.LastUpdatedTime = now
		return true, nil
	})
	if err != nil || !gaveUp {
		return false, err
	}
	_, err = s.recordVerdict(ctx, requestID, blob, scan.Result{
		Verdict: scan.Error, Stage: "antivirus", Engine: "none",
		Reason: fmt.Sprintf("could not be scanned after %d attempts: %s", max, cause),
	})
	return true, err
}

// RecordStored notes the container a scanned document was moved to.
func (s *Service) RecordStored(ctx context.Context, requestID, blob, container string) error {
	_, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		a, err := attachment(rec, blob)
		if err != nil || a.Stored == container {
			return false, err
		}
		a.Stored = container
		return true, nil
	})
	return err
}

// NoteRewrite records once that the client wrote a document again after
// the request was accepted; the pinned copy stays what is scanned and shown.
func (s *Service) NoteRewrite(ctx context.Context, requestID, blob string) error {
	_, err := s.update(ctx, requestID, func(rec *Record, now time.Time) (bool, error) {
		a, err := attachment(rec, blob)
		if err != nil {
			return false, err
		}
		detail := a.Name + ": written again through its upload URL after the request was accepted; the accepted version is kept"
		if slices.ContainsFunc(rec.History, func(h HistoryEntry) bool { return h.Type == "AttachmentRewritten" && h.Detail == detail }) {
			return false, nil
		}
		rec.History = append(rec.History, HistoryEntry{At: now, Type: "AttachmentRewritten", Actor: rec.Owner, Detail: detail})
		rec.LastUpdatedTime = now
		return true, nil
	})
	return err
}

func attachment(rec *Record, blob string) (*Attachment, error) {
	i := slices.IndexFunc(rec.Attachments, func(a Attachment) bool { return a.Blob == blob })
	if i < 0 {
		return nil, domain.E(domain.KindNotFound, "request %s has no document %q", rec.ID, blob)
	}
	return &rec.Attachments[i], nil
}
