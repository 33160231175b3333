package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// RequestService runs change requests (*request.Service): Status and Cancel
// answer KindNotFound alike for an unknown request and one the caller may
// not read; Step and StepDeadLettered process the workflow queue's messages
// (errors keep their kinds: KindTransient when the message should come
// again).
type RequestService interface {
	Status(ctx context.Context, p domain.Principal, id string, opts request.StatusOptions) (request.StatusView, error)
	Cancel(ctx context.Context, p domain.Principal, id, comment string) (request.Record, error)
	Sweep(ctx context.Context, quiet time.Duration, limit int) (request.SweepResult, error)
	AttachmentLink(ctx context.Context, p domain.Principal, id, name string) (string, error)
	Step(ctx context.Context, st request.Step) (request.Record, error)
	StepDeadLettered(ctx context.Context, st request.Step, deliveries int64, cause string) (request.Record, error)
	Approvals(ctx context.Context, p domain.Principal, pageSize int, continuation string) (request.ApprovalsPage, error)
	Decide(ctx context.Context, p domain.Principal, id string, d request.Decision) (request.Record, error)
}

// getRequest: GET /api/v1/requests/{requestId}[?showHistory=false][&showInput=false]
// — Durable-style status; 202 + Retry-After while running, 200 when
// terminal. Both parameters default to true (see request.StatusOptions).
func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	opts, err := statusOptions(r.URL.Query())
	if err != nil {
		return err
	}
	view, err := s.Requests.Status(r.Context(), p, r.PathValue("requestId"), opts)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !view.RuntimeStatus.Terminal() {
		status = http.StatusAccepted
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Location", "/api/v1/requests/"+view.ID)
	}
	writeJSON(w, status, view)
	return nil
}

// statusOptions reads showHistory and showInput: "true" or "false" in any
// letter case, at most once each (KindInvalid otherwise). Other parameters
// are ignored, as the Durable Functions status API ignores those it does
// not know.
func statusOptions(q url.Values) (request.StatusOptions, error) {
	opts := request.DefaultStatusOptions
	for name, dst := range map[string]*bool{"showHistory": &opts.History, "showInput": &opts.Input} {
		vs, ok := q[name]
		if !ok {
			continue
		}
		switch {
		case len(vs) != 1:
			return opts, domain.E(domain.KindInvalid, "%s: give it at most once", name)
		case strings.EqualFold(vs[0], "true"):
			*dst = true
		case strings.EqualFold(vs[0], "false"):
			*dst = false
		default:
			return opts, domain.E(domain.KindInvalid, "%s: must be true or false", name)
		}
	}
	return opts, nil
}

// cancelRequest: POST /api/v1/requests/{requestId}/cancel by the owner.
func (s *Server) cancelRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
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

// getAttachment: GET /api/v1/requests/{requestId}/attachments/{name} — a
// 302 redirect to a read-only URL of the clean document, valid 5 minutes,
// for those who may read the request; 409 while it is not scanned, 410
// when it was quarantined.
func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	u, err := s.Requests.AttachmentLink(r.Context(), p, r.PathValue("requestId"), r.PathValue("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
	return nil
}
