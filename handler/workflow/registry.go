package workflow

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Registry holds the loaded versions of definitions, keyed by
// Definition.Version, so that an instance always continues on the version
// it started on: Instance.Deliver given a definition of another version
// looks the instance's version up in the registry that definition was
// added to. A Registry is safe for concurrent use.
type Registry struct {
	mu       sync.RWMutex
	versions map[string]*Definition
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{versions: map[string]*Definition{}} }

// Add registers def (and links it to r). A version already present keeps
// its first definition; Add returns the registered one.
func (r *Registry) Add(def *Definition) *Definition {
	r.mu.Lock()
	defer r.mu.Unlock()
	if have, ok := r.versions[def.Version]; ok {
		return have
	}
	def.registry = r
	r.versions[def.Version] = def
	return def
}

// Lookup returns the definition of version, or nil.
func (r *Registry) Lookup(version string) *Definition {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.versions[version]
}

// Versions lists the registered versions, sorted.
func (r *Registry) Versions() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.versions))
	for v := range r.versions {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// LoadFile parses path and registers it.
func (r *Registry) LoadFile(path string) (*Definition, error) {
	def, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	return r.Add(def), nil
}

// LoadArchive registers every *.bpmn file of dir, the earlier versions of
// the definitions kept so that running instances can finish on them. Each
// file must be named after its version ("sha256-<32 hex>.bpmn", see
// ArchiveName), so a file edited in the archive is refused. A missing
// directory is an empty archive.
func (r *Registry) LoadArchive(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.bpmn"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		if _, err := os.Stat(dir); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	for _, f := range files {
		def, err := ParseFile(f)
		if err != nil {
			return err
		}
		if want := ArchiveName(def); filepath.Base(f) != want {
			return fmt.Errorf("%s: content is version %s; an archived definition must be named %s", f, def.Version, want)
		}
		r.Add(def)
	}
	return nil
}

// ArchiveName is the file name under which def is kept in an archive.
func ArchiveName(def *Definition) string {
	return "sha256-" + def.Version[len("sha256:"):] + ".bpmn"
}
