package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/upload"
	"github.com/profileflow/profileflow/handler/workflow"
)

// RequestService runs change requests (request.Service).
type RequestService interface {
	Submit(ctx context.Context, p domain.Principal, prof domain.Profile, ch request.Change, atts []request.Attachment, accept request.MFAConsumer) (request.Record, error)
	Get(ctx context.Context, p domain.Principal, id string) (request.Record, error)
	Cancel(ctx context.Context, p domain.Principal, id, comment string) (request.Record, error)
	Deliver(ctx context.Context, id string, ev workflow.Event) (request.Record, error)
	Sweep(ctx context.Context, quiet time.Duration, limit int) (request.SweepResult, error)
}

// AttachmentSink streams a multipart file part into the landing container
// (never the whole file in memory), refusing more than max bytes.
type AttachmentSink interface {
	PutAttachment(ctx context.Context, profileID, scope string, index int, name, contentType string, r io.Reader, max int64) (request.Attachment, error)
	// Discard deletes attachments of a call that was not accepted (best effort).
	Discard(ctx context.Context, atts []request.Attachment)
}

// Limits of the multipart PATCH (the source design's form).
const (
	maxMultipartRequest = 60 << 20
	maxAttachment       = 25 << 20
	maxAttachments      = 2
)

// patchProfile: PATCH /api/v1/profile/{internalID}.
//
// Order matters: the body is read (multipart files streamed to the landing
// container) and an Idempotency-Key replay answered before the MFA token is
// checked, so a retry within 24 h gets the stored answer even after the
// token expired; the token is spent only when the change is accepted; files
// streamed by a call that is not accepted are deleted again.
func (s *Server) patchProfile(w http.ResponseWriter, r *http.Request, p domain.Principal) (err error) {
	ctx := r.Context()
	if s.Requests == nil || s.MFA == nil || s.Idempotency == nil {
		return domain.E(domain.KindInternal, "change requests are not configured")
	}
	prof, err := s.ownedProfile(ctx, p, r.PathValue("internalID"))
	if err != nil {
		return err
	}
	token := r.Header.Get("X-MFA-Token")
	if token == "" {
		return domain.E(domain.KindUnauthorized, "X-MFA-Token header required: verify an SMS PIN first (POST /api/v1/mfa/challenge)")
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		if err := idempotency.ValidateKey(key); err != nil {
			return err
		}
	}

	accepted := false
	in, atts, fingerprint, err := s.readChange(ctx, r, prof.ID)
	defer func() {
		if !accepted && len(atts) > 0 && s.Attachments != nil {
			s.Attachments.Discard(context.WithoutCancel(ctx), atts)
		}
	}()
	if err != nil {
		return err
	}
	var lease idempotency.Record
	if key != "" {
		rec, replay, err := s.Idempotency.Begin(ctx, p.Subject, key, idempotency.Hash(r.Method, r.URL.Path, fingerprint))
		if err != nil {
			return err
		}
		if replay {
			for k, v := range rec.Headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(rec.Status)
			_, _ = w.Write(rec.Body)
			return nil
		}
		lease = rec
		defer func() {
			// Only accepted answers are kept; anything else frees the key.
			if !accepted {
				if aerr := s.Idempotency.Abandon(context.WithoutCancel(ctx), lease); aerr != nil {
					s.log.WarnContext(ctx, "abandoning idempotency key failed", "err", aerr.Error())
				}
			}
		}()
	}

	claims, err := s.MFA.Check(ctx, token, p, prof.ID)
	if err != nil {
		return err
	}
	ch, err := request.Validate(in, prof, s.Now())
	if err != nil {
		return err
	}
	if ch.UploadID != "" {
		if len(atts) > 0 {
			return domain.E(domain.KindInvalid, "uploadId: give either an uploadId or attachment parts, not both")
		}
		if s.Uploads == nil {
			return domain.E(domain.KindInternal, "uploads are not configured")
		}
		files, err := s.Uploads.CommittedFiles(ctx, p, prof.ID, ch.UploadID)
		if err != nil {
			return err
		}
		for _, f := range files {
			atts = append(atts, request.Attachment{Name: f.Name, Account: f.Account, Container: s.LandingContainer, Blob: f.BlobName, ContentType: f.ContentType, Size: f.Size, Verdict: request.VerdictPending})
		}
	}

	rec, err := s.Requests.Submit(ctx, p, prof, ch, atts, func(ctx context.Context) error { return s.MFA.Consume(ctx, claims) })
	if err != nil {
		if ch.UploadID != "" {
			atts = nil // the client's own upload: never deleted here
		}
		return err
	}
	accepted = true
	status, body, headers := submitResponse(rec)
	if key != "" {
		// The request is accepted whatever happens to the connection now.
		if err := s.Idempotency.Finish(context.WithoutCancel(ctx), lease, status, headers, body); err != nil {
			s.log.WarnContext(ctx, "storing idempotent response failed", "err", err.Error())
		}
	}
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// submitResponse is the source design's answer: 200 Success when the change
// applied synchronously, 202 InProgress + Location while it waits.
func submitResponse(rec request.Record) (int, []byte, map[string]string) {
	url := "/api/v1/requests/" + rec.ID
	headers := map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}
	status, st := http.StatusOK, "Success"
	switch {
	case rec.RuntimeStatus == request.Completed && rec.Applied:
	case rec.RuntimeStatus == request.Failed || rec.RuntimeStatus == request.Terminated:
		st = string(rec.RuntimeStatus)
	default:
		status, st = http.StatusAccepted, "InProgress"
		headers["Location"] = url
		headers["Retry-After"] = "5"
	}
	body, _ := jsonBytes(map[string]string{"Status": st, "request": url})
	return status, body, headers
}

// readChange reads the change from application/json or the source design's
// multipart/form-data (part "json" + attachment1/attachment2 streamed to
// blob). fingerprint identifies the request body for Idempotency-Key.
func (s *Server) readChange(ctx context.Context, r *http.Request, profileID string) (request.ChangeInput, []request.Attachment, []byte, error) {
	var in request.ChangeInput
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return in, nil, nil, domain.E(domain.KindUnsupportedMedia, "Content-Type must be application/json or multipart/form-data")
	}
	switch mt {
	case "application/json":
		body, err := readJSONBody(r, maxJSONBody)
		if err != nil {
			return in, nil, nil, err
		}
		return in, nil, body, StrictUnmarshal(body, &in)
	case "multipart/form-data":
		return s.readMultipart(ctx, r, params["boundary"], profileID)
	}
	return in, nil, nil, domain.E(domain.KindUnsupportedMedia, "Content-Type must be application/json or multipart/form-data")
}

func (s *Server) readMultipart(ctx context.Context, r *http.Request, boundary, profileID string) (request.ChangeInput, []request.Attachment, []byte, error) {
	var in request.ChangeInput
	if boundary == "" {
		return in, nil, nil, domain.E(domain.KindInvalid, "multipart/form-data without a boundary")
	}
	if r.ContentLength > maxMultipartRequest {
		return in, nil, nil, domain.E(domain.KindTooLarge, "request larger than %d MB", maxMultipartRequest>>20)
	}
	body := http.MaxBytesReader(nil, r.Body, maxMultipartRequest)
	// The fingerprint covers the content (json part, each file's field,
	// name, type and SHA-256), not the raw bytes: the boundary is random, so
	// a client rebuilding the same form must match its first try.
	h := sha256.New()
	mr := multipart.NewReader(body, boundary)
	var (
		jsonSeen bool
		atts     []request.Attachment
		scope    = newID()
	)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return in, atts, nil, domain.E(domain.KindTooLarge, "request larger than %d MB", maxMultipartRequest>>20)
			}
			return in, atts, nil, domain.E(domain.KindInvalid, "malformed multipart body")
		}
		switch name := part.FormName(); name {
		case "json":
			if jsonSeen {
				return in, atts, nil, domain.E(domain.KindInvalid, "part \"json\" given twice")
			}
			jsonSeen = true
			b, err := io.ReadAll(io.LimitReader(part, maxJSONBody+1))
			if err != nil {
				return in, atts, nil, domain.E(domain.KindInvalid, "malformed multipart body")
			}
			if len(b) > maxJSONBody {
				return in, atts, nil, domain.E(domain.KindTooLarge, "part \"json\" larger than %d bytes", maxJSONBody)
			}
			if err := StrictUnmarshal(b, &in); err != nil {
				return in, atts, nil, err
			}
			fmt.Fprintf(h, "json\x00%d\x00%s\x00", len(b), b)
		case "attachment1", "attachment2":
			if len(atts) >= maxAttachments {
				return in, atts, nil, domain.E(domain.KindInvalid, "at most %d attachments", maxAttachments)
			}
			for _, a := range atts {
				if a.Name == part.FileName() {
					return in, atts, nil, domain.E(domain.KindInvalid, "%s: two attachments named %q", name, a.Name)
				}
			}
			if s.Attachments == nil {
				return in, atts, nil, domain.E(domain.KindInternal, "attachment storage is not configured")
			}
			// Same name and type rules as declared uploads; the size is
			// enforced while streaming.
			specs, err := upload.ValidateSpecs([]upload.FileSpec{{Name: rawFileName(part), ContentType: part.Header.Get("Content-Type"), Size: 1}})
			if err != nil {
				return in, atts, nil, domain.Wrap(domain.KindInvalid, err, "%s: %s", name, errMsg(err))
			}
			fh := sha256.New()
			a, err := s.Attachments.PutAttachment(ctx, profileID, scope, len(atts), specs[0].Name, specs[0].ContentType, io.TeeReader(part, fh), maxAttachment)
			if err != nil {
				return in, atts, nil, err
			}
			atts = append(atts, a)
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%x\x00", name, specs[0].Name, specs[0].ContentType, fh.Sum(nil))
		default:
			return in, atts, nil, domain.E(domain.KindInvalid, "unexpected form part %q (want json, attachment1, attachment2)", name)
		}
	}
	if !jsonSeen {
		return in, atts, nil, domain.E(domain.KindInvalid, "multipart body needs a part named \"json\"")
	}
	return in, atts, []byte(hex.EncodeToString(sumOf(h))), nil
}

func sumOf(h hash.Hash) []byte { return h.Sum(nil) }

func errMsg(err error) string {
	var de *domain.Error
	if errors.As(err, &de) {
		return de.Msg
	}
	return err.Error()
}

// getRequest: GET /api/v1/requests/{requestId} — Durable-style status;
// 202 + Retry-After while running, 200 when terminal.
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	if s.Requests == nil {
		return domain.E(domain.KindInternal, "change requests are not configured")
	}
	rec, err := s.Requests.Get(r.Context(), p, r.PathValue("requestId"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !rec.RuntimeStatus.Terminal() {
		status = http.StatusAccepted
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Location", "/api/v1/requests/"+rec.ID)
	}
	writeJSON(w, status, rec.View())
	return nil
}

// cancelRequest: POST /api/v1/requests/{requestId}/cancel by the owner.
func (s *Server) cancelRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	if s.Requests == nil {
		return domain.E(domain.KindInternal, "change requests are not configured")
	}
	comment, err := optionalComment(r)
	if err != nil {
		return err
	}
	rec, err := s.Requests.Cancel(r.Context(), p, r.PathValue("requestId"), comment)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec.View())
	return nil
}

// optionalComment reads an empty body or a JSON object {"comment"} (at most
// 500 characters, plain text).
func optionalComment(r *http.Request) (string, error) {
	if r.ContentLength == 0 || r.Header.Get("Content-Type") == "" {
		return "", nil
	}
	var body struct {
		Comment string `json:"comment"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return "", err
	}
	c, err := request.ValidateDescription(body.Comment)
	if err != nil || len([]rune(c)) > 500 {
		return "", domain.E(domain.KindInvalid, "comment: at most 500 characters of plain text")
	}
	return c, nil
}

func jsonBytes(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// rawFileName is the filename parameter exactly as sent: Part.FileName()
// strips directories, which would hide a "../../etc/passwd" we must refuse.
func rawFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}
