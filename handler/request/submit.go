package request

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/upload"
)

// Limits of files sent with a change (the source design's multipart form).
const (
	// MaxAttachmentSize is the largest evidence document, in bytes (25 MiB).
	MaxAttachmentSize = 25 << 20
	// MaxAttachments is how many documents one change may carry.
	MaxAttachments = 2
)

// The ports the PATCH use case needs, declared here where they are used.

// TokenChecker is the MFA token check (*mfa.Service): Check validates a
// token for a change of profileID by p without spending it (KindUnauthorized
// when invalid or expired, KindForbidden when bound to another subject or
// profile); Consume records its single use (KindConflict when already used).
type TokenChecker interface {
	Check(ctx context.Context, token string, p domain.Principal, profileID string) (mfa.Claims, error)
	Consume(ctx context.Context, c mfa.Claims) error
	// ConsumeFor is Consume naming the request the token is spent on;
	// spending it again for the same request succeeds.
	ConsumeFor(ctx context.Context, c mfa.Claims, use string) error
}

// CommittedUploads resolves the uploadId a change refers to
// (*upload.Service): the upload must belong to p and the profile
// (KindNotFound), be unexpired (KindGone), not be submitted already
// (KindConflict) and have every file committed (KindConflict) within its
// declared size (KindInvalid). RecordServerUpload records the files a
// multipart PATCH streamed as an upload of their own, so they are pinned,
// claimed and scanned the same way.
type CommittedUploads interface {
	CommittedFiles(ctx context.Context, p domain.Principal, profileID, uploadID string) ([]upload.Committed, error)
	RecordServerUpload(ctx context.Context, p domain.Principal, profileID, uploadID, account string, files []upload.File) (upload.Session, error)
}

// AttachmentSink stores files sent with a change into the landing
// container as they stream (never whole in memory), refusing more than max
// bytes (KindTooLarge). Discard deletes the files of a call that was not
// accepted (best effort).
type AttachmentSink interface {
	PutAttachment(ctx context.Context, profileID, scope string, index int, name, contentType string, r io.Reader, max int64) (Attachment, error)
	Discard(ctx context.Context, atts []Attachment)
}

// IdempotencyKeys remembers the answer to a submission per caller and
// Idempotency-Key (*idempotency.Keys): Begin returns a stored answer for the
// same fingerprint (replay), KindUnprocessable for another one, KindConflict
// while the first call still runs; otherwise a lease to Finish or Abandon.
type IdempotencyKeys interface {
	Begin(ctx context.Context, subject, key, fingerprint string) (idempotency.Record, bool, error)
	Note(ctx context.Context, lease idempotency.Record, requestID string) (idempotency.Record, error)
	Finish(ctx context.Context, lease idempotency.Record, status int, headers map[string]string, body []byte) error
	Abandon(ctx context.Context, lease idempotency.Record) error
}

// Opener opens a request for an accepted change, or applies it as the
// answer to a sent-back request (*Service). NewRequestID makes the id of a
// request to open (Change.RequestID); Get reads a request p may read.
type Opener interface {
	NewRequestID() string
	Get(ctx context.Context, p domain.Principal, requestID string) (Record, error)
	Open(ctx context.Context, p domain.Principal, prof domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error)
	Answer(ctx context.Context, p domain.Principal, requestID string, prof domain.Profile, ch Change, atts []Attachment, accept MFAConsumer) (Record, error)
}

// Form is the body of a change as its transport reads it: the JSON fields,
// and for the source design's multipart form the files sent with them.
// Read is called once. It passes each file to put while the file streams
// and returns the fields and a fingerprint of the content for
// Idempotency-Key: equal for equal content however it was encoded (a
// multipart boundary is random). A refusal of the body is KindInvalid,
// KindTooLarge or KindUnsupportedMedia; an error from put is returned as is.
type Form interface {
	Read(ctx context.Context, put PutFile) (in ChangeInput, fingerprint []byte, err error)
}

// PutFile stores one file of a form: field is its form field
// ("attachment1"), name and contentType as the client sent them.
type PutFile func(ctx context.Context, field, name, contentType string, r io.Reader) error

// SubmitInput is one submission of a change as the transport decoded it.
type SubmitInput struct {
	ProfileID      string
	MFAToken       string // X-MFA-Token; required
	IdempotencyKey string // Idempotency-Key; "" when absent
	Form           Form
}

// SubmitStatus is the outcome of an accepted submission (the source design's
// Status field).
type SubmitStatus string

// Submit statuses.
const (
	SubmitSuccess    SubmitStatus = "Success"    // the change applied synchronously
	SubmitInProgress SubmitStatus = "InProgress" // it waits (scan, approval) or is still being applied
	SubmitFailed     SubmitStatus = "Failed"     // the workflow ended without applying it
	SubmitTerminated SubmitStatus = "Terminated"
)

// SubmitResult is the answer to an accepted submission.
type SubmitResult struct {
	Status    SubmitStatus
	RequestID string
	// Replayed: the answer stored for this Idempotency-Key and body; no new
	// request was opened.
	Replayed bool
}

// StatusURL is the request's status resource.
func (r SubmitResult) StatusURL() string { return "/api/v1/requests/" + r.RequestID }

// submitted is the stored form of a SubmitResult (the API body's shape, so
// answers stored before by the transport replay as well).
type submitted struct {
	Status  SubmitStatus `json:"Status"`
	Request string       `json:"request"`
}

// SubmitterDeps are the Submitter's collaborators; all are required.
type SubmitterDeps struct {
	Profiles    domain.ProfileReader
	MFA         TokenChecker
	Uploads     CommittedUploads
	Attachments AttachmentSink
	Keys        IdempotencyKeys
	Requests    Opener
	Now         func() time.Time
	Log         *slog.Logger
}

// Submitter is the PATCH use case: it takes a change from its form to an
// opened request.
type Submitter struct {
	d SubmitterDeps
}

// NewSubmitter checks that every dependency is given.
func NewSubmitter(d SubmitterDeps) (*Submitter, error) {
	var missing []string
	for name, nilDep := range map[string]bool{
		"Profiles": d.Profiles == nil, "MFA": d.MFA == nil, "Uploads": d.Uploads == nil, "Attachments": d.Attachments == nil,
		"Keys": d.Keys == nil, "Requests": d.Requests == nil, "Now": d.Now == nil, "Log": d.Log == nil,
	} {
		if nilDep {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, errors.New("request: submitter dependencies missing: " + strings.Join(slices.Sorted(slices.Values(missing)), ", "))
	}
	return &Submitter{d: d}, nil
}

// Submit takes a change of in.ProfileID by p from its form to an opened
// request. The order is the contract:
//
//  1. the profile must be p's (KindNotFound / KindForbidden), an MFA token
//     present (KindUnauthorized) and an Idempotency-Key well formed
//     (KindInvalid);
//  2. the form is read, its files streamed to the landing container;
//  3. with an Idempotency-Key, a stored answer for the same content is
//     returned (Replayed) before the MFA token is looked at, so a retry
//     within 24 h gets it even after the token expired;
//  4. the MFA token is checked (not spent), the change validated (Validate),
//     an uploadId resolved to its committed files;
//  5. the request is opened; the token is spent only then (Service.Open).
//
// Files streamed by a call that is not accepted (refused, failed, or a
// replay) are deleted again; a client's own upload never is. A key is kept
// only with an accepted answer; any refusal frees it.
func (s *Submitter) Submit(ctx context.Context, p domain.Principal, in SubmitInput) (res SubmitResult, err error) {
	prof, err := s.ownedProfile(ctx, p, in.ProfileID)
	if err != nil {
		return res, err
	}
	if in.MFAToken == "" {
		return res, domain.E(domain.KindUnauthorized, "X-MFA-Token header required: verify an SMS PIN first (POST /api/v1/mfa/challenge)")
	}
	if in.IdempotencyKey != "" {
		if err := idempotency.ValidateKey(in.IdempotencyKey); err != nil {
			return res, err
		}
	}

	accepted := false
	files := &formFiles{sink: s.d.Attachments, profileID: prof.ID, scope: newScope()}
	defer func() {
		if !accepted && len(files.atts) > 0 {
			s.d.Attachments.Discard(context.WithoutCancel(ctx), files.atts)
		}
	}()
	fields, fingerprint, err := in.Form.Read(ctx, files.put)
	if err != nil {
		return res, err
	}

	var lease idempotency.Record
	if in.IdempotencyKey != "" {
		rec, replay, err := s.d.Keys.Begin(ctx, p.Subject, in.IdempotencyKey, idempotency.Hash("PATCH", "/api/v1/profile/"+prof.ID, fingerprint))
		if err != nil {
			return res, err
		}
		if replay {
			return replayed(rec)
		}
		lease = rec
		defer func() {
			if !accepted {
				if aerr := s.d.Keys.Abandon(context.WithoutCancel(ctx), lease); aerr != nil {
					s.d.Log.WarnContext(ctx, "abandoning idempotency key failed", "err", aerr.Error())
				}
			}
		}()
		// A key taken over from a call that stopped midway: if that call
		// got its request recorded, this is its answer (the change may be
		// applied already, its MFA token spent, its upload claimed).
		if lease.RequestID != "" {
			if rec, err := s.d.Requests.Get(ctx, p, lease.RequestID); err == nil && fields.AnswerTo == nil {
				accepted = true
				return s.finish(ctx, lease, rec), nil
			} else if err != nil && !domain.Is(err, domain.KindNotFound) {
				return res, err
			}
		}
	}
	claims, err := s.d.MFA.Check(ctx, in.MFAToken, p, prof.ID)
	if err != nil {
		return res, err
	}
	ch, err := Validate(fields, prof, s.d.Now())
	if err != nil {
		return res, err
	}
	atts := files.atts
	if ch.UploadID != "" {
		if len(atts) > 0 {
			return res, domain.E(domain.KindInvalid, "uploadId: give either an uploadId or attachment parts, not both")
		}
		up, err := s.d.Uploads.CommittedFiles(ctx, p, prof.ID, ch.UploadID)
		if err != nil {
			return res, err
		}
		for _, f := range up {
			atts = append(atts, Attachment{
				Name: f.Name, UploadID: ch.UploadID, Account: f.Account, Source: f.Container, SourceETag: f.ETag, Blob: f.BlobName,
				ContentType: f.ContentType, Size: f.Size, DeclaredSize: f.File.Size, MD5: f.ContentMD5, Verdict: VerdictPending,
			})
		}
	} else if len(atts) > 0 {
		if err := s.recordStreamed(ctx, p, prof.ID, files.scope, atts); err != nil {
			return res, err
		}
	}

	// The request's id is fixed (and noted with the key) before anything
	// is spent, so a retry after a stop opens the same request: its field
	// locks, upload claim and MFA token use name it.
	takenOver := lease.RequestID != ""
	requestID := lease.RequestID
	if fields.AnswerTo != nil {
		if *fields.AnswerTo == "" || len(*fields.AnswerTo) > 100 {
			return res, domain.E(domain.KindInvalid, "answerTo must name a request id")
		}
		requestID = *fields.AnswerTo
	} else if requestID == "" {
		requestID = s.d.Requests.NewRequestID()
	}
	if in.IdempotencyKey != "" && lease.RequestID != requestID {
		if lease, err = s.d.Keys.Note(ctx, lease, requestID); err != nil {
			return res, err
		}
	}
	consume := func(ctx context.Context) error { return s.d.MFA.ConsumeFor(ctx, claims, requestID) }
	var rec Record
	if fields.AnswerTo != nil {
		rec, err = s.d.Requests.Answer(ctx, p, requestID, prof, ch, atts, consume)
		if domain.Is(err, domain.KindConflict) && takenOver {
			// A taken-over key whose first call may have given this answer.
			if cur, gerr := s.d.Requests.Get(ctx, p, requestID); gerr == nil && answeredBy(cur, p.Subject) {
				rec, err = cur, nil
			}
		}
	} else {
		ch.RequestID = requestID
		rec, err = s.d.Requests.Open(ctx, p, prof, ch, atts, consume)
	}
	if err != nil {
		return res, err
	}
	accepted = true
	return s.finish(ctx, lease, rec), nil
}

// finish is the answer for an accepted request rec, stored under the
// Idempotency-Key of lease when there is one (the request is accepted
// whatever happens to the connection now).
func (s *Submitter) finish(ctx context.Context, lease idempotency.Record, rec Record) SubmitResult {
	res := SubmitResult{Status: submitStatus(rec), RequestID: rec.ID}
	if lease.ID != "" {
		body, _ := json.Marshal(submitted{Status: res.Status, Request: res.StatusURL()})
		if err := s.d.Keys.Finish(context.WithoutCancel(ctx), lease, 0, nil, body); err != nil {
			s.d.Log.WarnContext(ctx, "storing idempotent answer failed", "request", rec.ID, "err", err.Error())
		}
	}
	return res
}

// answeredBy reports whether rec holds an answer to a send-back by subject.
func answeredBy(rec Record, subject string) bool {
	return slices.ContainsFunc(rec.History, func(h HistoryEntry) bool { return h.Type == "RequestAnswered" && h.Actor == subject })
}

// recordStreamed records the files of a multipart PATCH as a server-written
// upload under scope, so that the scan finds who declared them.
func (s *Submitter) recordStreamed(ctx context.Context, p domain.Principal, profileID, scope string, atts []Attachment) error {
	files := make([]upload.File, len(atts))
	for i, a := range atts {
		files[i] = upload.File{Name: a.Name, ContentType: a.ContentType, Size: a.Size, BlobName: a.Blob}
	}
	_, err := s.d.Uploads.RecordServerUpload(ctx, p, profileID, scope, atts[0].Account, files)
	return err
}

// submitStatus: Success when the change applied synchronously (a completed
// request with no change left to apply), the workflow's end when it failed
// or was terminated, InProgress otherwise.
func submitStatus(rec Record) SubmitStatus {
	switch {
	case rec.RuntimeStatus == Completed && !pendingApply(rec):
		return SubmitSuccess
	case rec.RuntimeStatus == Failed:
		return SubmitFailed
	case rec.RuntimeStatus == Terminated:
		return SubmitTerminated
	}
	return SubmitInProgress
}

func replayed(rec idempotency.Record) (SubmitResult, error) {
	var sub submitted
	if err := json.Unmarshal(rec.Body, &sub); err != nil || !strings.HasPrefix(sub.Request, "/api/v1/requests/") {
		return SubmitResult{}, domain.E(domain.KindInternal, "stored idempotent answer is unreadable")
	}
	return SubmitResult{Status: sub.Status, RequestID: strings.TrimPrefix(sub.Request, "/api/v1/requests/"), Replayed: true}, nil
}

// ownedProfile loads a profile and checks that p owns it (domain.OwnedProfile).
func (s *Submitter) ownedProfile(ctx context.Context, p domain.Principal, id string) (domain.Profile, error) {
	return domain.OwnedProfile(ctx, s.d.Profiles, p, id)
}

// formFiles stores the files of one form and remembers them, so that they
// can be discarded if the call is not accepted.
type formFiles struct {
	sink      AttachmentSink
	profileID string
	scope     string
	atts      []Attachment
}

// put checks a file against the same name and type rules as declared
// uploads (upload.ValidateSpecs), at most MaxAttachments with distinct
// names, and streams it to the sink (at most MaxAttachmentSize bytes).
func (f *formFiles) put(ctx context.Context, field, name, contentType string, r io.Reader) error {
	if len(f.atts) >= MaxAttachments {
		return domain.E(domain.KindInvalid, "at most %d attachments", MaxAttachments)
	}
	specs, err := upload.ValidateSpecs([]upload.FileSpec{{Name: name, ContentType: contentType, Size: 1}})
	if err != nil {
		return domain.Wrap(domain.KindInvalid, err, "%s: %s", field, message(err))
	}
	for _, a := range f.atts {
		if a.Name == specs[0].Name {
			return domain.E(domain.KindInvalid, "%s: two attachments named %q", field, a.Name)
		}
	}
	a, err := f.sink.PutAttachment(ctx, f.profileID, f.scope, len(f.atts), specs[0].Name, specs[0].ContentType, r, MaxAttachmentSize)
	if err != nil {
		return err
	}
	f.atts = append(f.atts, a)
	return nil
}

func message(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Msg
	}
	return err.Error()
}

func newScope() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
