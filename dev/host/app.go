// Package host is the profileflow development host: it plays the Azure
// Functions host's side of the custom-handler contract for local runs and
// end-to-end tests, because Functions Core Tools cannot be installed here.
//
// It reads an app folder laid out like build/app (host.json, the handler
// binary, one folder per function with function.json), starts the handler the
// way the real host does, forwards declared HTTP routes to it, fires timer
// triggers, runs blob triggers by polling their containers, and serves a few
// loopback-only /dev endpoints. Other trigger kinds plug in through
// TriggerSource. It is never deployed.
package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
