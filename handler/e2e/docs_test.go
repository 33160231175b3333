package e2e

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// eicar is the EICAR anti-virus test string (eicar.org): harmless, and
// detected by every engine; the local clamd has a signature for it.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// pdfDoc builds a one-page PDF whose content stream (FlateDecode) carries
// payload, with a correct cross-reference table.
func pdfDoc(payload string) []byte {
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
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// pngDoc is a small, fully decodable PNG.
func pngDoc() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

var nextProfile atomic.Int32

// newProfile creates a profile of its own for a test (field locks make
// tests that leave requests open need one each): id 2000+n, owner
// user-<id>, phone +1555020<id>.
func newProfile(t *testing.T) (id, owner, phone string) {
	t.Helper()
	n := 2000 + nextProfile.Add(1)
	id, owner, phone = fmt.Sprint(n), fmt.Sprintf("user-%d", n), fmt.Sprintf("+1555020%d", n)
	_, err := sys.Profiles.CreateProfile(context.Background(), domain.Profile{ID: id, Owner: owner, FirstName: "Ada", LastName: "Lovelace",
		MaritalStatus: "Single", Phone: phone, Version: 1, UpdatedAt: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return id, owner, phone
}
