// Package memory holds in-memory implementations of the domain ports, for
// fast unit tests and benchmarks. They honour the same error kinds and ETag
// semantics as the Cosmos DB adapters.
package memory

import (
	"context"
	"strconv"
	"sync"

	"github.com/profileflow/profileflow/handler/domain"
)

// Profiles is an in-memory domain.ProfileStore.
type Profiles struct {
	mu  sync.RWMutex
	m   map[string]domain.Profile
	seq int64
}

// NewProfiles returns an empty store.
func NewProfiles() *Profiles { return &Profiles{m: map[string]domain.Profile{}} }

func (s *Profiles) etag() string { s.seq++; return strconv.FormatInt(s.seq, 10) }

func (s *Profiles) GetProfile(_ context.Context, id string) (domain.Profile, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.m[id]
	if !ok {
		return domain.Profile{}, domain.E(domain.KindNotFound, "profile %s not found", id)
	}
	return p, nil
}

func (s *Profiles) CreateProfile(_ context.Context, p domain.Profile) (domain.Profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[p.ID]; ok {
		return domain.Profile{}, domain.E(domain.KindConflict, "profile %s already exists", p.ID)
	}
	p.ETag = s.etag()
	s.m[p.ID] = p
	return p, nil
}

func (s *Profiles) ReplaceProfile(_ context.Context, p domain.Profile) (domain.Profile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.m[p.ID]
	if !ok {
		return domain.Profile{}, domain.E(domain.KindNotFound, "profile %s not found", p.ID)
	}
	if cur.ETag != p.ETag {
		return domain.Profile{}, domain.E(domain.KindStale, "profile %s was changed concurrently", p.ID)
	}
	p.ETag = s.etag()
	s.m[p.ID] = p
	return p, nil
}
