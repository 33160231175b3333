// Package mfa implements the SMS second factor that guards every profile
// change: a challenge sends a PIN through a Verifier (Twilio Verify in
// production), verify checks it and returns a short-lived signed token bound
// to the caller, the profile and the purpose "profile-update"; the PATCH
// handler checks the token (offline) and consumes it once the change is
// accepted. Our own limits (sends per hour, failed checks per day, lockout)
// live in the Store, on top of the provider's.
//
// The package imports only the standard library and handler/domain; PINs
// and tokens are never logged.
package mfa

import (
	"context"
	"time"
)

// Verifier is the port to the SMS verification provider (Twilio Verify v2).
// Implementations translate provider errors to domain kinds:
//   - invalid phone number or parameter: KindInvalid
//   - too many sends / checks for a verification: KindRateLimited
//   - verification unknown, expired or already approved: KindGone
//   - provider throttling, 5xx, timeouts, network errors: KindTransient with RetryAfter
type Verifier interface {
	// StartVerification sends a PIN by SMS to phone (E.164) and returns the
	// provider's verification id.
	StartVerification(ctx context.Context, phone string) (verificationID string, err error)
	// CheckVerification checks code against the verification; a wrong code is
	// (false, nil).
	CheckVerification(ctx context.Context, verificationID, phone, code string) (approved bool, err error)
}

// Challenge statuses. A challenge moves Pending → Approved (the provider
// approved a code and a token was issued) → Used (the token was consumed),
// or Pending → Expired (the provider no longer knows the verification and
// no other check of the challenge is in flight). Approved and Used are
// final for checks; a check the provider approved settles the challenge as
// Approved even from Expired, as the provider's approval is the fact.
const (
	StatusPending  = "pending"
	StatusApproved = "approved" // code verified, token issued
	StatusExpired  = "expired"
	StatusUsed     = "used" // the token was consumed by an accepted change
)

// CheckLease is how long a check's in-flight mark (Challenge.Checks) holds
// off other checks' conclusions: a check still marked after this is taken
// as abandoned (its instance stopped between reserving and settling). The
// provider call it covers is bounded by the SMS client's timeout
// (TWILIO_TIMEOUT, 10 s by default).
const CheckLease = time.Minute

// CheckInFlight marks a check of a challenge whose provider answer is not
// settled yet.
type CheckInFlight struct {
	ID string    `json:"id"` // random, unique per check
	At time.Time `json:"at"` // when the check was reserved
}

// Challenge is one SMS PIN challenge.
type Challenge struct {
	ID             string    `json:"challengeId"`
	ProfileID      string    `json:"profileId"`
	Subject        string    `json:"subject"`
	Phone          string    `json:"phone"`
	VerificationID string    `json:"verificationSid"`
	CreatedAt      time.Time `json:"createdAt"`
	ExpiresAt      time.Time `json:"expiresAt"`
	Attempts       int       `json:"attempts"`
	Status         string    `json:"status"`
	// Checks are the checks in flight: each is marked (with an attempt)
	// before the code goes to the provider and unmarked once the provider's
	// answer is settled. A mark older than CheckLease counts as abandoned.
	Checks []CheckInFlight `json:"checksInFlight,omitempty"`
	ETag   string          `json:"-"`
}

// Limits are the per-profile counters behind our own limits. Both lists hold
// only the events inside their window (older ones are pruned on update).
type Limits struct {
	ProfileID string      `json:"profileId"`
	Sends     []time.Time `json:"sends"`    // challenges started in the last hour
	Failures  []time.Time `json:"failures"` // failed checks in the last 24 h, plus checks in flight (reserved before the provider is asked)
	ETag      string      `json:"-"`
}

// TokenUse records that an MFA token was consumed.
type TokenUse struct {
	TokenID   string    `json:"jti"`
	ProfileID string    `json:"profileId"`
	Subject   string    `json:"subject"`
	UsedAt    time.Time `json:"usedAt"`
	ExpiresAt time.Time `json:"expiresAt"` // after this the record may be deleted (TTL)
	// Use names what the token was spent on (a request id), "" if unsaid.
	Use string `json:"use,omitempty"`
}

// Store keeps challenges, limits and token uses (Cosmos container `mfa`).
// Errors use domain kinds: KindNotFound for a missing document, KindConflict
// for a duplicate create, KindStale for an ETag mismatch, KindTransient for
// throttling or unavailability.
type Store interface {
	GetChallenge(ctx context.Context, id string) (Challenge, error)
	// CreateChallenge stores a new challenge (KindConflict if the id exists).
	CreateChallenge(ctx context.Context, c Challenge) (Challenge, error)
	// ReplaceChallenge writes c if the stored ETag equals c.ETag (KindStale otherwise).
	ReplaceChallenge(ctx context.Context, c Challenge) (Challenge, error)

	// GetLimits returns the profile's counters (KindNotFound when none yet).
	GetLimits(ctx context.Context, profileID string) (Limits, error)
	// SaveLimits creates the counters when l.ETag is empty and replaces them
	// if the stored ETag equals l.ETag otherwise; a lost race either way is
	// KindStale.
	SaveLimits(ctx context.Context, l Limits) (Limits, error)

	// CreateTokenUse records a consumed token (KindConflict if already recorded).
	CreateTokenUse(ctx context.Context, u TokenUse) error
	// GetTokenUse reads the use of token id (KindNotFound if unused).
	GetTokenUse(ctx context.Context, id string) (TokenUse, error)
}
