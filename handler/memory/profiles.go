// Package memory holds in-memory implementations of the domain ports, for
// fast unit tests and benchmarks. They honour the same error kinds and ETag
// semantics as the Cosmos DB adapters.
package memory

import (
	"context"

	"github.com/profileflow/profileflow/handler/domain"
)

// Profiles is an in-memory domain.ProfileStore.
type Profiles struct{ d *Docs[domain.Profile] }

// NewProfiles returns an empty store.
func NewProfiles() *Profiles { return &Profiles{d: NewDocs[domain.Profile]("profile")} }

var _ domain.ProfileStore = (*Profiles)(nil)

func (s *Profiles) GetProfile(ctx context.Context, id string) (domain.Profile, error) {
	p, etag, err := s.d.Get(ctx, id)
	p.ETag = etag
	return p, err
}

func (s *Profiles) CreateProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	etag, err := s.d.Create(ctx, p.ID, p)
	if err != nil {
		return domain.Profile{}, err
	}
	p.ETag = etag
	return p, nil
}

func (s *Profiles) ReplaceProfile(ctx context.Context, p domain.Profile) (domain.Profile, error) {
	etag, err := s.d.Replace(ctx, p.ID, p, p.ETag)
	if err != nil {
		return domain.Profile{}, err
	}
	p.ETag = etag
	return p, nil
}
