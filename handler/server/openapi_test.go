package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPI is the part of openapi.yaml the checks read.
type openAPI struct {
	Servers []struct {
		URL string `yaml:"url"`
	} `yaml:"servers"`
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Parameters map[string]oaParam `yaml:"parameters"`
	} `yaml:"components"`
}

type oaParam struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

type oaOperation struct {
	OperationID string               `yaml:"operationId"`
	Served      *bool                `yaml:"x-served"`
	Parameters  []oaParam            `yaml:"parameters"`
	Responses   map[string]yaml.Node `yaml:"responses"`
}

var oaMethods = []string{"get", "put", "post", "patch", "delete", "head", "options"}

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc openAPI
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return doc
}

// operation decodes one method of a path item, or returns nil.
func (d openAPI) operation(t *testing.T, path, method string) (*oaOperation, []oaParam) {
	t.Helper()
	item := d.Paths[path]
	if item == nil {
		return nil, nil
	}
	var shared []oaParam
	if n, ok := item["parameters"]; ok {
		if err := n.Decode(&shared); err != nil {
			t.Fatalf("%s parameters: %v", path, err)
		}
	}
	n, ok := item[method]
	if !ok {
		return nil, nil
	}
	var op oaOperation
	if err := n.Decode(&op); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var params []oaParam
	for _, p := range append(shared, op.Parameters...) {
		if p.Ref != "" {
			p = d.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
		}
		params = append(params, p)
	}
	return &op, params
}

// Success and redirect statuses by net/http constant name; a handler using
// another constant fails the test until it is added here.
var successStatus = map[string]int{
	"StatusOK": 200, "StatusCreated": 201, "StatusAccepted": 202, "StatusNoContent": 204,
	"StatusMovedPermanently": 301, "StatusFound": 302, "StatusSeeOther": 303, "StatusNotModified": 304,
	"StatusTemporaryRedirect": 307,
}

// handlerStatuses returns, per function or method of this package, the
// net/http status constants below 400 its body names, or the functions of
// this package it calls name (the statuses it answers with on success;
// errors go through writeError and errorTable).
func handlerStatuses(t *testing.T) map[string][]int {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	errorNames := map[string]bool{}
	for _, o := range errorTable {
		errorNames[httpStatusName(o.status)] = true
	}
	direct := map[string]map[int]bool{}
	calls := map[string][]string{}
	for _, fname := range files {
		if strings.HasSuffix(fname, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, fname, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := fn.Name.Name
			if direct[name] == nil {
				direct[name] = map[int]bool{}
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					switch f := x.Fun.(type) {
					case *ast.Ident:
						calls[name] = append(calls[name], f.Name)
					case *ast.SelectorExpr:
						calls[name] = append(calls[name], f.Sel.Name)
					}
				case *ast.SelectorExpr:
					pkg, ok := x.X.(*ast.Ident)
					c := x.Sel.Name
					if !ok || pkg.Name != "http" || !strings.HasPrefix(c, "Status") || c == "StatusText" {
						return true
					}
					if code, known := successStatus[c]; known {
						direct[name][code] = true
					} else if !errorNames[c] {
						t.Errorf("%s: %s uses http.%s; add it to successStatus", fname, name, c)
					}
				}
				return true
			})
		}
	}
	out := map[string][]int{}
	for name := range direct {
		seen, codes := map[string]bool{}, map[int]bool{}
		var visit func(string)
		visit = func(fn string) {
			if seen[fn] || direct[fn] == nil {
				return
			}
			seen[fn] = true
			for c := range direct[fn] {
				codes[c] = true
			}
			for _, callee := range calls[fn] {
				visit(callee)
			}
		}
		visit(name)
		for c := range codes {
			out[name] = append(out[name], c)
		}
		sort.Ints(out[name])
	}
	return out
}

// httpStatusName is the net/http constant name of an error status.
func httpStatusName(code int) string {
	names := map[int]string{400: "StatusBadRequest", 401: "StatusUnauthorized", 403: "StatusForbidden", 404: "StatusNotFound",
		409: "StatusConflict", 410: "StatusGone", 411: "StatusLengthRequired", 413: "StatusRequestEntityTooLarge",
		415: "StatusUnsupportedMediaType", 422: "StatusUnprocessableEntity", 429: "StatusTooManyRequests",
		500: "StatusInternalServerError", 503: "StatusServiceUnavailable"}
	return names[code]
}

func methodName(f any) string {
	n := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	n = n[strings.LastIndex(n, ".")+1:]
	return strings.TrimSuffix(n, "-fm")
}

var patternParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\.*\}`)

// openapi.yaml describes exactly the routes of the routing table: every
// route's path, method and path parameters, its success statuses (the
// http.Status… its handler names), error statuses only from errorTable
// (every one of which is documented somewhere), and a default error
// response on every operation. Operations with x-served: false are
// specified but must not be served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api" {
		t.Errorf("servers = %+v; want the one url /api (the host's route prefix)", doc.Servers)
	}
	statuses := handlerStatuses(t)
	served := map[string]bool{}
	for _, rt := range routes {
		path := strings.TrimPrefix(rt.Pattern, "/api")
		method := strings.ToLower(rt.Method)
		served[method+" "+path] = true
		op, params := doc.operation(t, path, method)
		if op == nil {
			t.Errorf("%s %s is served (%s) but not in openapi.yaml", rt.Method, rt.Pattern, rt.Function)
			continue
		}
		if op.Served != nil && !*op.Served {
			t.Errorf("%s %s is served; remove x-served: false from openapi.yaml", rt.Method, path)
		}
		inPath := map[string]bool{}
		for _, p := range params {
			if p.In == "path" {
				inPath[p.Name] = true
			}
		}
		for _, m := range patternParam.FindAllStringSubmatch(path, -1) {
			if !inPath[m[1]] {
				t.Errorf("%s %s: path parameter %s not declared", rt.Method, path, m[1])
			}
			delete(inPath, m[1])
		}
		for p := range inPath {
			t.Errorf("%s %s: declares path parameter %s the route lacks", rt.Method, path, p)
		}
		h := methodName(rt.Handle)
		want := statuses[h]
		if len(want) == 0 {
			t.Errorf("%s %s: handler %s names no success status", rt.Method, path, h)
		}
		var got []int
		for code := range op.Responses {
			if n, err := strconv.Atoi(code); err == nil && n < 400 {
				got = append(got, n)
			}
		}
		sort.Ints(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: openapi.yaml success statuses %v, handler %s answers %v", rt.Method, path, got, h, want)
		}
	}
	errorStatuses := map[int]bool{}
	for _, o := range errorTable {
		errorStatuses[o.status] = true
	}
	documented := map[int]bool{}
	for path, item := range doc.Paths {
		for _, method := range oaMethods {
			if _, ok := item[method]; !ok {
				continue
			}
			op, _ := doc.operation(t, path, method)
			unserved := op.Served != nil && !*op.Served
			if !served[method+" "+path] && !unserved {
				t.Errorf("openapi.yaml describes %s %s, which no route serves (mark it x-served: false if it is only specified)", strings.ToUpper(method), path)
			}
			if _, ok := op.Responses["default"]; !ok {
				t.Errorf("%s %s: no default (error) response", method, path)
			}
			for code := range op.Responses {
				n, err := strconv.Atoi(code)
				if err != nil || n < 400 {
					continue
				}
				if !errorStatuses[n] {
					t.Errorf("%s %s: documents %d, which no error kind maps to", method, path, n)
				}
				documented[n] = true
			}
		}
	}
	for s := range errorStatuses {
		if !documented[s] {
			t.Errorf("error status %d (errorTable) is documented on no operation", s)
		}
	}
}
