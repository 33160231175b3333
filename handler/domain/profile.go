package domain

import (
	"context"
	"time"
)

// Profile is a person's profile as stored in the profiles container (pk /id).
type Profile struct {
	ID            string    `json:"id"`
	Owner         string    `json:"owner"` // subject (sub claim) of the owning user
	FirstName     string    `json:"firstName"`
	LastName      string    `json:"lastName"`
	MaritalStatus string    `json:"maritalStatus"`
	Description   string    `json:"description"`
	Phone         string    `json:"phone"` // E.164
	Version       int64     `json:"version"`
	UpdatedAt     time.Time `json:"updatedAt"`
	// LastRequestID is the change request applied last; it makes applying
	// the same request twice a no-op.
	LastRequestID string `json:"lastRequestId,omitempty"`
	// ETag is the store's concurrency token; never serialized to clients.
	ETag string `json:"-"`
}

// ProfileReader is the read side of ProfileStore.
type ProfileReader interface {
	GetProfile(ctx context.Context, id string) (Profile, error)
}

// ProfileStore is the port for profiles. Implementations translate their
// errors to domain kinds: a missing profile is KindNotFound, a duplicate
// create KindConflict, an ETag mismatch KindStale, throttling or
// unavailability KindTransient.
type ProfileStore interface {
	GetProfile(ctx context.Context, id string) (Profile, error)
	// CreateProfile stores a new profile; KindConflict if the id exists.
	CreateProfile(ctx context.Context, p Profile) (Profile, error)
	// ReplaceProfile writes p if the stored ETag still equals p.ETag
	// (KindStale otherwise) and returns it with the new ETag.
	ReplaceProfile(ctx context.Context, p Profile) (Profile, error)
}

// OwnedProfile loads the profile id from profiles and checks that p owns
// it: KindInvalid for an id ValidateProfileID refuses, the store's
// KindNotFound for an unknown one, KindForbidden for another user's.
func OwnedProfile(ctx context.Context, profiles ProfileReader, p Principal, id string) (Profile, error) {
	if err := ValidateProfileID(id); err != nil {
		return Profile{}, err
	}
	prof, err := profiles.GetProfile(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	if prof.Owner != p.Subject {
		return Profile{}, E(KindForbidden, "profile %s belongs to another user", id)
	}
	return prof, nil
}

// Principal is the authenticated caller, from a validated bearer token.
type Principal struct {
	Subject string
	Roles   []string
	Groups  []string
}

// RoleProfileApprover is the app role that grants approval rights.
const RoleProfileApprover = "ProfileApprover"

// HasRole reports whether the principal holds role.
func (p Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// InGroup reports whether the principal belongs to group.
func (p Principal) InGroup(group string) bool {
	for _, g := range p.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// ValidateProfileID checks an internal profile id from a URL: 1–64
// characters of letters, digits, '-' or '_'.
func ValidateProfileID(id string) error {
	if len(id) == 0 || len(id) > 64 {
		return E(KindInvalid, "profile id must be 1–64 characters")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return E(KindInvalid, "profile id may hold only letters, digits, '-' and '_'")
		}
	}
	return nil
}
