package server

import (
	"context"
	"net/http"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

// MFAService is the SMS second factor (*mfa.Service) behind the
// /api/v1/mfa routes. The PATCH use case checks and spends the tokens it
// issues (request.TokenChecker).
type MFAService interface {
	Challenge(ctx context.Context, p domain.Principal, prof domain.Profile) (mfa.ChallengeResult, error)
	Verify(ctx context.Context, p domain.Principal, challengeID, code string) (mfa.TokenResult, error)
}

// MFATokenHeader carries the MFA token on profile changes.
const MFATokenHeader = "X-MFA-Token"

// mfaChallenge: POST /api/v1/mfa/challenge {"profileId"} → 202
// {"challengeId","expiresAt","channel":"sms","to":"+*******1000"}.
func (s *Server) mfaChallenge(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	var body struct {
		ProfileID string `json:"profileId"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if body.ProfileID == "" {
		return domain.E(domain.KindInvalid, "profileId is required")
	}
	prof, err := s.ownedProfile(r.Context(), p, body.ProfileID)
	if err != nil {
		return err
	}
	res, err := s.MFA.Challenge(r.Context(), p, prof)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// mfaVerify: POST /api/v1/mfa/verify {"challengeId","code"} → 200
// {"mfaToken","expiresAt"}.
func (s *Server) mfaVerify(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	var body struct {
		ChallengeID string `json:"challengeId"`
		Code        string `json:"code"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	res, err := s.MFA.Verify(r.Context(), p, body.ChallengeID, body.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
