package cosmosdb

import (
	"context"

	"github.com/profileflow/profileflow/handler/domain"
)

// ProfileStore implements domain.ProfileStore on the profiles container.
// The stored document is the domain.Profile JSON (id, owner, firstName,
// lastName, maritalStatus, description, phone, version, updatedAt); the
// profile's ETag is the document's.
type ProfileStore struct {
	c *Container
}

var _ domain.ProfileStore = (*ProfileStore)(nil)

// NewProfileStore returns a profile store on c (the profiles container).
func NewProfileStore(c *Container) *ProfileStore { return &ProfileStore{c: c} }

var profileMsgs = map[domain.Kind]string{
	domain.KindNotFound:  "profile not found",
	domain.KindConflict:  "profile already exists",
	domain.KindStale:     "profile was changed by another request",
	domain.KindTransient: "profiles are unavailable; retry later",
}

// GetProfile returns the profile id; KindNotFound if there is none.
func (s *ProfileStore) GetProfile(ctx context.Context, id string) (domain.Profile, error) {
	if checkID(id) != nil {
		// No profile can have such an id.
		return domain.Profile{}, domain.E(domain.KindNotFound, "profile not found")
	}
	var p domain.Profile
	etag, err := s.c.Read(ctx, id, &p)
	if err != nil {
		return domain.Profile{}, relabel(err, profileMsgs)
	}
	p.ETag = etag
	return p, nil
}

// CreateProfile stores a new profile; KindConflict if the id exists.
func (s *ProfileStore) CreateProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	etag, err := s.c.Create(ctx, p.ID, p)
	if err != nil {
		return domain.Profile{}, relabel(err, profileMsgs)
	}
	p.ETag = etag
	return p, nil
}

// ReplaceProfile writes p if the stored ETag still equals p.ETag (KindStale
// otherwise) and returns it with the new ETag.
func (s *ProfileStore) ReplaceProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	if p.ETag == "" {
		return domain.Profile{}, domain.E(domain.KindInternal, "profile replaced without an ETag")
	}
	etag, err := s.c.Replace(ctx, p.ID, p, p.ETag)
	if err != nil {
		return domain.Profile{}, relabel(err, profileMsgs)
	}
	p.ETag = etag
	return p, nil
}
