package server

import (
	"net/http"
	"strconv"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/workflow"
)

// listApprovals: GET /api/v1/approvals[?pageSize=N][&continuationToken=T]
// — the caller's open approval tasks, oldest first (request.Approvals).
func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	q := r.URL.Query()
	size := 0
	for name, vs := range q {
		if len(vs) != 1 {
			return domain.E(domain.KindInvalid, "%s: give it at most once", name)
		}
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > request.MaxApprovalsPage {
			return domain.E(domain.KindInvalid, "pageSize must be a whole number 1–%d", request.MaxApprovalsPage)
		}
		size = n
	}
	page, err := s.Requests.Approvals(r.Context(), p, size, q.Get("continuationToken"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page)
	return nil
}

// approveRequest, rejectRequest, sendBackRequest: POST
// /api/v1/requests/{requestId}/approve | reject | send-back.
func (s *Server) approveRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	return s.decide(w, r, p, workflow.Approve)
}

func (s *Server) rejectRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	return s.decide(w, r, p, workflow.Reject)
}

func (s *Server) sendBackRequest(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	return s.decide(w, r, p, workflow.SendBack)
}

// decide answers one decision: body {"comment","taskId"} (both optional
// for approve; a comment is required for reject and send-back) → 200 with
// the status record (request.Service.Decide lists the refusals).
func (s *Server) decide(w http.ResponseWriter, r *http.Request, p domain.Principal, kind workflow.DecisionKind) error {
	var body struct {
		Comment string `json:"comment"`
		TaskID  string `json:"taskId"`
	}
	if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
	}
	rec, err := s.Requests.Decide(r.Context(), p, r.PathValue("requestId"), request.Decision{Kind: kind, Comment: body.Comment, TaskID: body.TaskID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec.View())
	return nil
}
