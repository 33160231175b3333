package memory

import (
	"context"
	"strconv"
	"sync"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// UploadStore is an in-memory upload.SessionStore for tests.
type UploadStore struct {
	mu       sync.Mutex
	sessions map[string]upload.Session
	version  int
}

var _ upload.SessionStore = (*UploadStore)(nil)

// NewUploadStore returns an empty store.
func NewUploadStore() *UploadStore {
	return &UploadStore{sessions: map[string]upload.Session{}}
}

// CreateSession stores s; KindConflict if its id exists.
func (m *UploadStore) CreateSession(_ context.Context, s upload.Session) (upload.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.ID]; ok {
		return upload.Session{}, domain.E(domain.KindConflict, "upload %s already exists", s.ID)
	}
	m.version++
	s.ETag = strconv.Itoa(m.version)
	s.Files = append([]upload.File(nil), s.Files...)
	m.sessions[s.ID] = s
	return s, nil
}

// GetSession returns the session with id; KindNotFound if none.
func (m *UploadStore) GetSession(_ context.Context, id string) (upload.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return upload.Session{}, domain.E(domain.KindNotFound, "upload %s not found", id)
	}
	s.Files = append([]upload.File(nil), s.Files...)
	return s, nil
}
