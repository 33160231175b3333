package host

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodHost = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"},"enableForwardingHttpRequest":true},
 "extensionBundle":{"id":"Microsoft.Azure.Functions.ExtensionBundle","version":"[4.*, 5.0.0)"}}`

func TestLoadFixtureApp(t *testing.T) {
	app, err := LoadApp("testdata/fixture-app")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range app.Functions {
		names = append(names, f.Name+":"+f.Trigger.Type)
	}
	if got := strings.Join(names, ","); got != "HandleRequest:serviceBusTrigger,ProcessUpload:blobTrigger,Proxy:httpTrigger,SubmitRequest:httpTrigger,Sweep:timerTrigger" {
		t.Errorf("functions %s", got)
	}
	h := app.Host
	if h.ExecutablePath != "handler" || h.RoutePrefix != "api" || h.ForwardHTTP || h.BundleID != "Microsoft.Azure.Functions.ExtensionBundle" || h.Extensions["serviceBus"] == nil {
		t.Errorf("host config %+v", h)
	}
	if p := app.Function("proxy"); !p.HTTPOnly() || strings.Join(p.Methods, ",") != "GET,POST,PUT,DELETE" {
		t.Errorf("Proxy: HTTPOnly=%v methods=%v", p.HTTPOnly(), p.Methods)
	}
	if s := app.Function("SubmitRequest"); s.HTTPOnly() {
		t.Error("SubmitRequest has a serviceBus output: not HTTP-only")
	}
	if sw := app.Function("Sweep"); sw.Schedule != "0 */5 * * * *" || sw.RunOnStartup || !sw.UseMonitor || sw.Trigger.Name != "timer" {
		t.Errorf("Sweep %+v", sw)
	}
	if len(app.FunctionsByTrigger(TypeBlobTrigger)) != 1 || app.Function("ProcessUpload").Trigger.Str("PATH") != "uploads/requests/{requestId}/{fileName}" {
		t.Error("blob trigger lookup")
	}
}

func TestLoadAppValidation(t *testing.T) {
	fn := func(bindings string) string { return `{"bindings":[` + bindings + `]}` }
	httpIn := `{"type":"httpTrigger","direction":"in","name":"req","route":"x"}`
	httpOut := `{"type":"http","direction":"out","name":"res"}`
	for _, tc := range []struct {
		name      string
		host      string // "" = goodHost
		fnJSON    string // Profile/function.json
		file      string // "host.json" or "function.json"
		wantField string // expected "file: field: ..." part after the file
	}{
		{"unknown trigger type", "", fn(`{"type":"httpTriger","direction":"in","name":"req","route":"x"}`), "function.json", `bindings[0].type: unknown trigger type "httpTriger"`},
		{"unknown output type", "", fn(httpIn + `,{"type":"email","direction":"out","name":"m"}`), "function.json", `bindings[1].type: unknown binding type "email"`},
		{"missing type", "", fn(`{"direction":"in","name":"req"}`), "function.json", `bindings[0].type: required`},
		{"missing name", "", fn(`{"type":"httpTrigger","direction":"in","route":"x"}`), "function.json", `bindings[0].name: required`},
		{"missing direction", "", fn(`{"type":"httpTrigger","name":"req","route":"x"}`), "function.json", `bindings[0].direction: required`},
		{"wrong direction", "", fn(`{"type":"httpTrigger","direction":"out","name":"req","route":"x"}`), "function.json", `bindings[0].direction: "out" is not valid`},
		{"missing schedule", "", fn(`{"type":"timerTrigger","direction":"in","name":"t"}`), "function.json", `bindings[0].schedule: required`},
		{"bad schedule", "", fn(`{"type":"timerTrigger","direction":"in","name":"t","schedule":"*/5 * * * *"}`), "function.json", `bindings[0].schedule: NCRONTAB "*/5 * * * *" has 5 fields`},
		{"missing queueName", "", fn(`{"type":"serviceBusTrigger","direction":"in","name":"m","connection":"SB"}`), "function.json", `bindings[0].queueName: required`},
		{"topic without subscription", "", fn(`{"type":"serviceBusTrigger","direction":"in","name":"m","topicName":"t"}`), "function.json", `bindings[0].subscriptionName: required`},
		{"missing blob path", "", fn(`{"type":"blobTrigger","direction":"in","name":"b"}`), "function.json", `bindings[0].path: required`},
		{"missing output path", "", fn(httpIn + `,{"type":"blob","direction":"out","name":"o"}`), "function.json", `bindings[1].path: required`},
		{"missing cosmos container", "", fn(httpIn + `,{"type":"cosmosDB","direction":"out","name":"d","databaseName":"db"}`), "function.json", `bindings[1].containerName: required`},
		{"no trigger", "", fn(httpOut), "function.json", `bindings: no trigger binding`},
		{"two triggers", "", fn(httpIn + `,{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 * * * * *"}`), "function.json", `bindings[1].type: second trigger`},
		{"duplicate binding name", "", fn(httpIn + `,{"type":"http","direction":"out","name":"REQ"}`), "function.json", `bindings[1].name: duplicate binding name`},
		{"bad method", "", fn(`{"type":"httpTrigger","direction":"in","name":"req","route":"x","methods":["get","fetch"]}`), "function.json", `bindings[0].methods[1]: unknown HTTP method "fetch"`},
		{"methods not array", "", fn(`{"type":"httpTrigger","direction":"in","name":"req","route":"x","methods":"get"}`), "function.json", `bindings[0].methods: must be an array`},
		{"bad route", "", fn(`{"type":"httpTrigger","direction":"in","name":"req","route":"a/{id"}`), "function.json", `bindings[0].route: route "a/{id": unterminated`},
		{"reserved route", "", fn(`{"type":"httpTrigger","direction":"in","name":"req","route":"admin/x"}`), "function.json", `bindings[0].route: routes starting with admin`},
		{"route not string", "", fn(`{"type":"httpTrigger","direction":"in","name":"req","route":5}`), "function.json", `bindings[0].route: must be a string`},
		{"runOnStartup not bool", "", fn(`{"type":"timerTrigger","direction":"in","name":"t","schedule":"0 * * * * *","runOnStartup":"yes"}`), "function.json", `bindings[0].runOnStartup: must be true or false`},
		{"binding not object", "", fn(`"x"`), "function.json", `bindings[0]: must be an object`},
		{"no bindings", "", `{}`, "function.json", `bindings: required`},
		{"invalid JSON with line", "", "{\n  \"bindings\": [\n    {\"type\": \"httpTrigger\",}\n  ]\n}", "function.json", `invalid JSON at line 3`},
		{"trailing data", "", `{"bindings":[]} {}`, "function.json", `invalid JSON at line 1`},
		{"not an object", "", `[]`, "function.json", `must be a JSON object`},
		{"host: wrong version", `{"version":"1.0","customHandler":{"description":{"defaultExecutablePath":"h"}}}`, fn(httpIn), "host.json", `version: must be "2.0"`},
		{"host: missing version", `{"customHandler":{"description":{"defaultExecutablePath":"h"}}}`, fn(httpIn), "host.json", `version: required`},
		{"host: missing customHandler", `{"version":"2.0"}`, fn(httpIn), "host.json", `customHandler: required`},
		{"host: missing executable", `{"version":"2.0","customHandler":{"description":{}}}`, fn(httpIn), "host.json", `customHandler.description.defaultExecutablePath: required`},
		{"host: forwarding not bool", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"},"enableForwardingHttpRequest":"true"}}`, fn(httpIn), "host.json", `customHandler.enableForwardingHttpRequest: must be true or false`},
		{"host: bundle without version", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}},"extensionBundle":{"id":"x"}}`, fn(httpIn), "host.json", `extensionBundle.version: required`},
		{"host: bundle needed", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}}}`, fn(`{"type":"blobTrigger","direction":"in","name":"b","path":"ccc/{n}"}`), "host.json", `extensionBundle: required: binding type blobTrigger`},
		{"host: routePrefix not string", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"h"}},"extensions":{"http":{"routePrefix":1}}}`, fn(httpIn), "host.json", `extensions.http.routePrefix: must be a string`},
		{"host: invalid JSON", "{\"version\":\"2.0\",\n\"customHandler\": nope}", fn(httpIn), "host.json", `invalid JSON at line 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.host
			if host == "" {
				host = goodHost
			}
			dir := writeApp(t, host, map[string]string{"Profile": tc.fnJSON})
			_, err := LoadApp(dir)
			if err == nil {
				t.Fatal("LoadApp accepted a malformed app")
			}
			file := filepath.Join(dir, "host.json")
			if tc.file == "function.json" {
				file = filepath.Join(dir, "Profile", "function.json")
			}
			want := file + ": " + tc.wantField
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error\n %s\nwant prefix\n %s", err, want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != file {
				t.Errorf("not a *ConfigError for %s: %#v", file, err)
			}
		})
	}
}

func TestLoadAppAccepts(t *testing.T) {
	dir := writeApp(t, goodHost, map[string]string{
		"Profile":  httpFn("v1/profile/{internalID}", "get"),
		"Disabled": `{"disabled":true,"bindings":[{"type":"nonsense"}]}`,
		"Nightly":  `{"bindings":[{"type":"timerTrigger","direction":"in","name":"t","schedule":"%NIGHTLY%"}]}`,
		"Topic":    `{"bindings":[{"type":"serviceBusTrigger","direction":"IN","name":"m","topicName":"t","subscriptionName":"s"}]}`,
	})
	if err := os.MkdirAll(filepath.Join(dir, "not-a-function"), 0o755); err != nil {
		t.Fatal(err)
	}
	app, err := LoadApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Functions) != 3 || app.Function("Disabled") != nil || app.Function("Topic").Trigger.Direction != "in" {
		t.Errorf("functions %+v", app.Functions)
	}
	// %Setting% schedules are resolved at start.
	if _, err := newTimerSource(app, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "NIGHTLY") {
		t.Errorf("unset schedule setting: %v", err)
	}
	if _, err := newTimerSource(app, func(k string) string { return map[string]string{"NIGHTLY": "0 0 2 * * *"}[k] }); err != nil {
		t.Errorf("set schedule setting: %v", err)
	}
}

// The Functions host routes an httpTrigger without "route" (or with an empty
// one) at the function name, under the route prefix.
func TestDefaultRouteIsTheFunctionName(t *testing.T) {
	dir := writeApp(t, goodHost, map[string]string{
		"Hello":    `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","methods":["get"]},{"type":"http","direction":"out","name":"res"}]}`,
		"Empty":    `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","route":""},{"type":"http","direction":"out","name":"res"}]}`,
		"Routed":   httpFn("v1/routed", "get"),
		"Two-Part": `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`,
	})
	app, err := LoadApp(dir)
	if err != nil {
		t.Fatalf("LoadApp refused an httpTrigger without route: %v", err)
	}
	for name, tmpl := range map[string]string{"Hello": "Hello", "Empty": "Empty", "Routed": "v1/routed", "Two-Part": "Two-Part"} {
		if f := app.Function(name); f == nil || f.Route == nil || f.Route.Template != tmpl {
			t.Errorf("%s: route = %+v, want template %q", name, f, tmpl)
		}
	}
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/Hello", "Hello"},
		{"GET", "/api/hello", "Hello"}, // literals match case-insensitively
		{"POST", "/api/hello", ""},     // methods still apply
		{"DELETE", "/api/empty", "Empty"},
		{"GET", "/api/two-part", "Two-Part"},
		{"GET", "/Hello", ""}, // outside the route prefix
	} {
		f, _, ok := matchRoute(app, tc.method, tc.path)
		got := ""
		if ok {
			got = f.Name
		}
		if got != tc.want {
			t.Errorf("%s %s → %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestLoadAppRouteConflict(t *testing.T) {
	dir := writeApp(t, goodHost, map[string]string{
		"A": httpFn("v1/x/{id}", "get"),
		"B": httpFn("v1/X/{other}", "get", "post"),
		"C": httpFn("v1/x/{id}", "put"),     // different method: fine
		"D": httpFn("v1/x/{id:int}", "get"), // more specific: fine
	})
	_, err := LoadApp(dir)
	if err == nil || !strings.Contains(err.Error(), "B") || !strings.Contains(err.Error(), "already declared by function A") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseSchedule(t *testing.T) {
	base := time.Date(2024, 6, 15, 12, 31, 10, 0, time.UTC)
	for _, tc := range []struct {
		expr string
		next time.Time // zero = parse error expected
	}{
		{"0 */5 * * * *", time.Date(2024, 6, 15, 12, 35, 0, 0, time.UTC)},
		{"*/10 * * * * *", time.Date(2024, 6, 15, 12, 31, 20, 0, time.UTC)},
		{"0 30 9 * * 1-5", time.Date(2024, 6, 17, 9, 30, 0, 0, time.UTC)}, // Monday
		{"0 0 0 1 1 *", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"00:05:00", base.Add(5 * time.Minute)},
		{"1.00:00:00", base.Add(24 * time.Hour)},
		{"*/5 * * * *", time.Time{}},   // 5-field cron is not NCRONTAB
		{"0 0 * * * * *", time.Time{}}, // 7 fields
		{"61 * * * * *", time.Time{}},
		{"bad", time.Time{}},
		{"00:00:00", time.Time{}},
	} {
		s, err := ParseSchedule(tc.expr)
		if tc.next.IsZero() {
			if err == nil {
				t.Errorf("ParseSchedule(%q) accepted", tc.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", tc.expr, err)
			continue
		}
		if got := s.Next(base); !got.Equal(tc.next) {
			t.Errorf("%q.Next(%v) = %v, want %v", tc.expr, base, got, tc.next)
		}
	}
}

func FuzzParseFunction(f *testing.F) {
	for _, p := range []string{"Proxy", "SubmitRequest", "Sweep", "HandleRequest", "ProcessUpload"} {
		data, err := os.ReadFile(filepath.Join("testdata/fixture-app", p, "function.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"bindings":[{"type":"httpTrigger","direction":"in","name":"req","route":"a/{id:int}/{*rest}"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fn, err := ParseFunction("Fn", "Fn/function.json", data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != "Fn/function.json" {
				t.Fatalf("error without file: %v", err)
			}
			return
		}
		if fn == nil {
			return // disabled
		}
		if fn.Trigger.Type == "" || len(fn.Bindings) == 0 {
			t.Fatal("accepted function without trigger")
		}
		if fn.Trigger.Type == TypeHTTPTrigger && fn.Route == nil {
			t.Fatal("http function without route")
		}
	})
}
