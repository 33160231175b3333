package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
)

// XML namespaces the parser understands.
const (
	NSBPMN     = "http://www.omg.org/spec/BPMN/20100524/MODEL"
	NSPF       = "http://profileflow.dev/bpmn"
	nsCamunda  = "http://camunda.org/schema/1.0/bpmn"
	nsZeebe    = "http://camunda.org/schema/zeebe/1.0"
	nsXSI      = "http://www.w3.org/2001/XMLSchema-instance"
	nsBPMNDI   = "http://www.omg.org/spec/BPMN/20100524/DI"
	nsDC       = "http://www.omg.org/spec/DD/20100524/DC"
	nsDI       = "http://www.omg.org/spec/DD/20100524/DI"
	maxBPMN    = 4 << 20 // bytes
	maxDepth   = 64
	maxElement = 10000
)

// LoadError is a definition that cannot be loaded: it names the offending
// element's id, its type, the attribute (or extension element) concerned
// when there is one, and its line (1-based; 0 only for errors about the
// file as a whole, such as its size).
type LoadError struct {
	Line int
	ID   string
	Type string
	Attr string
	Msg  string
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("bpmn")
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	if e.Type != "" {
		fmt.Fprintf(&b, ": %s", e.Type)
	}
	if e.ID != "" {
		fmt.Fprintf(&b, " %q", e.ID)
	}
	if e.Attr != "" {
		fmt.Fprintf(&b, " attribute %s", e.Attr)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ParseFile loads a definition from a .bpmn file.
func ParseFile(path string) (*Definition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	def, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return def, nil
}

// Parse loads and validates a BPMN 2.0 XML definition in three stages: the
// XML tree (xmltree.go: size, depth and element limits, line numbers), the
// model (build.go: the supported BPMN subset, attributes and expressions)
// and the graph rules (validate.go). Errors are *LoadError (or an I/O error
// from r).
func Parse(r io.Reader) (*Definition, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBPMN+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBPMN {
		return nil, &LoadError{Msg: fmt.Sprintf("definition larger than %d bytes", maxBPMN)}
	}
	root, err := readTree(data)
	if err != nil {
		return nil, err
	}
	def, err := build(root)
	if err != nil {
		return nil, err
	}
	def.Version = versionOf(data)
	return def, nil
}

// versionOf is a definition's content version: "sha256:" and the first 32
// hex digits of the SHA-256 of its bytes.
func versionOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:16])
}
