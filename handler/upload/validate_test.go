package upload

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
)

func TestValidateSpecs(t *testing.T) {
	pdf := func(name string, size int64) FileSpec {
		return FileSpec{Name: name, ContentType: "application/pdf", Size: size}
	}
	tests := []struct {
		name    string
		specs   []FileSpec
		wantErr string // substring of the message; "" = accepted
	}{
		{"one pdf", []FileSpec{pdf("evidence.pdf", 1234)}, ""},
		{"two files", []FileSpec{pdf("a.pdf", 1), {Name: "b.PNG", ContentType: "image/png", Size: 25 << 20}}, ""},
		{"jpeg as .jpeg", []FileSpec{{Name: "scan.jpeg", ContentType: "image/jpeg", Size: 10}}, ""},
		{"jpeg as .JPG, type upper case", []FileSpec{{Name: "scan.JPG", ContentType: "Image/JPEG", Size: 10}}, ""},
		{"unicode name", []FileSpec{pdf("Heiratsurkunde Müller.pdf", 10)}, ""},
		{"none", nil, "at least one file"},
		{"three files", []FileSpec{pdf("a.pdf", 1), pdf("b.pdf", 1), pdf("c.pdf", 1)}, "at most 2 files"},
		{"0 bytes", []FileSpec{pdf("a.pdf", 0)}, "at least 1 byte"},
		{"negative", []FileSpec{pdf("a.pdf", -5)}, "at least 1 byte"},
		{"26 MiB", []FileSpec{pdf("a.pdf", 26<<20)}, "exceeds the limit"},
		{"25 MiB + 1", []FileSpec{pdf("a.pdf", 25<<20+1)}, "exceeds the limit"},
		{"text/html", []FileSpec{{Name: "a.html", ContentType: "text/html", Size: 1}}, "not allowed"},
		{"text/html with pdf name", []FileSpec{{Name: "a.pdf", ContentType: "text/html", Size: 1}}, "not allowed"},
		{"missing type", []FileSpec{{Name: "a.pdf", Size: 1}}, "contentType is required"},
		{"blank type", []FileSpec{{Name: "a.pdf", ContentType: "  ", Size: 1}}, "contentType is required"},
		{"traversal", []FileSpec{pdf("../../etc/passwd", 1)}, "path separators"},
		{"dotdot alone", []FileSpec{pdf("..", 1)}, `".."`},
		{"dotdot inside", []FileSpec{pdf("a..pdf", 1)}, `".."`},
		{"backslash", []FileSpec{pdf(`..\..\win.ini.pdf`, 1)}, "path separators"},
		{"con.pdf", []FileSpec{pdf("con.pdf", 1)}, "reserved device name"},
		{"CON.PDF", []FileSpec{{Name: "CON.PDF", ContentType: "application/pdf", Size: 1}}, "reserved device name"},
		{"nul.tar.pdf", []FileSpec{pdf("nul.tar.pdf", 1)}, "reserved device name"},
		{"com1.pdf", []FileSpec{pdf("com1.pdf", 1)}, "reserved device name"},
		{"lpt9.pdf", []FileSpec{pdf("Lpt9.pdf", 1)}, "reserved device name"},
		{"aux with space", []FileSpec{pdf("aux .pdf", 1)}, "reserved device name"},
		{"prn.pdf", []FileSpec{pdf("prn.pdf", 1)}, "reserved device name"},
		{"console.pdf is fine", []FileSpec{pdf("console.pdf", 1)}, ""},
		{"NUL byte", []FileSpec{pdf("a\x00.pdf", 1)}, "control characters"},
		{"newline", []FileSpec{pdf("a\n.pdf", 1)}, "control characters"},
		{"DEL", []FileSpec{pdf("a\x7f.pdf", 1)}, "control characters"},
		{"RLO U+202E", []FileSpec{{Name: "invoice\u202Efdp.png", ContentType: "image/png", Size: 1}}, "bidirectional"},
		{"RLI U+2067", []FileSpec{pdf("a\u2067b.pdf", 1)}, "bidirectional"},
		{"photo.exe as png", []FileSpec{{Name: "photo.exe", ContentType: "image/png", Size: 1}}, "does not match content type"},
		{"no extension", []FileSpec{{Name: "photo", ContentType: "image/png", Size: 1}}, "does not match content type"},
		{"png named pdf", []FileSpec{{Name: "photo.pdf", ContentType: "image/png", Size: 1}}, "does not match content type"},
		{"too long", []FileSpec{pdf(strings.Repeat("a", 252)+".pdf", 1)}, "the limit is 255"},
		{"exactly 255", []FileSpec{pdf(strings.Repeat("a", 251)+".pdf", 1)}, ""},
		{"empty name", []FileSpec{pdf("", 1)}, "file name is required"},
		{"invalid utf8", []FileSpec{pdf("a\xff.pdf", 1)}, "not valid UTF-8"},
		{"colon", []FileSpec{pdf("a:b.pdf", 1)}, "must not contain any of"},
		{"leading dot", []FileSpec{pdf(".pdf", 1)}, "must not start with a dot"},
		{"trailing space", []FileSpec{{Name: "a.pdf ", ContentType: "application/pdf", Size: 1}}, "end with a dot or space"},
		{"duplicate names", []FileSpec{pdf("a.pdf", 1), pdf("A.pdf", 1)}, "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateSpecs(tt.specs)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateSpecs: unexpected error %v", err)
				}
				if len(got) != len(tt.specs) {
					t.Fatalf("got %d specs, want %d", len(got), len(tt.specs))
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateSpecs accepted %+v; want error containing %q", tt.specs, tt.wantErr)
			}
			if k := domain.KindOf(err); k != domain.KindInvalid {
				t.Errorf("kind = %v, want invalid", k)
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *domain.Error", err)
			}
			if !strings.Contains(de.Msg, tt.wantErr) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.wantErr)
			}
			for _, r := range de.Msg {
				if r == 0 || r == '\u202E' || r == '\n' {
					t.Errorf("message %q carries a raw control/bidi character", de.Msg)
				}
			}
		})
	}
}

func TestNormalizeNameNFC(t *testing.T) {
	decomposed := "Mu\u0308ller.pdf" // u + combining diaeresis
	got, err := NormalizeName(decomposed)
	if err != nil {
		t.Fatal(err)
	}
	if want := "M\u00fcller.pdf"; got != want {
		t.Errorf("NormalizeName(%q) = %q, want NFC %q", decomposed, got, want)
	}
	specs, err := ValidateSpecs([]FileSpec{{Name: decomposed, ContentType: "application/pdf", Size: 1}, {Name: "M\u00fcller.pdf", ContentType: "application/pdf", Size: 1}})
	if err == nil {
		t.Errorf("NFC-equal names accepted as distinct: %+v", specs)
	}
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"a.pdf", "../../etc/passwd", "con.pdf", "a\x00b", "x\u202Efdp.exe", "Mu\u0308ller.pdf", "a..b", strings.Repeat("é", 200), "COM\u00b9.pdf", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := NormalizeName(name)
		if err != nil {
			if domain.KindOf(err) != domain.KindInvalid {
				t.Fatalf("kind %v for %q", domain.KindOf(err), name)
			}
			return
		}
		if !utf8.ValidString(n) || n == "" || len(n) > MaxNameBytes {
			t.Fatalf("accepted bad name %q -> %q", name, n)
		}
		if strings.ContainsAny(n, "/\\\x00") || strings.Contains(n, "..") {
			t.Fatalf("accepted unsafe name %q", n)
		}
		for _, r := range n {
			if r < 0x20 || r == 0x7f || isBidiControl(r) {
				t.Fatalf("accepted control/bidi char in %q", n)
			}
		}
		stem, _, _ := strings.Cut(strings.ToLower(n), ".")
		if isReservedDevice(strings.TrimRight(stem, " ")) {
			t.Fatalf("accepted device name %q", n)
		}
		n2, err := NormalizeName(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q, %v", n, n2, err)
		}
		// The blob name stays URL-safe and inside the upload's folder.
		b := BlobName("0123456789abcdef0123456789abcdef", 1, n)
		if !strings.HasPrefix(b, "0123456789abcdef0123456789abcdef/1-") || strings.Count(b, "/") != 1 {
			t.Fatalf("blob name %q escapes the upload folder", b)
		}
	})
}
