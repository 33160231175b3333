package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// UploadService runs direct-to-blob uploads (*upload.Service) behind the
// uploads routes. The PATCH use case resolves an uploadId through it too
// (request.CommittedUploads).
type UploadService interface {
	Create(ctx context.Context, p domain.Principal, profileID string, files []upload.FileSpec) (upload.Plan, error)
	State(ctx context.Context, p domain.Principal, profileID, uploadID string) (upload.State, error)
}

// createUpload: POST /api/v1/profile/{internalID}/uploads
// {"files":[{"name","contentType","size"}]} → 201 {"uploadId","expiresAt",
// "files":[{"name","uploadUrl","blockSize","blockCount","blockIds",
// "requiredHeaders",…}]}. Owner only. The answer holds SAS URLs: never
// cached, never logged.
func (s *Server) createUpload(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	prof, err := s.ownedProfile(r.Context(), p, r.PathValue("internalID"))
	if err != nil {
		return err
	}
	var body struct {
		Files []upload.FileSpec `json:"files"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	plan, err := s.Uploads.Create(r.Context(), p, prof.ID, body.Files)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/api/v1/profile/"+url.PathEscape(prof.ID)+"/uploads/"+plan.UploadID)
	writeJSON(w, http.StatusCreated, plan)
	return nil
}

// getUpload: GET /api/v1/profile/{internalID}/uploads/{uploadId} → 200
// {"uploadId","expiresAt","files":[{"name","committed","size",
// "uncommittedBlocks",…}]}; 403/404 for other users, 410 once expired.
func (s *Server) getUpload(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	prof, err := s.ownedProfile(r.Context(), p, r.PathValue("internalID"))
	if err != nil {
		return err
	}
	st, err := s.Uploads.State(r.Context(), p, prof.ID, r.PathValue("uploadId"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, st)
	return nil
}
