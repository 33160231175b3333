// Package testdocs builds valid evidence documents for tests, benchmarks
// and memory measurements: large ones (a PDF that passes the scan's
// structure checks and a PNG that decodes, each as close to a given size
// as the format allows without exceeding it; deterministic, free of
// anything an antivirus engine or the scan refuses) and a small one-page
// PDF that can carry a payload such as the EICAR test string (SmallPDF).
package testdocs

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"strings"
)

// PageTextBytes is the uncompressed size of each page's content stream in
// PDF (256 KiB of text operators).
const PageTextBytes = 256 << 10

// PDF returns a PDF (ISO 32000-1 §7.5: header, objects, a classic
// cross-reference table with exact offsets, trailer) of at most size
// bytes: a catalog, a page tree, one Type1 font and as many pages as fit,
// each with its own FlateDecode content stream of PageTextBytes of text
// operators showing random words (about 4× its compressed size). No
// JavaScript, actions, embedded files or encryption. It fails when size
// is below 64 KiB.
func PDF(size int) ([]byte, error) {
	if size < 64<<10 {
		return nil, fmt.Errorf("testdocs: a PDF of at most %d bytes holds no page", size)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var streams [][]byte
	total := 4096 // header, catalog, page tree, font, trailer
	for {
		z, err := deflate(pageText(rng, PageTextBytes))
		if err != nil {
			return nil, err
		}
		// The stream object, its page object, two xref entries and the
		// page tree's reference.
		cost := len(z) + 200
		if total+cost > size {
			break
		}
		streams = append(streams, z)
		total += cost
	}
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>"}
	kids := make([]string, len(streams))
	for i := range kids {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	objs = append(objs,
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /Resources << /Font << /F1 3 0 R >> >> >>", strings.Join(kids, " "), len(kids)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i, z := range streams {
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>", 5+2*i),
			fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", len(z), z))
	}
	var b bytes.Buffer
	b.Grow(size)
	writePDF(&b, objs)
	if b.Len() > size {
		return nil, fmt.Errorf("testdocs: PDF is %d bytes, more than %d", b.Len(), size)
	}
	return b.Bytes(), nil
}

// PDFStreams counts the FlateDecode streams of a PDF made by PDF.
func PDFStreams(pdf []byte) int { return bytes.Count(pdf, []byte("/FlateDecode")) }

// pageText is n bytes of PDF text operators showing random words.
func pageText(rng *rand.Rand, n int) []byte {
	words := strings.Fields("the profile change request approver document passport address evidence scan clean " +
		"signature review owner field value phone email pending approved rejected marriage certificate deed")
	var b bytes.Buffer
	b.Grow(n + 256)
	for b.Len() < n {
		fmt.Fprintf(&b, "BT /F1 %d Tf %d %d Td (", 8+rng.IntN(8), rng.IntN(600), rng.IntN(800))
		for range 4 + rng.IntN(8) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString(") Tj ET\n")
	}
	return b.Bytes()[:n]
}

func deflate(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// PNGWidth is the width in pixels of the images PNG makes.
const PNGWidth = 2048

// PNG returns a PNG of at most size bytes: a PNGWidth-pixel-wide RGBA
// image (8 bits per channel, non-premultiplied) of random pixels and
// random alpha, as tall as fits. Noise does not compress, so the file is
// about 4 bytes per pixel (6.5 megapixels at 25 MiB) and decodes to about
// as many bytes as it has. It fails when size is below 64 KiB.
func PNG(size int) ([]byte, error) {
	const margin = 32 << 10 // signature, IHDR, IDAT chunk headers, zlib and deflate framing, IEND
	if size < 2*margin {
		return nil, fmt.Errorf("testdocs: a PNG of at most %d bytes is too small", size)
	}
	h := (size - margin) / (4*PNGWidth + 1) // one filter byte per row
	img := image.NewNRGBA(image.Rect(0, 0, PNGWidth, h))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i+8 <= len(img.Pix); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			img.Pix[i+j] = byte(v >> (8 * j))
		}
	}
	var b bytes.Buffer
	b.Grow(size)
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	if b.Len() > size {
		return nil, fmt.Errorf("testdocs: PNG is %d bytes, more than %d", b.Len(), size)
	}
	return b.Bytes(), nil
}

// SmallPDF is a one-page PDF (ISO 32000-1 §7.5, exact cross-reference
// offsets) whose FlateDecode content stream shows "evidence" and, when
// payload is not empty, carries it as a comment line: with the EICAR test
// string the scan's antivirus stage finds it.
func SmallPDF(payload string) []byte {
	var stream bytes.Buffer
	zw := zlib.NewWriter(&stream)
	fmt.Fprintf(zw, "BT /F1 12 Tf 72 720 Td (%s) Tj ET", "evidence")
	if payload != "" {
		fmt.Fprintf(zw, "\n%% %s\n", payload)
	}
	zw.Close()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", stream.Len(), stream.Bytes()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	writePDF(&b, objs)
	return b.Bytes()
}

// writePDF writes a PDF of objs (object i+1 = objs[i], the catalog first)
// to b: header, objects, a classic cross-reference table with exact byte
// offsets, trailer (ISO 32000-1 §7.5).
func writePDF(b *bytes.Buffer, objs []string) {
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
}
