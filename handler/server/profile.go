package server

import (
	"net/http"

	"github.com/profileflow/profileflow/handler/domain"
)

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
