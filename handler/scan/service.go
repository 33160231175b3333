package scan

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// DefaultMaxAttempts is how often a document whose scan fails for a
// transient reason (engine unreachable, storage busy) is tried before it
// gets the verdict Error and its request fails: the Functions host's blob
// trigger gives up after 5 tries (maxDequeueCount, Azure Functions blob
// trigger documentation, "Poison blobs").
const DefaultMaxAttempts = 5

// Declarations tells whose a landing blob is (*upload.Service): the
// declared file of upload uploadID stored as blobName and the request it
// was submitted with ("" if none). KindNotFound: no upload declared it.
type Declarations interface {
	Declared(ctx context.Context, uploadID, blobName string) (upload.File, string, error)
}

// Document is a request's pinned document as the scan needs it.
type Document struct {
	RequestID    string
	Name         string
	DeclaredType string
	DeclaredSize int64
	Pinned       upload.BlobRef // the copy in the landing container
	PinnedETag   string
	Source       upload.BlobRef // where the client wrote it (may be written again)
	SourceETag   string         // the version that was accepted
	Verdict      Verdict        // "" while not scanned
	SHA256       string         // of the scanned bytes, with Verdict
	Stored       string         // container it was moved to after the verdict; "" before
}

// Documents are the requests' side of a scan (*request.Service).
// Document fails with KindNotFound when the request or its document does
// not exist. RecordScan stores a verdict once (the same verdict again is a
// no-op) and moves the workflow on; RecordScanFailure counts a failed
// attempt and, at max, stores the verdict Error (reporting true);
// RecordStored notes where the document was moved; NoteRewrite records in
// the request's history that the client wrote the document again after it
// was accepted (once).
type Documents interface {
	Document(ctx context.Context, requestID, blobName string) (Document, error)
	RecordScan(ctx context.Context, requestID, blobName string, r Result) error
	RecordScanFailure(ctx context.Context, requestID, blobName, cause string, max int) (bool, error)
	RecordStored(ctx context.Context, requestID, blobName, container string) error
	NoteRewrite(ctx context.Context, requestID, blobName string) error
}

// Blobs are the storage operations of a scan (*blobstore.Store): a
// conditional read (KindStale for another version, KindNotFound when gone,
// KindTooLarge past max with nothing read), a conditional move to another
// container of the same shard, a delete, and the current version of a blob
// ("" when absent).
type Blobs interface {
	ReadVersion(ctx context.Context, ref upload.BlobRef, etag string, max int64) ([]byte, string, error)
	Move(ctx context.Context, ref upload.BlobRef, etag, to string) error
	Delete(ctx context.Context, ref upload.BlobRef) error
	Version(ctx context.Context, ref upload.BlobRef) (string, error)
}

// Scanner runs the pipeline (*Pipeline).
type Scanner interface {
	Scan(ctx context.Context, f File) (Result, error)
}

// Service is the ScanAttachment use case: it scans a document that landed
// in the landing container and stores the verdict in its request.
type Service struct {
	Uploads   Declarations
	Documents Documents
	Blobs     Blobs
	Scanner   Scanner
	// Accounts are the blob service URLs of the upload shards; Landing,
	// Clean and Quarantine the container names on every shard.
	Accounts                   []string
	Landing, Clean, Quarantine string
	MaxSize                    int64 // default upload.MaxFileSize
	MaxAttempts                int   // default DefaultMaxAttempts
	Log                        *slog.Logger
}

// Landed is a blob-trigger event: the blob's URL and its path tokens.
type Landed struct {
	URI      string // full blob URL as the host reports it
	UploadID string // {uploadId} token
	FileName string // {fileName} token: "<index>-<name>"
}

// ScanLanded scans one landed blob. It is safe to run any number of times
// for the same blob: a document with a verdict is only finished (moved),
// never scanned again. It returns nil when the invocation is done (also
// for blobs it refuses: a stray blob is quarantined and logged), and
// KindTransient when it should be retried (the engine or storage is
// unavailable, or the request is not recorded yet); after MaxAttempts
// failed attempts the document gets the verdict Error ("could not be
// scanned") and nil is returned.
func (s *Service) ScanLanded(ctx context.Context, ev Landed) error {
	ref, err := s.landingRef(ev)
	if err != nil {
		s.log().WarnContext(ctx, "blob trigger for a blob outside the landing container; ignored", "uri", ev.URI, "err", err.Error())
		return nil
	}
	f, requestID, err := s.Uploads.Declared(ctx, ev.UploadID, ref.Name)
	if domain.Is(err, domain.KindNotFound) {
		return s.stray(ctx, ref, "no upload declared it")
	}
	if err != nil {
		return err
	}
	if requestID == "" {
		// A copy left by an acceptance that failed after pinning: the
		// upload was released and nothing refers to this copy.
		s.log().InfoContext(ctx, "landed blob of an upload that was not submitted; deleted", "blob", ref.Name)
		return s.Blobs.Delete(ctx, ref)
	}
	doc, err := s.Documents.Document(ctx, requestID, ref.Name)
	if domain.Is(err, domain.KindNotFound) {
		// Pinned just before its request is saved, or an acceptance that
		// failed before releasing its claim: try again later.
		return domain.Wrap(domain.KindTransient, err, "request %s of %s is not recorded yet", requestID, ref.Name)
	}
	if err != nil {
		return err
	}
	if doc.Verdict != "" {
		// Recorded by an earlier run that may have stopped before the
		// workflow moved on: recording the same verdict again changes
		// nothing stored and delivers the scanned event if still due.
		if err := s.Documents.RecordScan(ctx, doc.RequestID, ref.Name, Result{Verdict: doc.Verdict, SHA256: doc.SHA256}); err != nil {
			return err
		}
		return s.store(ctx, doc)
	}
	s.noticeRewrite(ctx, doc)

	res, err := s.scan(ctx, doc, f)
	if err != nil {
		if !domain.Is(err, domain.KindTransient) {
			return err
		}
		failed, ferr := s.Documents.RecordScanFailure(ctx, doc.RequestID, ref.Name, err.Error(), s.maxAttempts())
		if ferr != nil {
			return ferr
		}
		if !failed {
			return err
		}
		doc.Verdict = Error
		return s.store(ctx, doc)
	}
	if err := s.Documents.RecordScan(ctx, doc.RequestID, ref.Name, res); err != nil {
		return err
	}
	doc.Verdict = res.Verdict
	return s.store(ctx, doc)
}

// scan reads the pinned version and runs the pipeline. A document that
// cannot be read as pinned gets a verdict of its own (never Clean).
func (s *Service) scan(ctx context.Context, doc Document, f upload.File) (Result, error) {
	data, _, err := s.Blobs.ReadVersion(ctx, doc.Pinned, doc.PinnedETag, s.maxSize())
	switch {
	case domain.Is(err, domain.KindTooLarge):
		return Result{Verdict: Rejected, Stage: "limits", Reason: fmt.Sprintf("%s is larger than %d bytes", doc.Name, s.maxSize())}, nil
	case domain.Is(err, domain.KindStale):
		return Result{Verdict: Rejected, Stage: "limits", Reason: doc.Name + ": the stored copy is not the version accepted"}, nil
	case domain.Is(err, domain.KindNotFound):
		return Result{Verdict: Error, Stage: "limits", Reason: doc.Name + ": the accepted copy is missing; not scanned"}, nil
	case err != nil:
		return Result{}, err
	}
	return s.Scanner.Scan(ctx, File{Name: f.Name, DeclaredType: doc.DeclaredType, DeclaredSize: doc.DeclaredSize, Content: data})
}

// store moves a document with a verdict out of the landing container:
// clean ones to Clean, all others to Quarantine. A move already done is
// not repeated.
func (s *Service) store(ctx context.Context, doc Document) error {
	if doc.Stored != "" {
		return nil
	}
	to := s.Quarantine
	if doc.Verdict == Clean {
		to = s.Clean
	}
	err := s.Blobs.Move(ctx, doc.Pinned, doc.PinnedETag, to)
	if domain.Is(err, domain.KindNotFound) || domain.Is(err, domain.KindStale) {
		// Nothing of the accepted version is left to move.
		s.log().WarnContext(ctx, "scanned document not found in the landing container", "request", doc.RequestID, "blob", doc.Pinned.Name, "err", err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	return s.Documents.RecordStored(ctx, doc.RequestID, doc.Pinned.Name, to)
}

// noticeRewrite records, once, that the client wrote its upload again after
// the request was accepted; the pinned copy is what counts.
func (s *Service) noticeRewrite(ctx context.Context, doc Document) {
	if doc.Source.Container == "" || doc.SourceETag == "" {
		return
	}
	v, err := s.Blobs.Version(ctx, doc.Source)
	if err != nil || v == "" || v == doc.SourceETag {
		return
	}
	if err := s.Documents.NoteRewrite(ctx, doc.RequestID, doc.Pinned.Name); err != nil {
		s.log().WarnContext(ctx, "recording a rewritten upload failed", "request", doc.RequestID, "err", err.Error())
	}
}

// stray quarantines a blob nobody may read and logs it.
func (s *Service) stray(ctx context.Context, ref upload.BlobRef, why string) error {
	s.log().WarnContext(ctx, "stray blob in the landing container quarantined", "blob", ref.Name, "reason", why)
	v, err := s.Blobs.Version(ctx, ref)
	if err != nil || v == "" {
		return err
	}
	err = s.Blobs.Move(ctx, ref, v, s.Quarantine)
	if domain.Is(err, domain.KindNotFound) || domain.Is(err, domain.KindStale) {
		return nil
	}
	return err
}

// landingRef resolves a trigger's blob URL to a shard and checks that it is
// the landing container and matches the path tokens.
func (s *Service) landingRef(ev Landed) (upload.BlobRef, error) {
	name := ev.UploadID + "/" + ev.FileName
	for _, acc := range s.Accounts {
		prefix := strings.TrimRight(acc, "/") + "/" + s.Landing + "/"
		if rest, ok := strings.CutPrefix(ev.URI, prefix); ok {
			if unescaped := unescapePath(rest); unescaped != name {
				return upload.BlobRef{}, fmt.Errorf("blob path %q does not match tokens %q", unescaped, name)
			}
			return upload.BlobRef{Account: strings.TrimRight(acc, "/"), Container: s.Landing, Name: name}, nil
		}
	}
	return upload.BlobRef{}, fmt.Errorf("not in a landing container of a configured upload account")
}

func (s *Service) maxSize() int64 {
	if s.MaxSize > 0 {
		return s.MaxSize
	}
	return upload.MaxFileSize
}

func (s *Service) maxAttempts() int {
	if s.MaxAttempts > 0 {
		return s.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// unescapePath decodes %XX escapes of a URL path (blob names are
// URL-safe ASCII here, so this only undoes what a host may have escaped).
func unescapePath(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}
