package host

import (
	"maps"
	"strings"
	"testing"
)

func TestRouteMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		want       map[string]string // nil = no match
	}{
		{"v1/profile/{internalID}", "/v1/profile/1000", map[string]string{"internalID": "1000"}},
		{"v1/profile/{internalID}", "v1/profile/1000", map[string]string{"internalID": "1000"}},
		{"v1/profile/{internalID}", "/V1/Profile/1000", map[string]string{"internalID": "1000"}},
		{"v1/profile/{internalID}", "/v1/profile/1000/", map[string]string{"internalID": "1000"}},
		{"v1/profile/{internalID}", "/v1/profile", nil},
		{"v1/profile/{internalID}", "/v1/profile/", nil},
		{"v1/profile/{internalID}", "/v1/profile/1/2", nil},
		{"v1/profile/{internalID}", "/v1/profiles/1", nil},
		{"/v1/profile/{internalID}/", "/v1/profile/7", map[string]string{"internalID": "7"}},
		{"hello/{name?}", "/hello", map[string]string{}},
		{"hello/{name?}", "/hello/bob", map[string]string{"name": "bob"}},
		{"hello/{name?}", "/hellobob", nil},
		{"hello/{name=world}", "/hello", map[string]string{"name": "world"}},
		{"v1/{*path}", "/v1", map[string]string{}},
		{"v1/{*path}", "/v1/", map[string]string{}},
		{"v1/{*path}", "/v1/a/b/c", map[string]string{"path": "a/b/c"}},
		{"v1/{*path}", "/v2/a", nil},
		{"v1/{**path}", "/v1/a/b", map[string]string{"path": "a/b"}},
		{"items/{id:int}", "/items/42", map[string]string{"id": "42"}},
		{"items/{id:int}", "/items/-3", map[string]string{"id": "-3"}},
		{"items/{id:int}", "/items/abc", nil},
		{"items/{id:int}", "/items/99999999999", nil},
		{"items/{id:long}", "/items/99999999999", map[string]string{"id": "99999999999"}},
		{"items/{id:int:min(1)}", "/items/0", nil},
		{"items/{id:int:min(1)}", "/items/1", map[string]string{"id": "1"}},
		{"items/{id:range(1,10)}", "/items/11", nil},
		{"items/{id:guid}", "/items/5f0c7c3e-1d7b-4a55-9d53-0b3f1c2a9e11", map[string]string{"id": "5f0c7c3e-1d7b-4a55-9d53-0b3f1c2a9e11"}},
		{"items/{id:guid}", "/items/nope", nil},
		{"items/{id:alpha}", "/items/abc", map[string]string{"id": "abc"}},
		{"items/{id:alpha}", "/items/ab1", nil},
		{"items/{id:bool}", "/items/True", map[string]string{"id": "True"}},
		{"items/{id:length(3)}", "/items/abcd", nil},
		{"items/{id:maxlength(3)}", "/items/abc", map[string]string{"id": "abc"}},
		{"items/{id:regex(^\\d{{3}}$)}", "/items/123", map[string]string{"id": "123"}},
		{"items/{id:regex(^\\d{{3}}$)}", "/items/1234", nil},
		{"items/{id:datetime}", "/items/whatever", map[string]string{"id": "whatever"}}, // unknown-to-us: not checked
		{"files/{name}.{ext}", "/files/report.v2.pdf", map[string]string{"name": "report", "ext": "v2.pdf"}},
		{"files/{name}.{ext}", "/files/report", nil},
		{"a.b/c", "/a.b/c", map[string]string{}},
		{"a.b/c", "/axb/c", nil},
		{"requests/{requestId}/files/{fileName}", "/requests/r1/files/f.pdf", map[string]string{"requestId": "r1", "fileName": "f.pdf"}},
	} {
		r, err := ParseRoute(tc.tmpl)
		if err != nil {
			t.Errorf("ParseRoute(%q): %v", tc.tmpl, err)
			continue
		}
		got, ok := r.Match(tc.path)
		if ok != (tc.want != nil) || (ok && !maps.Equal(got, tc.want)) {
			t.Errorf("%q.Match(%q) = %v, %v; want %v", tc.tmpl, tc.path, got, ok, tc.want)
		}
	}
}

func TestParseRouteErrors(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"", "empty"},
		{"/", "empty"},
		{"a//b", "empty segment"},
		{"a/{id", "unterminated"},
		{"a/id}", "unmatched"},
		{"a/{}", "invalid parameter name"},
		{"a/{id}/{id}", "appears twice"},
		{"a/{*rest}/b", "catch-all"},
		{"a/{opt?}/b", "optional"},
		{"a/{x}{y}", "next to each other"},
		{"a/b?c", "not allowed"},
		{"a/{id:min(x)}", "not an integer"},
		{"a/{id:range(1)}", "argument"},
		{"a/{id:regex([)}", "bad regex"},
		{"a/{id:regex(()}", "unterminated"},
		{"a/{id?x}", "unexpected"},
		{"a/{*id?}", "optional"},
	} {
		_, err := ParseRoute(tc.tmpl)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRoute(%q) = %v, want error containing %q", tc.tmpl, err, tc.want)
		}
	}
}

func TestRoutePrecedenceAndMethods(t *testing.T) {
	app := &App{Host: HostConfig{RoutePrefix: "api"}}
	add := func(name, tmpl string, methods ...string) {
		r, err := ParseRoute(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		app.Functions = append(app.Functions, &Function{Name: name, Route: r, Methods: methods, Trigger: Binding{Type: TypeHTTPTrigger}})
	}
	add("CatchAll", "v1/{*path}")
	add("ById", "v1/profile/{id}", "GET")
	add("Me", "v1/profile/me", "GET")
	add("ByIntId", "v1/profile/{id:int}", "GET")
	add("Update", "v1/profile/{id}", "PUT")
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/v1/profile/me", "Me"},
		{"GET", "/api/v1/profile/12", "ByIntId"},
		{"GET", "/api/v1/profile/abc", "ById"},
		{"PUT", "/api/v1/profile/me", "Update"},
		{"POST", "/api/v1/profile/me", "CatchAll"},
		{"GET", "/api/v1/other", "CatchAll"},
		{"GET", "/api/v2/other", ""},
		{"GET", "/v1/profile/me", ""}, // missing route prefix
	} {
		fn, _, ok := matchRoute(app, tc.method, tc.path)
		got := ""
		if ok {
			got = fn.Name
		}
		if got != tc.want {
			t.Errorf("%s %s → %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	app.Host.RoutePrefix = ""
	if fn, _, ok := matchRoute(app, "GET", "/v1/profile/me"); !ok || fn.Name != "Me" {
		t.Errorf("empty route prefix: %v %v", fn, ok)
	}
}

func FuzzRoute(f *testing.F) {
	for _, s := range [][2]string{
		{"v1/profile/{internalID}", "/v1/profile/1000"},
		{"v1/{*path}", "/v1/a/b"},
		{"hello/{name?}", "/hello"},
		{"items/{id:int:min(1)}", "/items/5"},
		{"items/{id:regex(^\\d{{3}}$)}", "/items/123"},
		{"files/{name}.{ext}", "/files/a.b"},
		{"a/{b=c}", "/a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tmpl, path string) {
		r, err := ParseRoute(tmpl)
		if err != nil {
			return
		}
		_ = r.Canonical()
		vals, ok := r.Match(path)
		if ok && vals == nil {
			t.Fatal("match with nil values")
		}
		if !ok && vals != nil {
			t.Fatal("no match but values")
		}
		// A template without parameters matches its own text.
		if !strings.ContainsAny(tmpl, "{}") {
			if _, ok := r.Match("/" + strings.Trim(tmpl, "/")); !ok {
				t.Fatalf("literal template %q does not match itself", tmpl)
			}
		}
	})
}
