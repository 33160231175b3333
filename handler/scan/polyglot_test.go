package scan

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCheckPolyglot(t *testing.T) {
	png, jpg, pdf := cleanPNG(t), cleanJPEG(t), cleanPDF()
	zipped := zipOf(t, "payload.html", []byte("<script>alert(1)</script>"))
	// A ZIP whose end-of-central-directory record was cut off: only its
	// local file header remains.
	headerOnly := zipped[:bytes.Index(zipped, []byte("PK\x01\x02"))]
	tests := []struct {
		name, declared string
		content        []byte
		want           string // substring of the reason; "" = accepted
	}{
		{"png", typePNG, png, ""},
		{"jpeg", typeJPEG, jpg, ""},
		{"pdf", typePDF, pdf, ""},
		{"pdf with an incremental update after %%EOF", typePDF, append(append([]byte{}, pdf...), "1 0 obj\n<< >>\nendobj\n%%EOF\n"...), ""},
		{"png with a text chunk", typePNG, pngWithChunk(t, "tEXt", []byte("Comment\x00scanned at the office <3")), ""},
		{"jpeg with extraneous bytes between segments", typeJPEG, func() []byte {
			b := append([]byte{}, jpg[:2]...)
			return append(append(b, 0x00, 0x00), jpg[2:]...)
		}(), ""},
		{"jpeg with fill bytes before a marker", typeJPEG, func() []byte {
			b := append([]byte{}, jpg[:2]...)
			return append(append(b, 0xFF, 0xFF), jpg[2:]...)
		}(), ""},
		{"'PK' followed by implausible fields", typePDF, cat(pdf, []byte("% PK\x03\x04\xff\xff\xff\xff and more text for the header")), ""},
		{"'<header' is not '<head'", typePDF, cat(pdf, []byte("% <header>\n")), ""},

		{"png with a ZIP appended", typePNG, cat(png, zipped), "bytes follow the PNG's IEND chunk"},
		{"png with EICAR appended", typePNG, cat(png, []byte(eicar)), "68 bytes follow the PNG's IEND chunk"},
		{"png with one byte appended", typePNG, cat(png, []byte{0}), "1 bytes follow the PNG's IEND chunk"},
		{"png without IEND", typePNG, png[:len(png)-12], "PNG ends without an IEND chunk"},
		{"png chunk running past the end", typePNG, png[:len(png)-1], "runs past the end of the file"},
		{"jpeg with a ZIP appended", typeJPEG, cat(jpg, zipped), "bytes follow the JPEG's EOI marker"},
		{"jpeg with HTML appended", typeJPEG, cat(jpg, []byte("<html><script>x</script>")), "24 bytes follow the JPEG's EOI marker"},
		{"jpeg without EOI", typeJPEG, jpg[:len(jpg)-2], "JPEG ends without an EOI marker"},
		{"png carrying a ZIP in a chunk", typePNG, pngWithChunk(t, "zIPp", zipped), "carries a ZIP archive (local file header at byte"},
		{"png carrying a ZIP's directory without local headers", typePNG, pngWithChunk(t, "zIPp", cat(make([]byte, 200), zipped[bytes.Index(zipped, []byte("PK\x01\x02")):])), "end of central directory"},
		{"an end record whose directory cannot precede it is ignored", typePNG, pngWithChunk(t, "zIPp", zipped[bytes.Index(zipped, []byte("PK\x05\x06")):]), ""},
		{"png carrying an empty ZIP", typePNG, pngWithChunk(t, "zIPp", zipOfNothing(t)), "carries a ZIP archive (end of central directory"},
		{"pdf with a ZIP appended", typePDF, cat(pdf, zipped), "carries a ZIP archive (local file header at byte 594)"},
		{"pdf with a ZIP's local header only", typePDF, cat(pdf, headerOnly), "carries a ZIP archive (local file header"},
		{"png carrying a script in a text chunk", typePNG, pngWithChunk(t, "tEXt", []byte("Comment\x00<SCRIPT>alert(1)</SCRIPT>")), `carries HTML or script ("<SCRIPT"`},
		{"pdf carrying HTML after the header", typePDF, cat(pdf[:9], []byte("<html><body>hi</body></html>\n"), pdf[9:]), `("<html" at byte 9)`},
		{"pdf carrying an svg", typePDF, cat(pdf, []byte("<svg/onload=alert(1)>")), `"<svg"`},
		{"pdf carrying a doctype", typePDF, cat(pdf, []byte("<!DOCTYPE HTML>")), `"<!DOCTYPE HTML"`},
		{"pdf carrying php", typePDF, cat(pdf, []byte("<?php system($_GET['c']); ?>")), `"<?php"`},
		{"iframe at the very end", typePDF, cat(pdf, []byte("<iframe")), `"<iframe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := checkPolyglot(`"f"`, tt.declared, tt.content)
			switch {
			case tt.want == "" && d != nil:
				t.Fatalf("rejected: %s", d.reason)
			case tt.want != "" && d == nil:
				t.Fatalf("accepted; want a rejection containing %q", tt.want)
			case d != nil && (d.verdict != Rejected || !strings.Contains(d.reason, tt.want) || !strings.HasPrefix(d.reason, `"f": `)):
				t.Fatalf("got %s %q; want rejected, naming the file, containing %q", d.verdict, d.reason, tt.want)
			}
		})
	}
}

func zipOfNothing(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := zip.NewWriter(&b).Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFindZIPIgnoresRandomBytes: 32 MiB of random bytes hold about 500
// "PK\x03\x04"/"PK\x05\x06" signatures by chance; none has plausible fields.
func TestFindZIPIgnoresRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	b := make([]byte, 32<<20)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	sigs := bytes.Count(b, []byte("PK\x03\x04")) + bytes.Count(b, []byte("PK\x05\x06"))
	// Plant signatures with random fields too.
	for i := 0; i < 10000; i++ {
		off := rng.IntN(len(b) - 64)
		copy(b[off:], []string{"PK\x03\x04", "PK\x05\x06"}[i%2])
	}
	if off, what := findZIP(b); off >= 0 {
		t.Fatalf("random bytes (%d natural signatures, 10000 planted) taken for a ZIP: %s at %d", sigs, what, off)
	}
	if off, tag := findMarkup(b); off >= 0 {
		t.Fatalf("random bytes taken for markup: %q at %d", tag, off)
	}
}
