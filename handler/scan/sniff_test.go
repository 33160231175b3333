package scan

import (
	"strings"
	"testing"
)

func TestCheckType(t *testing.T) {
	pdf, png, jpg := cleanPDF(), cleanPNG(t), cleanJPEG(t)
	html := []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")
	tests := []struct {
		name, file, declared string
		content              []byte
		want                 string // substring of the reason; "" = accepted
	}{
		{"pdf", "passport.pdf", "application/pdf", pdf, ""},
		{"pdf, upper-case extension and type", "PASSPORT.PDF", "Application/PDF", pdf, ""},
		{"png", "id.png", "image/png", png, ""},
		{"jpeg as .jpg", "id.jpg", "image/jpeg", jpg, ""},
		{"jpeg as .jpeg", "id.jpeg", "image/jpeg", jpg, ""},
		{"type with parameters", "id.png", "image/png; foo=bar", png, ""},
		{"HTML file named .pdf", "invoice.pdf", "application/pdf", html, "content is text/html"},
		{"PDF declared image/png", "invoice.png", "image/png", pdf, "content is application/pdf, not the declared image/png"},
		{"PNG bytes named .pdf", "invoice.pdf", "application/pdf", png, "content is image/png, not the declared application/pdf"},
		{"PNG bytes named .pdf declared png", "invoice.pdf", "image/png", png, `extension ".pdf" does not fit the declared type image/png`},
		{"JPEG declared PNG", "id.png", "image/png", jpg, "content is image/jpeg"},
		{"EICAR plain text named .pdf", "eicar.pdf", "application/pdf", []byte(eicar), "content is text/plain"},
		{"ZIP named .pdf", "docs.pdf", "application/pdf", zipOf(t, "eicar.com", []byte(eicar)), "content is application/zip"},
		{"Windows executable named .png", "id.png", "image/png", append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 64)...), "not the declared image/png"},
		{"double extension", "id.pdf.exe", "application/pdf", pdf, `extension ".exe" does not fit`},
		{"no extension", "passport", "application/pdf", pdf, `extension "" does not fit`},
		{"type not accepted", "page.html", "text/html", html, `declared as "text/html"; accepted types are`},
		{"svg not accepted", "logo.svg", "image/svg+xml", []byte("<svg/>"), "accepted types are"},
		{"empty declared type", "a.pdf", "", pdf, `declared as ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := checkType(quoteName(tt.file), tt.file, normalizeType(tt.declared), tt.content)
			switch {
			case tt.want == "" && d != nil:
				t.Fatalf("rejected: %s", d.reason)
			case tt.want != "" && d == nil:
				t.Fatalf("accepted; want a rejection containing %q", tt.want)
			case d != nil && (d.verdict != Rejected || !strings.Contains(d.reason, tt.want) || !strings.Contains(d.reason, quoteName(tt.file))):
				t.Fatalf("got %s %q; want rejected, naming the file, containing %q", d.verdict, d.reason, tt.want)
			}
		})
	}
}
