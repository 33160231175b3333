package host

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBlobPathMatch(t *testing.T) {
	for _, tc := range []struct {
		path, blob string
		want       map[string]string // nil = no match
	}{
		{"landing/{uploadId}/{fileName}", "u-1/report.pdf", map[string]string{"uploadId": "u-1", "fileName": "report.pdf"}},
		// Each token is (?<x>.*): greedy, slashes included.
		{"landing/{uploadId}/{fileName}", "a/b/c.pdf", map[string]string{"uploadId": "a/b", "fileName": "c.pdf"}},
		{"uploads/{name}", "requests/abc/attachment1.pdf", map[string]string{"name": "requests/abc/attachment1.pdf"}},
		{"ccc/{name}.csv", "foo.csv", map[string]string{"name": "foo"}},
		{"ccc/{name}.csv", "foo.alpha.csv", map[string]string{"name": "foo.alpha"}},
		{"ccc/{a}.{b}", "foo.alpha.beta.csv", map[string]string{"a": "foo.alpha.beta", "b": "csv"}},
		{"ccc/{name}-{date}.csv", "foo-Jan1st.csv", map[string]string{"name": "foo", "date": "Jan1st"}},
		{"ccc/{name}.txt", "bob.txtoutput", nil},
		{"landing/{uploadId}/{fileName}", "no-slash", nil},
		// Literal text is matched exactly and case-sensitively; regex characters are literal.
		{"ccc/requests/{id}.pdf", "Requests/1.pdf", nil},
		{"ccc/a+b/{id}", "a+b/x", map[string]string{"id": "x"}},
		{"ccc/a+b/{id}", "aab/x", nil},
		{"ccc/{{literal}}/{id}", "{literal}/7", map[string]string{"id": "7"}},
		// No tokens: a fixed blob, or with no "/" every blob of the container.
		{"ccc/fixed.txt", "fixed.txt", map[string]string{}},
		{"ccc/fixed.txt", "fixed.txt2", nil},
		{"ccc", "any/thing", map[string]string{}},
	} {
		t.Run(tc.path+"|"+tc.blob, func(t *testing.T) {
			p, err := ParseBlobPath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := p.Match(tc.blob)
			if ok != (tc.want != nil) {
				t.Fatalf("Match(%q) ok=%v, want %v", tc.blob, ok, tc.want != nil)
			}
			if ok && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tokens %v, want %v", got, tc.want)
			}
			if ok && !strings.HasPrefix(tc.blob, p.ListPrefix()) {
				t.Errorf("ListPrefix %q would not list %q", p.ListPrefix(), tc.blob)
			}
		})
	}
}

func TestParseBlobPathParts(t *testing.T) {
	p, err := ParseBlobPath("landing/pre/{uploadId}/x-{fileName}")
	if err != nil {
		t.Fatal(err)
	}
	if p.Container != "landing" || p.Pattern != "pre/{uploadId}/x-{fileName}" || !reflect.DeepEqual(p.Tokens, []string{"uploadId", "fileName"}) || p.ListPrefix() != "pre/" {
		t.Errorf("parsed %+v prefix %q", p, p.ListPrefix())
	}
}

func TestParseBlobPathRefuses(t *testing.T) {
	long := "ccc/" + strings.Repeat("a", 1025)
	for _, tc := range []struct{ path, want string }{
		{"", "empty"},
		{"/blob", `format "container/blob"`},
		{"container/", `format "container/blob"`},
		{`con\tainer/x`, "backslash"},
		{"land{x}/{name}", "cannot contain {tokens}"},
		{"Landing/{name}", `invalid container name "Landing"`},
		{"ab/{name}", `invalid container name "ab"`},
		{"a--b/{name}", `invalid container name "a--b"`},
		{"landing/{name", "unterminated token"},
		{"landing/name}", `unmatched "}"`},
		{"landing/{}", "empty token"},
		{"landing/{file-name}", `invalid token name "file-name"`},
		{"landing/{1st}", `invalid token name "1st"`},
		{"landing/{sys.randguid}", `invalid token name "sys.randguid"`},
		{"landing/{id}/{ID}", "token {ID} is used twice"},
		{long, "1024-character limit"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, err := ParseBlobPath(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseBlobPath(%q) = %v, want an error containing %q", tc.path, err, tc.want)
			}
		})
	}
}

// A malformed blobTrigger binding is refused when the app loads, naming the
// file and the field.
func TestLoadAppRefusesBadBlobTrigger(t *testing.T) {
	bt := func(extra string) string {
		return `{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob"` + extra + `}]}`
	}
	for _, tc := range []struct{ name, fn, want string }{
		{"token in container", bt(`,"path":"{c}/{name}"`), `bindings[0].path: blob trigger path "{c}/{name}": the container "{c}" cannot contain {tokens}`},
		{"unterminated token", bt(`,"path":"landing/{uploadId/{fileName}"`), `bindings[0].path: blob trigger path "landing/{uploadId/{fileName}": unterminated token at offset 8`},
		{"bad container", bt(`,"path":"Landing_Zone/{name}"`), `bindings[0].path: blob trigger path "Landing_Zone/{name}": invalid container name`},
		{"path not string", bt(`,"path":7`), `bindings[0].path: must be a string`},
		{"connection string inline", bt(`,"path":"c0c/{n}","connection":"DefaultEndpointsProtocol=http;AccountName=x"`), `bindings[0].connection: "DefaultEndpointsProtocol=http;AccountName=x" must be the name of an app setting`},
		{"connection not string", bt(`,"path":"c0c/{n}","connection":true`), `bindings[0].connection: must be a string`},
		{"unknown dataType", bt(`,"path":"c0c/{n}","dataType":"bytes"`), `bindings[0].dataType: unknown data type "bytes"`},
		{"stream dataType", bt(`,"path":"c0c/{n}","dataType":"stream"`), `bindings[0].dataType: "stream" is not supported`},
		{"unknown source", bt(`,"path":"c0c/{n}","source":"Polling"`), `bindings[0].source: unknown blob trigger source "Polling"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, goodHost, map[string]string{"Scan": tc.fn})
			_, err := LoadApp(dir)
			file := filepath.Join(dir, "Scan", "function.json")
			if err == nil || !strings.HasPrefix(err.Error(), file+": "+tc.want) {
				t.Fatalf("error\n %v\nwant prefix\n %s", err, file+": "+tc.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.File != file {
				t.Errorf("not a *ConfigError for %s: %#v", file, err)
			}
		})
	}
}

func TestLoadAppBlobTriggerDefaults(t *testing.T) {
	dir := writeApp(t, goodHost, map[string]string{
		"Scan":  `{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob","path":"landing/{uploadId}/{fileName}","connection":"UploadStorage","dataType":"Binary","source":"EventGrid"}]}`,
		"Plain": `{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob","path":"texts/{name}"}]}`,
		"Later": `{"bindings":[{"type":"blobTrigger","direction":"in","name":"blob","path":"%LANDING%/{name}"}]}`,
	})
	app, err := LoadApp(dir)
	if err != nil {
		t.Fatal(err)
	}
	scan, plain, later := app.Function("Scan").Blob, app.Function("Plain").Blob, app.Function("Later").Blob
	if scan.Connection != "UploadStorage" || scan.DataType != BlobDataBinary || scan.Source != BlobSourceEventGrid || scan.Path.Container != "landing" {
		t.Errorf("Scan: %+v", scan)
	}
	if plain.Connection != DefaultStorageConnection || plain.DataType != BlobDataString || plain.Source != BlobSourceScan {
		t.Errorf("Plain: %+v", plain)
	}
	if later.Path != nil || later.RawPath != "%LANDING%/{name}" {
		t.Errorf("a %%Setting%% path is resolved at start, got %+v", later)
	}
}

// FuzzParseBlobPath: function.json is input the host does not control. The
// parser never panics, and a blob name built from an accepted pattern (each
// token replaced by a value, "{{"/"}}" by a brace) always matches it.
func FuzzParseBlobPath(f *testing.F) {
	for _, s := range []string{"landing/{uploadId}/{fileName}", "ccc", "ccc/{{x}}/{y}", "ccc/{a}{b}", "ccc/{", "ccc/}", "{x}/y", "ccc/a.b+{c}*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseBlobPath(s)
		if err != nil {
			return
		}
		if p.Container == "" || strings.ContainsAny(p.Container, "{}/") {
			t.Fatalf("accepted container %q", p.Container)
		}
		var name strings.Builder
		pat := p.Pattern
		for i := 0; i < len(pat); i++ {
			switch {
			case strings.HasPrefix(pat[i:], "{{"), strings.HasPrefix(pat[i:], "}}"):
				name.WriteByte(pat[i])
				i++
			case pat[i] == '{':
				end := strings.IndexByte(pat[i:], '}')
				name.WriteString("v")
				i += end
			default:
				name.WriteByte(pat[i])
			}
		}
		if strings.Contains(name.String(), "\n") {
			return // "." does not match a newline, as in .NET
		}
		tokens, ok := p.Match(name.String())
		if !ok || len(tokens) != len(p.Tokens) {
			t.Fatalf("pattern %q does not match its own instance %q (tokens %v)", s, name.String(), tokens)
		}
	})
}
