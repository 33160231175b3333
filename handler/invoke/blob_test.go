package invoke

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBlobPayloadFixture(t *testing.T) {
	r := load(t, "blob-trigger.request.json")
	b := r.Blob("blob")
	content, err := b.Content.Get()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(content, []byte("%PDF-1.7")) || !bytes.HasSuffix(content, []byte("%%EOF\n")) {
		t.Fatalf("content not the PDF: %q", content[:16])
	}
	for token, want := range map[string]string{"requestId": "abc", "fileName": "attachment1.pdf"} {
		if got, err := b.Token(token).Get(); got != want || err != nil {
			t.Errorf("Token(%s) = %q, %v; want %q", token, got, err, want)
		}
	}
	if uri, err := b.URI.Get(); err != nil || uri != "https://stuploadsprod.blob.core.windows.net/uploads/requests/abc/attachment1.pdf" {
		t.Errorf("URI = %q %v", uri, err)
	}
	if md, err := b.Metadata.Get(); err != nil || md["requestid"] != "abc" || md["uploadedby"] != "web-frontend" {
		t.Errorf("Metadata = %v %v", md, err)
	}
	p := b.Properties
	if n, err := p.ContentLength.Get(); n != 148 || err != nil {
		t.Errorf("ContentLength = %d %v", n, err)
	}
	if ct, err := p.ContentType.Get(); ct != "application/pdf" || err != nil {
		t.Errorf("ContentType = %q %v", ct, err)
	}
	if h, err := p.ContentHash.Get(); len(h) != 16 || h[1] != 1 || err != nil {
		t.Errorf("ContentHash = %x %v", h, err)
	}
	if lm, err := p.LastModified.Get(); !lm.Equal(time.Date(2024, 6, 15, 12, 34, 50, 0, time.UTC)) || err != nil {
		t.Errorf("LastModified = %v %v", lm, err)
	}
	// The path itself is never sent (the host drops keys ending in trigger).
	if _, ok, _ := b.Token("BlobTrigger").Lookup(); ok {
		t.Error("BlobTrigger present")
	}
	if _, err := b.Token("name").Get(); err == nil || !strings.Contains(err.Error(), "Metadata.name missing") {
		t.Errorf("absent token: %v", err)
	}
}

func TestBlobPayloadStringDataType(t *testing.T) {
	r := load(t, "blob-trigger.string-datatype.request.json")
	b := r.Blob("blob")
	if c, err := b.Content.Get(); string(c) != "id,amount\n1,9.99\n" || err != nil {
		t.Fatalf("content = %q %v", c, err)
	}
	if md, err := b.Metadata.Get(); len(md) != 0 || err != nil {
		t.Errorf("empty user metadata = %v %v", md, err)
	}
	if name, _ := b.Token("fileName").Get(); name != "totals.csv" {
		t.Errorf("fileName = %q", name)
	}
}

// Values are decoded only when read: a malformed value the function does
// not read never fails it, and one it reads fails with its place named.
func TestBlobPayloadLenient(t *testing.T) {
	for _, tc := range []struct {
		name, data, meta string
		content          string
		contentErr       string
		lengthErr        string
		uriErr           string
	}{
		{name: "binary", data: `"aGk="`, meta: `{"Uri":"\"u\"","Properties":{"ContentLength":2}}`, content: "hi"},
		{name: "quoted text", data: `"\"aGk=\""`, meta: `{}`, content: "aGk="},
		{name: "empty binary", data: `""`, meta: `{}`, content: ""},
		{name: "uri encoded once", data: `""`, meta: `{"Uri":"u"}`},
		{name: "length as string", data: `""`, meta: `{"Properties":{"ContentLength":"2"}}`},
		{name: "other properties malformed", data: `""`, meta: `{"Properties":{"ContentLength":2,"CreatedOn":"soon","ETag":{}}}`},
		{name: "content not base64", data: `"@@"`, meta: `{}`, contentErr: "Data.blob: invalid base64"},
		{name: "content a number", data: `12`, meta: `{}`, contentErr: "Data.blob: not a string"},
		{name: "content absent", meta: `{}`, contentErr: "Data.blob missing"},
		{name: "length malformed", data: `""`, meta: `{"Properties":{"ContentLength":"many"}}`, lengthErr: "Metadata.Properties.ContentLength"},
		{name: "properties not an object", data: `""`, meta: `{"Properties":[1]}`, lengthErr: "Metadata.Properties: not a JSON object"},
		{name: "uri an object", data: `""`, meta: `{"Uri":{}}`, uriErr: "Metadata.Uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := `{}`
			if tc.data != "" {
				data = `{"blob":` + tc.data + `}`
			}
			r, err := DecodeBytes([]byte(`{"Data":` + data + `,"Metadata":` + tc.meta + `}`))
			if err != nil {
				t.Fatal(err)
			}
			b := r.Blob("blob")
			if c, err := b.Content.Get(); !matchErr(err, tc.contentErr) || (err == nil && string(c) != tc.content) {
				t.Errorf("Content = %q, %v; want %q, error %q", c, err, tc.content, tc.contentErr)
			}
			if _, _, err := b.Properties.ContentLength.Lookup(); !matchErr(err, tc.lengthErr) {
				t.Errorf("ContentLength error %v, want %q", err, tc.lengthErr)
			}
			if _, _, err := b.URI.Lookup(); !matchErr(err, tc.uriErr) {
				t.Errorf("URI error %v, want %q", err, tc.uriErr)
			}
		})
	}
}
