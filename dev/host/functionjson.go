package host

import (
	"fmt"
	"regexp"
	"slices"
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
	Route   *Route   // parsed route template; the function name when function.json has none
	Methods []string // upper-case; empty = all methods

	// timerTrigger
	Schedule     string // as written (may be %Setting%)
	RunOnStartup bool
	UseMonitor   bool // default true

	// blobTrigger
	Blob *BlobTrigger
}

// Blob trigger dataType values (function.json "dataType"); absent means
// string, the host's default for a trigger without binding rules.
const (
	BlobDataBinary = "binary"
	BlobDataString = "string"
)

// Blob trigger sources (function.json "source").
const (
	BlobSourceScan      = "LogsAndContainerScan" // the default: polling
	BlobSourceEventGrid = "EventGrid"            // required on Flex Consumption
)

// DefaultStorageConnection is the app setting a storage binding without
// "connection" uses.
const DefaultStorageConnection = "AzureWebJobsStorage"

// BlobTrigger is the configuration of a blobTrigger binding.
type BlobTrigger struct {
	// Path is the parsed "path"; nil while the path holds a %Setting%
	// reference, which is resolved (and parsed) when the host starts.
	Path    *BlobPath
	RawPath string // as written
	// Connection names the app setting that holds the storage connection
	// string (default AzureWebJobsStorage).
	Connection string
	DataType   string // BlobDataBinary or BlobDataString
	Source     string // BlobSourceScan or BlobSourceEventGrid; both are polled locally
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
		route, err := bo.str("route", false)
		if err != nil {
			return err
		}
		if strings.TrimSpace(route) == "" {
			route = fn.Name // the Functions host's default route is the function name
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
	case TypeBlobTrigger:
		fn.Blob, err = parseBlobTrigger(bo)
	case "blob":
		_, err = bo.str("path", true)
	case TypeServiceBusTrigger:
		q, t, err := serviceBusEntity(bo)
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
		q, t, err := serviceBusEntity(bo)
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

// serviceBusEntity reads a Service Bus binding's optional queueName and
// topicName (either may be empty; a non-string value is an error naming it).
func serviceBusEntity(bo obj) (queue, topic string, err error) {
	if queue, err = bo.str("queueName", false); err != nil {
		return "", "", err
	}
	topic, err = bo.str("topicName", false)
	return queue, topic, err
}

// parseBlobTrigger validates a blobTrigger binding's path, connection,
// dataType and source.
func parseBlobTrigger(bo obj) (*BlobTrigger, error) {
	bt := &BlobTrigger{Connection: DefaultStorageConnection, DataType: BlobDataString, Source: BlobSourceScan}
	var err error
	if bt.RawPath, err = bo.str("path", true); err != nil {
		return nil, err
	}
	if !strings.Contains(bt.RawPath, "%") { // %Setting% is resolved at start
		if bt.Path, err = ParseBlobPath(bt.RawPath); err != nil {
			return nil, bo.errf("path", "%v", err)
		}
	}
	conn, err := bo.str("connection", false)
	if err != nil {
		return nil, err
	}
	if conn = strings.TrimSpace(conn); conn != "" {
		if strings.ContainsAny(conn, "%=;") {
			return nil, bo.errf("connection", "%q must be the name of an app setting (not a %%reference%% or a connection string)", conn)
		}
		bt.Connection = conn
	}
	dt, err := bo.str("dataType", false)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(dt) {
	case "", "string":
	case "binary":
		bt.DataType = BlobDataBinary
	case "stream":
		return nil, bo.errf("dataType", "\"stream\" is not supported by the development host; use \"binary\" (base64 content) or \"string\"")
	default:
		return nil, bo.errf("dataType", "unknown data type %q (want \"binary\" or \"string\")", dt)
	}
	src, err := bo.str("source", false)
	if err != nil {
		return nil, err
	}
	switch {
	case src == "" || strings.EqualFold(src, BlobSourceScan):
	case strings.EqualFold(src, BlobSourceEventGrid):
		bt.Source = BlobSourceEventGrid
	default:
		return nil, bo.errf("source", "unknown blob trigger source %q (want %q or %q)", src, BlobSourceEventGrid, BlobSourceScan)
	}
	return bt, nil
}
