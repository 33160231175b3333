// Package infracheck reads the Bicep templates of infra/ through the
// tree-sitter-bicep grammar (bicep.mjs, run by Node.js from the project's
// node_modules) so tests can check their syntax and compare what they
// provision with what the code uses: settings, queues, containers,
// connections, module parameters and resource property names.
//
// There is no Bicep compiler here: the checks are syntax (a real grammar)
// plus consistency, not type checking or ARM validation.
package infracheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// SyntaxError is one ERROR or MISSING node of the grammar; Line and Column
// are 1-based, Near is the start of the offending text.
type SyntaxError struct {
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Near   string `json:"near"`
}

func (e SyntaxError) String() string {
	return fmt.Sprintf("%d:%d: syntax error near %q", e.Line, e.Column, e.Near)
}

// Statement is one top-level declaration. Value is the body as JSON
// values (map[string]any, []any, string, float64, bool, nil); expressions
// the converter does not evaluate are map{"$expr": text}, conditions add
// "$if" to the object, loops are map{"$for": header, "$body": value}.
type Statement struct {
	Kind       string   `json:"kind"` // resource, module, param, var, output, func, type, targetScope, …
	Name       string   `json:"name"`
	Type       string   `json:"type"` // resource 'Type@apiVersion' or module path
	Decorators []string `json:"decorators"`
	Assigned   bool     `json:"assigned"` // has "= value" (a param: has a default)
	Value      any      `json:"value"`
}

// File is one parsed .bicep file; Path is as given to Parse.
type File struct {
	Path       string        `json:"file"`
	Errors     []SyntaxError `json:"errors"`
	Statements []Statement   `json:"statements"`
}

// Find returns the first statement of kind and name, or nil.
func (f *File) Find(kind, name string) *Statement {
	for i := range f.Statements {
		if f.Statements[i].Kind == kind && f.Statements[i].Name == name {
			return &f.Statements[i]
		}
	}
	return nil
}

// All returns every statement of kind.
func (f *File) All(kind string) []Statement {
	var out []Statement
	for _, s := range f.Statements {
		if s.Kind == kind {
			out = append(out, s)
		}
	}
	return out
}

// Root is the repository root (the directory holding go.mod), found from
// this source file so tests run from any package directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Parse runs bicep.mjs on paths (absolute or relative to Root) and returns
// one File per path, in order. Syntax errors are data (File.Errors), not an
// error; err reports a missing Node.js, missing npm packages (run npm ci)
// or unreadable files.
func Parse(paths ...string) ([]File, error) {
	root := Root()
	args := []string{filepath.Join(root, "dev", "infracheck", "bicep.mjs")}
	args = append(args, paths...)
	cmd := exec.Command("node", args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		err = nil // syntax errors: listed in the output
	}
	if err != nil {
		return nil, fmt.Errorf("infracheck: node bicep.mjs: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var out struct {
		Files []File `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("infracheck: bicep.mjs output: %w", err)
	}
	return out.Files, nil
}

// BicepFiles lists every .bicep file under infra/, relative to Root, sorted.
func BicepFiles() ([]string, error) {
	root := Root()
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "infra"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".bicep") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Templates parses every file of BicepFiles, keyed by path relative to Root.
func Templates() (map[string]*File, error) {
	paths, err := BicepFiles()
	if err != nil {
		return nil, err
	}
	files, err := Parse(paths...)
	if err != nil {
		return nil, err
	}
	m := map[string]*File{}
	for i := range files {
		m[files[i].Path] = &files[i]
	}
	return m, nil
}

// Expr returns the source text of an unevaluated expression value, and
// whether v is one.
func Expr(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["$expr"].(string)
	return s, ok
}

// LoopBody returns the body of a `[for …: body]` value, or v itself.
func LoopBody(v any) any {
	if m, ok := v.(map[string]any); ok {
		if b, ok := m["$body"]; ok {
			if _, loop := m["$for"]; loop {
				return b
			}
		}
	}
	return v
}

// Object returns v as an object without the converter's "$if" key, or nil.
func Object(v any) map[string]any {
	m, ok := LoopBody(v).(map[string]any)
	if !ok {
		return nil
	}
	if _, isExpr := m["$expr"]; isExpr {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		if k != "$if" {
			out[k] = x
		}
	}
	return out
}
