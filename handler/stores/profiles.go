package stores

import (
	"context"

	"github.com/profileflow/profileflow/handler/docstore"
	"github.com/profileflow/profileflow/handler/domain"
)

// Profiles is the domain.ProfileStore on a profiles container. The stored
// document is the domain.Profile JSON (id, owner, firstName, lastName,
// maritalStatus, description, phone, version, updatedAt, …); the profile's
// ETag is the document's.
type Profiles struct{ docs docstore.Docs }

var _ domain.ProfileStore = (*Profiles)(nil)

// NewProfiles returns the profile store on docs.
func NewProfiles(docs docstore.Docs) *Profiles { return &Profiles{docs: docs} }

var profileMsgs = map[domain.Kind]string{
	domain.KindNotFound:  "profile not found",
	domain.KindConflict:  "profile already exists",
	domain.KindStale:     "profile was changed by another request",
	domain.KindTransient: "profiles are unavailable; retry later",
}

// GetProfile returns the profile id: KindNotFound "profile not found" if
// there is none (also for ids no document can have).
func (s *Profiles) GetProfile(ctx context.Context, id string) (domain.Profile, error) {
	if docstore.CheckID(id) != nil {
		return domain.Profile{}, domain.E(domain.KindNotFound, "profile not found")
	}
	var p domain.Profile
	etag, err := s.docs.Read(ctx, id, &p)
	if err != nil {
		return domain.Profile{}, docstore.Relabel(err, profileMsgs)
	}
	p.ETag = etag
	return p, nil
}

// CreateProfile stores a new profile; KindConflict if the id exists.
func (s *Profiles) CreateProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	etag, err := s.docs.Create(ctx, p.ID, p)
	if err != nil {
		return domain.Profile{}, docstore.Relabel(err, profileMsgs)
	}
	p.ETag = etag
	return p, nil
}

// ReplaceProfile writes p if the stored ETag still equals p.ETag (KindStale
// otherwise; a p without ETag is KindInternal) and returns it with the new
// ETag. A missing profile is KindNotFound.
func (s *Profiles) ReplaceProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	if p.ETag == "" {
		return domain.Profile{}, domain.E(domain.KindInternal, "profile replaced without an ETag")
	}
	etag, err := s.docs.Replace(ctx, p.ID, p, p.ETag)
	if err != nil {
		return domain.Profile{}, docstore.Relabel(err, profileMsgs)
	}
	p.ETag = etag
	return p, nil
}
