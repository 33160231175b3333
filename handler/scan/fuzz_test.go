package scan

import (
	"bytes"
	"context"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/gabriel-vasile/mimetype"
	"github.com/profileflow/profileflow/handler/domain"
)

// fuzzFiles are the declared name and type a fuzz input is scanned as,
// chosen by the input's kind byte.
var fuzzFiles = []struct{ name, declared string }{
	{"f.pdf", typePDF},
	{"f.png", typePNG},
	{"f.jpg", typeJPEG},
}

func fuzzSeeds(f *testing.F) {
	png, jpg := cleanPNG(f), cleanJPEG(f)
	for _, s := range [][]byte{
		cleanPDF(), eicarPDF(f), pdfWithJSOpenAction(), pdfWithLaunch(), pdfWithEmbeddedFiles(),
		encryptedPDF(f, ""), rewritePDF(f, cleanPDF()),
		objStmPDF(f, "/OpenAction 6 0 R ", "<< /S /JavaScript /JS (x) >>"),
		png, png[:len(png)/2], cat(png, zipOf(f, "a", []byte("b"))), pngWithChunk(f, "tEXt", []byte("c\x00<script>")),
		jpg, jpg[:len(jpg)-2], cat(jpg, []byte("<html>")),
		[]byte(eicar), []byte("<!doctype html><html></html>"), nil,
	} {
		for kind := range fuzzFiles {
			f.Add(s, uint8(kind))
		}
	}
}

// FuzzPipeline scans arbitrary bytes as each declared type. It must never
// panic, must always give a complete Result or a transient error, and must
// never call Clean bytes that do not sniff as the declared type or (for
// images) do not decode. Size and pixel limits are lowered and a deadline
// set so that each input is bounded in time and memory.
func FuzzPipeline(f *testing.F) {
	fuzzSeeds(f)
	p := New(Options{MaxSize: 1 << 20, MaxPixels: 1 << 20, StructureTimeout: 2 * time.Second, Engine: nopEngine{}})
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		ff := fuzzFiles[int(kind)%len(fuzzFiles)]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := p.Scan(ctx, File{Name: ff.name, DeclaredType: ff.declared, DeclaredSize: int64(len(data)), Content: data})
		if err != nil {
			if !domain.Is(err, domain.KindTransient) {
				t.Fatalf("error %v is not transient", err)
			}
			return
		}
		if len(r.SHA256) != 64 || r.Size != int64(len(data)) || r.At.IsZero() || r.Engine == "" || r.Stage == "" {
			t.Fatalf("incomplete result %+v", r)
		}
		switch r.Verdict {
		case Clean:
			if !mimetype.Detect(data).Is(ff.declared) {
				t.Fatalf("clean, but the bytes sniff as %s, not %s", mimetype.Detect(data), ff.declared)
			}
			var derr error
			switch ff.declared {
			case typePNG:
				_, derr = png.Decode(bytes.NewReader(data))
			case typeJPEG:
				_, derr = jpeg.Decode(bytes.NewReader(data))
			}
			if derr != nil {
				t.Fatalf("clean, but the image does not decode: %v", derr)
			}
		case Rejected:
			if r.Reason == "" {
				t.Fatal("rejected without a reason")
			}
		default:
			t.Fatalf("verdict %q from a no-op engine", r.Verdict)
		}
	})
}

// FuzzPolyglotWalkers runs the byte-level walkers over arbitrary bytes:
// they must never panic and never return an end beyond the input.
func FuzzPolyglotWalkers(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint8) {
		if end, err := pngEnd(data); err == nil && (end < 8 || end > len(data)) {
			t.Fatalf("png end %d outside 8..%d", end, len(data))
		}
		if end, err := jpegEnd(data); err == nil && (end < 4 || end > len(data)) {
			t.Fatalf("jpeg end %d outside 4..%d", end, len(data))
		}
		if off, _ := findZIP(data); off >= len(data) {
			t.Fatalf("zip offset %d beyond %d", off, len(data))
		}
		if off, tag := findMarkup(data); off >= 0 && !hasFoldPrefix(data[off:], string(bytes.ToLower([]byte(tag)))) {
			t.Fatalf("markup %q not at %d", tag, off)
		}
		for _, ff := range fuzzFiles {
			_ = checkPolyglot(`"f"`, ff.declared, data)
		}
	})
}
