// Package host is the profileflow development host: it plays the Azure
// Functions host's side of the custom-handler contract for local runs and
// end-to-end tests, because Functions Core Tools cannot be installed here.
//
// It reads an app folder laid out like build/app (host.json, the handler
// binary, one folder per function with function.json), starts the handler the
// way the real host does, forwards declared HTTP routes to it, fires timer
// triggers and serves a few loopback-only /dev endpoints. Other trigger kinds
// plug in through TriggerSource. It is never deployed.
package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Trigger binding types the development host understands.
const (
	TypeHTTPTrigger       = "httpTrigger"
	TypeTimerTrigger      = "timerTrigger"
	TypeBlobTrigger       = "blobTrigger"
	TypeServiceBusTrigger = "serviceBusTrigger"
)

// directions allowed per known binding type.
var bindingTypes = map[string]struct {
	trigger bool
	in, out bool
	// extension is true when the binding lives in the extension bundle.
	extension bool
}{
	TypeHTTPTrigger:       {trigger: true, in: true},
	TypeTimerTrigger:      {trigger: true, in: true},
	TypeBlobTrigger:       {trigger: true, in: true, extension: true},
	TypeServiceBusTrigger: {trigger: true, in: true, extension: true},
	"http":                {out: true},
	"serviceBus":          {out: true, extension: true},
	"blob":                {in: true, out: true, extension: true},
	"queue":               {out: true, extension: true},
	"cosmosDB":            {in: true, out: true, extension: true},
}

var httpMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"}

var (
	bindingNameRE  = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]{0,127}|\$return)$`)
	functionNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_\-]{0,127}$`)
)

// ConfigError is a refusal to load a malformed host.json or function.json.
// It names the file and, where it can, the field.
type ConfigError struct {
	File  string // e.g. build/app/Profile/function.json
	Field string // e.g. bindings[0].type; empty for whole-file errors
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Field + ": " + e.Msg
}

// App is a loaded, validated function app folder.
type App struct {
	Dir       string      // the folder as given to LoadApp
	Host      HostConfig  // host.json
	Functions []*Function // enabled functions, sorted by name
}

// Function returns the function with this name (case-insensitive), or nil.
func (a *App) Function(name string) *Function {
	for _, f := range a.Functions {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

// FunctionsByTrigger returns the functions whose trigger has this type, e.g.
// TypeBlobTrigger; trigger sources use it to find their work.
func (a *App) FunctionsByTrigger(triggerType string) []*Function {
	var out []*Function
	for _, f := range a.Functions {
		if f.Trigger.Type == triggerType {
			out = append(out, f)
		}
	}
	return out
}

// HostConfig is the part of host.json the development host uses.
type HostConfig struct {
	Version          string
	ExecutablePath   string   // customHandler.description.defaultExecutablePath
	Arguments        []string // customHandler.description.arguments
	WorkingDirectory string   // customHandler.description.workingDirectory ("" = app dir)
	ForwardHTTP      bool     // customHandler.enableForwardingHttpRequest
	ProxyHTTP        bool     // customHandler.enableProxyingHttpRequest
	RoutePrefix      string   // extensions.http.routePrefix, default "api"
	BundleID         string   // extensionBundle.id ("" when absent)
	BundleVersion    string   // extensionBundle.version
	// Extensions holds extensions.<name> sections verbatim (e.g. "serviceBus",
	// "blobs") for trigger sources that want their settings.
	Extensions map[string]json.RawMessage
}

// Binding is one entry of function.json "bindings".
type Binding struct {
	Type      string         // e.g. httpTrigger, http, serviceBus
	Direction string         // "in" or "out"
	Name      string         // binding name, case preserved
	Props     map[string]any // the whole JSON object, for type-specific fields
}

// Str returns a string property looked up case-insensitively ("" if absent).
func (b Binding) Str(key string) string {
	v, _ := lookup(b.Props, key)
	s, _ := v.(string)
	return s
}

// Function is one function folder.
type Function struct {
	Name     string    // folder name
	File     string    // path of its function.json
	Bindings []Binding // in file order
	Trigger  Binding   // the one trigger binding

	// httpTrigger
	Route   *Route   // parsed route template
	Methods []string // upper-case; empty = all methods

	// timerTrigger
	Schedule     string // as written (may be %Setting%)
	RunOnStartup bool
	UseMonitor   bool // default true
}

// HTTPOnly reports whether the function has exactly one input binding (an
// httpTrigger) and exactly one output binding (http): only such functions are
// forwarded when enableForwardingHttpRequest/enableProxyingHttpRequest is on.
func (f *Function) HTTPOnly() bool {
	var ins, outs int
	var httpOut bool
	for _, b := range f.Bindings {
		if b.Direction == "in" {
			ins++
		} else {
			outs++
			httpOut = b.Type == "http"
		}
	}
	return f.Trigger.Type == TypeHTTPTrigger && ins == 1 && outs == 1 && httpOut
}

// HTTPOutput returns the http output binding, if any.
func (f *Function) HTTPOutput() (Binding, bool) {
	for _, b := range f.Bindings {
		if b.Type == "http" && b.Direction == "out" {
			return b, true
		}
	}
	return Binding{}, false
}

// AllowsMethod reports whether the HTTP method is declared (no methods = all).
func (f *Function) AllowsMethod(m string) bool {
	return len(f.Methods) == 0 || slices.Contains(f.Methods, strings.ToUpper(m))
}

// LoadApp reads dir/host.json and every dir/*/function.json and validates
// them strictly. All malformed files are reported (errors joined); each error
// is a *ConfigError naming file and field.
func LoadApp(dir string) (*App, error) {
	hostFile := filepath.Join(dir, "host.json")
	data, err := os.ReadFile(hostFile)
	if err != nil {
		return nil, &ConfigError{File: hostFile, Msg: fmt.Sprintf("cannot read: %v", err)}
	}
	hc, err := parseHostJSON(hostFile, data)
	if err != nil {
		return nil, err
	}
	app := &App{Dir: dir, Host: *hc}

	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read app dir: %w", err)
	}
	var errs []error
	needBundle := ""
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		file := filepath.Join(dir, e.Name(), "function.json")
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			continue // not a function folder
		}
		if err != nil {
			errs = append(errs, &ConfigError{File: file, Msg: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		fn, err := ParseFunction(e.Name(), file, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if fn == nil { // disabled
			continue
		}
		for i, b := range fn.Bindings {
			if bindingTypes[b.Type].extension && needBundle == "" {
				needBundle = fmt.Sprintf("%s (bindings[%d] of %s)", b.Type, i, file)
			}
		}
		app.Functions = append(app.Functions, fn)
	}
	if needBundle != "" && hc.BundleID == "" {
		errs = append(errs, &ConfigError{File: hostFile, Field: "extensionBundle",
			Msg: "required: binding type " + needBundle + " comes from the extension bundle"})
	}
	if err := checkRouteConflicts(app); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(app.Functions, func(i, j int) bool { return app.Functions[i].Name < app.Functions[j].Name })
	return app, nil
}

// checkRouteConflicts refuses two functions with the same route template and
// overlapping methods (ASP.NET routing would report an ambiguous match).
func checkRouteConflicts(app *App) error {
	seen := map[string]*Function{}
	var errs []error
	for _, f := range app.Functions {
		if f.Route == nil {
			continue
		}
		key := strings.ToLower(f.Route.Canonical())
		if g, ok := seen[key]; ok && methodsOverlap(f.Methods, g.Methods) {
			errs = append(errs, &ConfigError{File: f.File, Field: "bindings[].route",
				Msg: fmt.Sprintf("route %q with the same methods is already declared by function %s", f.Route.Template, g.Name)})
			continue
		}
		seen[key] = f
	}
	return errors.Join(errs...)
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return true
		}
	}
	return false
}

// parseHostJSON validates host.json.
func parseHostJSON(file string, data []byte) (*HostConfig, error) {
	root, err := decodeObject(file, data)
	if err != nil {
		return nil, err
	}
	o := obj{file: file, m: root}
	hc := &HostConfig{RoutePrefix: "api"}
	if hc.Version, err = o.str("version", true); err != nil {
		return nil, err
	}
	if hc.Version != "2.0" {
		return nil, o.errf("version", "must be \"2.0\", got %q", hc.Version)
	}
	ch, _, err := o.object("customHandler", true)
	if err != nil {
		return nil, err
	}
	desc, _, err := ch.object("description", true)
	if err != nil {
		return nil, err
	}
	if hc.ExecutablePath, err = desc.str("defaultExecutablePath", true); err != nil {
		return nil, err
	}
	if hc.WorkingDirectory, err = desc.str("workingDirectory", false); err != nil {
		return nil, err
	}
	if hc.Arguments, err = desc.strings("arguments"); err != nil {
		return nil, err
	}
	if hc.ForwardHTTP, _, err = ch.boolean("enableForwardingHttpRequest"); err != nil {
		return nil, err
	}
	if hc.ProxyHTTP, _, err = ch.boolean("enableProxyingHttpRequest"); err != nil {
		return nil, err
	}
	if b, ok, err := o.object("extensionBundle", false); err != nil {
		return nil, err
	} else if ok {
		if hc.BundleID, err = b.str("id", true); err != nil {
			return nil, err
		}
		if hc.BundleVersion, err = b.str("version", true); err != nil {
			return nil, err
		}
	}
	ext, ok, err := o.object("extensions", false)
	if err != nil {
		return nil, err
	}
	if ok {
		hc.Extensions = map[string]json.RawMessage{}
		for k, v := range ext.m {
			raw, _ := json.Marshal(v)
			hc.Extensions[k] = raw
		}
		if h, ok, err := ext.object("http", false); err != nil {
			return nil, err
		} else if ok {
			if p, present, err := h.strPresent("routePrefix"); err != nil {
				return nil, err
			} else if present {
				hc.RoutePrefix = strings.Trim(p, "/")
				if strings.ContainsAny(hc.RoutePrefix, "{}?*") {
					return nil, h.errf("routePrefix", "must be a plain path, got %q", p)
				}
			}
		}
	}
	return hc, nil
}

// ParseFunction validates one function.json. It returns (nil, nil) for a
// function marked "disabled": true.
func ParseFunction(name, file string, data []byte) (*Function, error) {
	if !functionNameRE.MatchString(name) {
		return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid function name %q (folder name must start with a letter; letters, digits, _ and - only)", name)}
	}
	root, err := decodeObject(file, data)
	if err != nil {
		return nil, err
	}
	o := obj{file: file, m: root}
	if disabled, _, err := o.boolean("disabled"); err != nil {
		return nil, err
	} else if disabled {
		return nil, nil
	}
	v, ok := lookup(root, "bindings")
	if !ok {
		return nil, o.errf("bindings", "required")
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, o.errf("bindings", "must be an array")
	}
	fn := &Function{Name: name, File: file, UseMonitor: true}
	names := map[string]int{}
	trigger := -1
	for i, raw := range arr {
		field := fmt.Sprintf("bindings[%d]", i)
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, o.errf(field, "must be an object")
		}
		bo := obj{file: file, path: field, m: m}
		b := Binding{Props: m}
		if b.Type, err = bo.str("type", true); err != nil {
			return nil, err
		}
		kind, known := bindingTypes[b.Type]
		if !known {
			what := "binding"
			if strings.Contains(strings.ToLower(b.Type), "trig") {
				what = "trigger"
			}
			return nil, bo.errf("type", "unknown %s type %q", what, b.Type)
		}
		dir, err := bo.str("direction", true)
		if err != nil {
			return nil, err
		}
		b.Direction = strings.ToLower(dir)
		if (b.Direction != "in" || !kind.in) && (b.Direction != "out" || !kind.out) {
			return nil, bo.errf("direction", "%q is not valid for a %s binding", dir, b.Type)
		}
		if b.Name, err = bo.str("name", true); err != nil {
			return nil, err
		}
		if !bindingNameRE.MatchString(b.Name) {
			return nil, bo.errf("name", "invalid binding name %q", b.Name)
		}
		if j, dup := names[strings.ToLower(b.Name)]; dup {
			return nil, bo.errf("name", "duplicate binding name %q (also bindings[%d])", b.Name, j)
		}
		names[strings.ToLower(b.Name)] = i
		if kind.trigger {
			if trigger >= 0 {
				return nil, bo.errf("type", "second trigger %q: a function has exactly one trigger (bindings[%d])", b.Type, trigger)
			}
			trigger = i
			fn.Trigger = b
		}
		if err := validateBinding(fn, bo, b); err != nil {
			return nil, err
		}
		fn.Bindings = append(fn.Bindings, b)
	}
	if trigger < 0 {
		return nil, o.errf("bindings", "no trigger binding (need one of httpTrigger, timerTrigger, blobTrigger, serviceBusTrigger)")
	}
	return fn, nil
}

// validateBinding checks the type-specific fields of one binding.
func validateBinding(fn *Function, bo obj, b Binding) error {
	var err error
	switch b.Type {
	case TypeHTTPTrigger:
		route, err := bo.str("route", true)
		if err != nil {
			return err
		}
		if fn.Route, err = ParseRoute(route); err != nil {
			return bo.errf("route", "%v", err)
		}
		lower := strings.ToLower(strings.Trim(route, "/"))
		if lower == "admin" || lower == "runtime" || strings.HasPrefix(lower, "admin/") || strings.HasPrefix(lower, "runtime/") {
			return bo.errf("route", "routes starting with admin or runtime are reserved by the host")
		}
		methods, err := bo.strings("methods")
		if err != nil {
			return err
		}
		for i, m := range methods {
			u := strings.ToUpper(m)
			if !slices.Contains(httpMethods, u) {
				return bo.errf(fmt.Sprintf("methods[%d]", i), "unknown HTTP method %q", m)
			}
			if !slices.Contains(fn.Methods, u) {
				fn.Methods = append(fn.Methods, u)
			}
		}
		if lvl, err := bo.str("authLevel", false); err != nil {
			return err
		} else if lvl != "" && !slices.Contains([]string{"anonymous", "function", "admin", "system", "user"}, strings.ToLower(lvl)) {
			return bo.errf("authLevel", "unknown auth level %q", lvl)
		}
	case TypeTimerTrigger:
		if fn.Schedule, err = bo.str("schedule", true); err != nil {
			return err
		}
		if !strings.Contains(fn.Schedule, "%") { // %Setting% is resolved at start
			if _, err := ParseSchedule(fn.Schedule); err != nil {
				return bo.errf("schedule", "%v", err)
			}
		}
		if fn.RunOnStartup, _, err = bo.boolean("runOnStartup"); err != nil {
			return err
		}
		if v, ok, err := bo.boolean("useMonitor"); err != nil {
			return err
		} else if ok {
			fn.UseMonitor = v
		}
	case TypeBlobTrigger, "blob":
		_, err = bo.str("path", true)
	case TypeServiceBusTrigger:
		q, err := bo.str("queueName", false)
		if err != nil {
			return err
		}
		t, err := bo.str("topicName", false)
		if err != nil {
			return err
		}
		switch {
		case q != "" && t != "":
			return bo.errf("queueName", "set queueName or topicName, not both")
		case q == "" && t == "":
			return bo.errf("queueName", "required (or topicName and subscriptionName)")
		case t != "":
			_, err = bo.str("subscriptionName", true)
		}
		return err
	case "serviceBus":
		q, err := bo.str("queueName", false)
		if err != nil {
			return err
		}
		t, err := bo.str("topicName", false)
		if err != nil {
			return err
		}
		if q == "" && t == "" {
			return bo.errf("queueName", "required (or topicName)")
		}
	case "queue":
		_, err = bo.str("queueName", true)
	case "cosmosDB":
		if _, err = bo.str("databaseName", true); err != nil {
			return err
		}
		_, err = bo.str("containerName", true)
	}
	return err
}

// decodeObject parses a JSON object, reporting syntax errors with line and
// column.
func decodeObject(file string, data []byte) (map[string]any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM, as .NET accepts
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, se.Offset)
			return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, se)}
		}
		return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid JSON: %v", err)}
	}
	if dec.More() {
		line, col := lineCol(data, dec.InputOffset())
		return nil, &ConfigError{File: file, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: data after the top-level value", line, col)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &ConfigError{File: file, Msg: "must be a JSON object"}
	}
	return m, nil
}

func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col = 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// lookup finds key in m: exact match first, then case-insensitive (the host
// binds host.json and function.json case-insensitively).
func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// obj is a JSON object with its location, for field-naming errors.
type obj struct {
	file, path string
	m          map[string]any
}

func (o obj) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o obj) errf(key, format string, args ...any) error {
	return &ConfigError{File: o.file, Field: o.field(key), Msg: fmt.Sprintf(format, args...)}
}

func (o obj) strPresent(key string) (string, bool, error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", true, o.errf(key, "must be a string")
	}
	return s, true, nil
}

// str returns a string field; required means present and non-blank.
func (o obj) str(key string, required bool) (string, error) {
	s, _, err := o.strPresent(key)
	if err != nil {
		return "", err
	}
	if required && strings.TrimSpace(s) == "" {
		return "", o.errf(key, "required")
	}
	return s, nil
}

func (o obj) boolean(key string) (val, present bool, err error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, true, o.errf(key, "must be true or false")
	}
	return b, true, nil
}

func (o obj) object(key string, required bool) (obj, bool, error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		if required {
			return obj{}, false, o.errf(key, "required")
		}
		return obj{}, false, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return obj{}, false, o.errf(key, "must be an object")
	}
	return obj{file: o.file, path: o.field(key), m: m}, true, nil
}

func (o obj) strings(key string) ([]string, error) {
	v, ok := lookup(o.m, key)
	if !ok || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, o.errf(key, "must be an array of strings")
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, o.errf(fmt.Sprintf("%s[%d]", key, i), "must be a string")
		}
		out = append(out, s)
	}
	return out, nil
}
