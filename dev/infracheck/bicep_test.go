package infracheck

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func templates(t *testing.T) map[string]*File {
	t.Helper()
	m, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	if m["infra/main.bicep"] == nil {
		t.Fatal("infra/main.bicep not found")
	}
	return m
}

// Every template parses with no ERROR or MISSING node of the grammar.
func TestBicepFilesParse(t *testing.T) {
	m := templates(t)
	if len(m) < 10 {
		t.Errorf("only %d .bicep files found under infra/", len(m))
	}
	for p, f := range m {
		for _, e := range f.Errors {
			t.Errorf("%s:%s", p, e)
		}
		if len(f.Statements) == 0 {
			t.Errorf("%s: no statements", p)
		}
	}
}

// The check fails on broken files: each case is a small template with one
// mistake, which must be reported at its line; the valid case must pass.
func TestBicepParserCatchesSyntaxErrors(t *testing.T) {
	cases := []struct {
		name, src string
		line      int // where the grammar reports it; 0 = valid
	}{
		{"valid", "param name string\nresource sa 'Microsoft.Storage/storageAccounts@2024-01-01' = {\n  name: name\n  location: 'westeurope'\n  properties: { minimumTlsVersion: 'TLS1_2' }\n}\noutput id string = sa.id\n", 0},
		{"unclosed object", "param name string\nresource sa 'Microsoft.Storage/storageAccounts@2024-01-01' = {\n  name: name\n  properties: {\n    minimumTlsVersion: 'TLS1_2'\n}\n", 6},
		{"equals in object", "var x = {\n  a: 1\n  b = 2\n}\n", 3},
		{"output without value", "param a string\noutput x string =\n", 2},
		{"resource without type", "resource sa = {\n  name: 'x'\n}\n", 1},
		{"unterminated string", "var a = 'abc\nvar b = 1\n", 3},
		{"missing parenthesis", "var a = concat('a', 'b'\nvar b = 1\n", 1},
	}
	dir := t.TempDir()
	var paths []string
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".bicep")
		if err := os.WriteFile(p, []byte(c.src), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	files, err := Parse(paths...)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		f := files[i]
		if c.line == 0 {
			if len(f.Errors) != 0 {
				t.Errorf("%s: unexpected errors %v", c.name, f.Errors)
			}
			if r := f.Find("resource", "sa"); r == nil || r.Type != "Microsoft.Storage/storageAccounts@2024-01-01" {
				t.Errorf("%s: resource sa not read: %+v", c.name, f.Statements)
			}
			continue
		}
		if len(f.Errors) == 0 {
			t.Errorf("%s: broken template reported no error", c.name)
			continue
		}
		found := false
		for _, e := range f.Errors {
			if e.Line == c.line {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: errors %v, want one on line %d", c.name, f.Errors, c.line)
		}
	}
}

var outputRef = regexp.MustCompile(`\b([A-Za-z_]\w*)(?:\[[^\]]*\])?\.outputs\.([A-Za-z_]\w*)`)

// Every module call names an existing file, passes only parameters that
// file declares, passes every parameter it requires (no default), and reads
// only outputs it declares — what the Bicep compiler would check.
func TestModuleCallsMatchModules(t *testing.T) {
	m := templates(t)
	for p, f := range m {
		calls := map[string]string{} // symbol → module path
		for _, mod := range f.All("module") {
			target := path.Join(path.Dir(p), mod.Type)
			callee := m[target]
			if callee == nil {
				t.Errorf("%s: module %s: %s not found", p, mod.Name, target)
				continue
			}
			calls[mod.Name] = target
			body := Object(mod.Value)
			given := Object(body["params"])
			declared := map[string]bool{}
			for _, prm := range callee.All("param") {
				declared[prm.Name] = true
				_, passed := given[prm.Name]
				if !passed && !prm.Assigned {
					t.Errorf("%s: module %s does not pass required parameter %s of %s", p, mod.Name, prm.Name, target)
				}
			}
			for k := range given {
				if !declared[k] {
					t.Errorf("%s: module %s passes %s, which %s does not declare", p, mod.Name, k, target)
				}
			}
		}
		src, err := os.ReadFile(filepath.Join(Root(), p))
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range outputRef.FindAllStringSubmatch(string(src), -1) {
			target, ok := calls[ref[1]]
			if !ok {
				continue
			}
			if m[target].Find("output", ref[2]) == nil {
				t.Errorf("%s: %s.outputs.%s: %s has no output %s", p, ref[1], ref[2], target, ref[2])
			}
		}
	}
}

// Every parameter in main.parameters.json is declared by main.bicep, and
// every parameter main.bicep requires is given there.
func TestParametersFileMatchesMain(t *testing.T) {
	main := templates(t)["infra/main.bicep"]
	var pf struct {
		Parameters map[string]struct {
			Value any `json:"value"`
		} `json:"parameters"`
	}
	readJSON(t, filepath.Join(Root(), "infra", "main.parameters.json"), &pf)
	for name := range pf.Parameters {
		if main.Find("param", name) == nil {
			t.Errorf("main.parameters.json sets %s, which main.bicep does not declare", name)
		}
	}
	var missing []string
	for _, prm := range main.All("param") {
		if _, ok := pf.Parameters[prm.Name]; !ok && !prm.Assigned {
			missing = append(missing, prm.Name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("main.parameters.json lacks required parameters %v", missing)
	}
}

var describedParam = regexp.MustCompile(`^@description\('(Required|Optional)\. `)

// Every parameter says what it is, prefixed Required. or Optional. (the
// Azure Verified Modules convention), and a Required. one has no default
// while an Optional. one has one.
func TestParametersDescribed(t *testing.T) {
	for p, f := range templates(t) {
		for _, prm := range f.All("param") {
			kind := ""
			for _, d := range prm.Decorators {
				if m := describedParam.FindStringSubmatch(d); m != nil {
					kind = m[1]
				}
			}
			switch {
			case kind == "":
				t.Errorf("%s: param %s has no @description('Required. …') or ('Optional. …')", p, prm.Name)
			case kind == "Required" && prm.Assigned:
				t.Errorf("%s: param %s is described Required. but has a default", p, prm.Name)
			case kind == "Optional" && !prm.Assigned:
				t.Errorf("%s: param %s is described Optional. but has no default", p, prm.Name)
			}
		}
	}
}

// Bicep functions a symbol of the same name would hide in its file.
var builtinFunctions = []string{"environment", "resourceGroup", "subscription", "tenant", "deployment", "managementGroup", "reference", "resourceId", "guid", "uniqueString", "union", "concat", "range", "length", "json", "string", "int", "bool", "array", "items", "last", "first", "split", "join", "empty", "contains"}

// No declared symbol hides a built-in function.
func TestNoSymbolHidesBuiltin(t *testing.T) {
	builtin := map[string]bool{}
	for _, f := range builtinFunctions {
		builtin[f] = true
	}
	for p, f := range templates(t) {
		for _, s := range f.Statements {
			if builtin[s.Name] {
				t.Errorf("%s: %s %s hides the built-in function %s()", p, s.Kind, s.Name, s.Name)
			}
		}
	}
}
