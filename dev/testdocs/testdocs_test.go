package testdocs_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"

	"github.com/profileflow/profileflow/dev/testdocs"
	"github.com/profileflow/profileflow/handler/scan"
)

// The documents fill their size to within a few percent, never past it,
// and pass every stage of the scan pipeline (no engine): the PDF parses
// without active content, the PNG decodes and carries no payload.
func TestDocumentsAreValidAndSized(t *testing.T) {
	p := scan.New(scan.Options{})
	for _, size := range []int{1 << 20, 3 << 20} {
		pdf, err := testdocs.PDF(size)
		if err != nil {
			t.Fatal(err)
		}
		img, err := testdocs.PNG(size)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []scan.File{
			{Name: "a.pdf", DeclaredType: "application/pdf", Content: pdf},
			{Name: "a.png", DeclaredType: "image/png", Content: img},
		} {
			n := len(f.Content)
			if n > size || float64(n) < 0.9*float64(size) {
				t.Errorf("%s for %d bytes: %d bytes", f.Name, size, n)
			}
			f.DeclaredSize = int64(n)
			r, err := p.Scan(context.Background(), f)
			if err != nil || r.Verdict != scan.Clean {
				t.Errorf("%s for %d bytes: %+v, %v; want clean", f.Name, size, r, err)
			}
		}
		if got, want := testdocs.PDFStreams(pdf), size/(testdocs.PageTextBytes/4)/2; got < want {
			t.Errorf("PDF for %d bytes has %d FlateDecode streams, want at least %d", size, got, want)
		}
		m, err := png.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m.(*image.NRGBA); !ok || m.Bounds().Dx() != testdocs.PNGWidth {
			t.Errorf("PNG for %d bytes decodes to %T %v, want NRGBA %d wide", size, m, m.Bounds(), testdocs.PNGWidth)
		}
	}
}

func TestTooSmallIsAnError(t *testing.T) {
	if _, err := testdocs.PDF(1000); err == nil {
		t.Error("PDF(1000): no error")
	}
	if _, err := testdocs.PNG(1000); err == nil {
		t.Error("PNG(1000): no error")
	}
}

// The small PDF passes every stage of the scan pipeline (no engine), with
// or without a payload comment in its content stream.
func TestSmallPDFIsClean(t *testing.T) {
	p := scan.New(scan.Options{})
	for _, payload := range []string{"", "a marker line"} {
		pdf := testdocs.SmallPDF(payload)
		r, err := p.Scan(context.Background(), scan.File{Name: "e.pdf", DeclaredType: "application/pdf", DeclaredSize: int64(len(pdf)), Content: pdf})
		if err != nil || r.Verdict != scan.Clean {
			t.Errorf("SmallPDF(%q): %+v, %v; want clean", payload, r, err)
		}
	}
}
