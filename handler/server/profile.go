package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// ChangeSubmitter is the PATCH use case (*request.Submitter).
type ChangeSubmitter interface {
	Submit(ctx context.Context, p domain.Principal, in request.SubmitInput) (request.SubmitResult, error)
}

// maxMultipartRequest bounds the source design's multipart PATCH body.
const maxMultipartRequest = 60 << 20

// getProfile: GET /api/v1/profile/{internalID} — the owner's profile.
func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	prof, err := s.ownedProfile(r.Context(), p, r.PathValue("internalID"))
	if err != nil {
		return err
	}
	if prof.ETag != "" {
		w.Header().Set("ETag", `"`+prof.ETag+`"`)
	}
	writeJSON(w, http.StatusOK, prof)
	return nil
}

// patchProfile: PATCH /api/v1/profile/{internalID} with application/json or
// the source design's multipart/form-data (part "json" + attachment1,
// attachment2), X-MFA-Token and optionally Idempotency-Key →
// 200 {"Status":"Success","request":"/api/v1/requests/{id}"} when the
// change applied synchronously; 202 InProgress + Location + Retry-After
// while it waits; 200 with Status Failed/Terminated when the workflow ended
// otherwise. A replayed Idempotency-Key answer is the same, with
// Idempotent-Replayed: true. The order of checks is request.Submitter's.
func (s *Server) patchProfile(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	res, err := s.Changes.Submit(r.Context(), p, request.SubmitInput{
		ProfileID:      r.PathValue("internalID"),
		MFAToken:       r.Header.Get(MFATokenHeader),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Form:           changeForm{r: r},
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Status == request.SubmitInProgress {
		status = http.StatusAccepted
		w.Header().Set("Location", res.StatusURL())
		w.Header().Set("Retry-After", "5")
	}
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, status, submitBody{Status: res.Status, Request: res.StatusURL()})
	return nil
}

// submitBody is the source design's answer to a PATCH.
type submitBody struct {
	Status  request.SubmitStatus `json:"Status"`
	Request string               `json:"request"`
}

// changeForm reads a PATCH body for request.Submitter: application/json,
// or multipart/form-data whose files stream to the put the use case gives.
type changeForm struct {
	r *http.Request
}

func (f changeForm) Read(ctx context.Context, put request.PutFile) (request.ChangeInput, []byte, error) {
	var in request.ChangeInput
	if f.r.ContentLength == 0 && f.r.Header.Get("Content-Type") == "" {
		return in, nil, errEmptyBody()
	}
	mt, params, err := mime.ParseMediaType(f.r.Header.Get("Content-Type"))
	if err != nil {
		return in, nil, domain.E(domain.KindUnsupportedMedia, "Content-Type must be application/json or multipart/form-data")
	}
	switch mt {
	case "application/json":
		body, err := readJSONBody(f.r, maxJSONBody)
		if err != nil {
			return in, nil, err
		}
		return in, body, StrictUnmarshal(body, &in)
	case "multipart/form-data":
		return f.readMultipart(ctx, params["boundary"], put)
	}
	return in, nil, domain.E(domain.KindUnsupportedMedia, "Content-Type must be application/json or multipart/form-data")
}

// readMultipart reads the part "json" and streams attachment1/attachment2
// to put. The fingerprint covers the content (the json part, each file's
// field, name, type and SHA-256), not the raw bytes: the boundary is
// random, so a client rebuilding the same form must match its first try.
func (f changeForm) readMultipart(ctx context.Context, boundary string, put request.PutFile) (request.ChangeInput, []byte, error) {
	var in request.ChangeInput
	if boundary == "" {
		return in, nil, domain.E(domain.KindInvalid, "multipart/form-data without a boundary")
	}
	if f.r.ContentLength > maxMultipartRequest {
		return in, nil, domain.E(domain.KindTooLarge, "request larger than %d MB", maxMultipartRequest>>20)
	}
	mr := multipart.NewReader(http.MaxBytesReader(nil, f.r.Body, maxMultipartRequest), boundary)
	h := sha256.New()
	jsonSeen := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return in, nil, bodyError(err)
		}
		switch name := part.FormName(); name {
		case "json":
			if jsonSeen {
				return in, nil, domain.E(domain.KindInvalid, "part \"json\" given twice")
			}
			jsonSeen = true
			b, err := io.ReadAll(io.LimitReader(part, maxJSONBody+1))
			if err != nil {
				return in, nil, domain.E(domain.KindInvalid, "malformed multipart body")
			}
			if len(b) > maxJSONBody {
				return in, nil, domain.E(domain.KindTooLarge, "part \"json\" larger than %d bytes", maxJSONBody)
			}
			if err := StrictUnmarshal(b, &in); err != nil {
				return in, nil, err
			}
			fmt.Fprintf(h, "json\x00%d\x00%s\x00", len(b), b)
		case "attachment1", "attachment2":
			fileName, contentType := rawFileName(part), part.Header.Get("Content-Type")
			fh := sha256.New()
			body := &readErr{r: part}
			if err := put(ctx, name, fileName, contentType, io.TeeReader(body, fh)); err != nil {
				if body.err != nil { // the client's body broke off or was malformed
					return in, nil, bodyError(body.err)
				}
				return in, nil, err
			}
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%x\x00", name, fileName, contentType, fh.Sum(nil))
		default:
			return in, nil, domain.E(domain.KindInvalid, "unexpected form part %q (want json, attachment1, attachment2)", name)
		}
	}
	if !jsonSeen {
		return in, nil, domain.E(domain.KindInvalid, "multipart body needs a part named \"json\"")
	}
	return in, fmt.Appendf(nil, "%x", h.Sum(nil)), nil
}

// readErr remembers the first error other than io.EOF its reader returned.
type readErr struct {
	r   io.Reader
	err error
}

func (b *readErr) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}

// bodyError is the client's error for a multipart body that could not be
// read: KindTooLarge past maxMultipartRequest, else KindInvalid.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return domain.E(domain.KindTooLarge, "request larger than %d MB", maxMultipartRequest>>20)
	}
	return domain.E(domain.KindInvalid, "malformed multipart body")
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
