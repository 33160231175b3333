package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/request"
)

// patchKinds are the kinds a PATCH body may be refused with.
var patchKinds = map[domain.Kind]bool{domain.KindInvalid: true, domain.KindTooLarge: true, domain.KindUnsupportedMedia: true}

// readPatch runs changeForm.Read over body with the Content-Type ct; put
// drains every file and records its field.
func readPatch(ct string, body []byte) (request.ChangeInput, []byte, []string, error) {
	r := httptest.NewRequest("PATCH", "/api/v1/profile/1000", bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	var fields []string
	in, fp, err := changeForm{r: r}.Read(context.Background(), func(_ context.Context, field, _, _ string, rd io.Reader) error {
		fields = append(fields, field)
		_, err := io.Copy(io.Discard, rd)
		return err
	})
	return in, fp, fields, err
}

// FuzzPatchJSON: any application/json PATCH body is either refused with
// an error of a client kind, or read into a change that, written out as
// JSON and read again, is the same change with the same fingerprint
// semantics (the body itself).
func FuzzPatchJSON(f *testing.F) {
	for _, s := range []string{`{"description":"x","timestamp":"2026-01-01T00:00:00Z"}`, `{"firstName":"Ada","uploadId":"u1","timestamp":"2026-01-01T00:00:00+02:00"}`,
		`{"maritalStatus":"Married","answerTo":"req-1"}`, `{"description":"a","description":"b"}`, `{"Description":"x"}`, `{"x":1}`, `[]`, `{} {}`,
		`{"firstName":"\ud800"}`, `{"lastName":null}`, ``, `{"description":"` + strings.Repeat("é", 100) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, fp, files, err := readPatch("application/json", body)
		if err != nil {
			if !patchKinds[domain.KindOf(err)] {
				t.Fatalf("error of kind %s: %v", domain.KindOf(err), err)
			}
			return
		}
		if len(files) != 0 || !bytes.Equal(fp, body) {
			t.Fatalf("JSON body gave files %v, fingerprint %q", files, fp)
		}
		again, _ := json.Marshal(in)
		in2, _, _, err := readPatch("application/json", again)
		if err != nil || !reflect.DeepEqual(in, in2) {
			t.Fatalf("%q read as %+v; written out %s, read again %+v, %v", body, in, again, in2, err)
		}
	})
}

// FuzzPatchMultipart: any multipart/form-data PATCH body (with any
// boundary) is either refused with an error of a client kind, or read into
// a change from exactly one "json" part, files only from the fields
// attachment1 and attachment2, and a fingerprint that does not depend on
// the boundary.
func FuzzPatchMultipart(f *testing.F) {
	form := func(boundary string, parts ...string) []byte {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString("--" + boundary + "\r\n" + p + "\r\n")
		}
		b.WriteString("--" + boundary + "--\r\n")
		return []byte(b.String())
	}
	jsonPart := "Content-Disposition: form-data; name=\"json\"\r\n\r\n{\"maritalStatus\":\"Married\",\"timestamp\":\"2026-01-01T00:00:00Z\"}"
	file := "Content-Disposition: form-data; name=\"attachment1\"; filename=\"deed.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n%%EOF\n"
	for _, s := range [][]byte{
		form("b1", jsonPart, file),
		form("b1", jsonPart),
		form("b1", file),
		form("b1", jsonPart, jsonPart),
		form("b1", jsonPart, strings.Replace(file, "attachment1", "attachment3", 1)),
		form("b1", jsonPart, strings.Replace(file, "deed.pdf", "../../etc/passwd", 1)),
		[]byte("--b1\r\nbroken"),
		{},
	} {
		f.Add("b1", s)
	}
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		in, fp, files, err := readPatch("multipart/form-data; boundary=\""+strings.ReplaceAll(boundary, `"`, ``)+"\"", body)
		if err != nil {
			if !patchKinds[domain.KindOf(err)] {
				t.Fatalf("error of kind %s: %v", domain.KindOf(err), err)
			}
			return
		}
		if len(fp) != 64 {
			t.Fatalf("fingerprint %q is not a SHA-256 in hex", fp)
		}
		for _, fld := range files {
			if fld != "attachment1" && fld != "attachment2" {
				t.Fatalf("file from field %q", fld)
			}
		}
		_ = in
	})
}

// A file part that breaks off (the body ends inside it) is the client's
// malformed body: 400, not a server error, and nothing is stored.
func TestPatchMultipartTruncatedFile(t *testing.T) {
	e := newChangeServer(t)
	for _, tc := range []struct{ body, want string }{
		{"--b1\nContent-Disposition:form-dAtA;nAme=\"attachment1\"\n\n", "file name is required"},
		{"--b1\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{\"maritalStatus\":\"Married\",\"timestamp\":\"" + now3339() + "\"}\r\n" +
			"--b1\r\nContent-Disposition: form-data; name=\"attachment1\"; filename=\"deed.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n", "malformed multipart body"},
	} {
		rec := e.patch("multipart/form-data; boundary=b1", tc.body, e.token(t, "user-1000", "1000"), nil)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%q: %d %s, want 400 %q", tc.body, rec.Code, rec.Body, tc.want)
		}
	}
	e.sink.mu.Lock()
	n := len(e.sink.blobs)
	e.sink.mu.Unlock()
	if n != 0 {
		t.Errorf("%d attachments stored from broken bodies", n)
	}
}
