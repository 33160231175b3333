package server

import (
	"context"
	"net/http"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/mfa"
)

// MFAService is the SMS second factor (implemented by *mfa.Service).
// Challenge/Verify serve the /api/v1/mfa routes; Check/Consume are what the
// PATCH handler uses to require an X-MFA-Token: Check validates it offline
// (not consumed, so a PATCH refused for bad input leaves it usable) and
// Consume records its single use once the change is accepted.
type MFAService interface {
	Challenge(ctx context.Context, p domain.Principal, prof domain.Profile) (mfa.ChallengeResult, error)
	Verify(ctx context.Context, p domain.Principal, challengeID, code string) (mfa.TokenResult, error)
	Check(ctx context.Context, token string, p domain.Principal, profileID string) (mfa.Claims, error)
	Consume(ctx context.Context, c mfa.Claims) error
}

// MFATokenHeader carries the MFA token on profile changes.
const MFATokenHeader = "X-MFA-Token"

func (s *Server) mfaService() (MFAService, error) {
	if s.MFA == nil {
		return nil, domain.E(domain.KindInternal, "MFA is not configured")
	}
	return s.MFA, nil
}

// mfaChallenge: POST /api/v1/mfa/challenge {"profileId"} → 202
// {"challengeId","expiresAt","channel":"sms","to":"+*******1000"}.
func (s *Server) mfaChallenge(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	svc, err := s.mfaService()
	if err != nil {
		return err
	}
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
	res, err := svc.Challenge(r.Context(), p, prof)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// mfaVerify: POST /api/v1/mfa/verify {"challengeId","code"} → 200
// {"mfaToken","expiresAt"}.
func (s *Server) mfaVerify(w http.ResponseWriter, r *http.Request, p domain.Principal) error {
	svc, err := s.mfaService()
	if err != nil {
		return err
	}
	var body struct {
		ChallengeID string `json:"challengeId"`
		Code        string `json:"code"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	res, err := svc.Verify(r.Context(), p, body.ChallengeID, body.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// requireMFA checks the request's X-MFA-Token for a change of profileID by p
// (not consumed). The PATCH handler calls it before doing any work and
// s.MFA.Consume(ctx, claims) right before committing an accepted change.
func (s *Server) requireMFA(r *http.Request, p domain.Principal, profileID string) (mfa.Claims, error) {
	svc, err := s.mfaService()
	if err != nil {
		return mfa.Claims{}, err
	}
	return svc.Check(r.Context(), r.Header.Get(MFATokenHeader), p, profileID)
}
