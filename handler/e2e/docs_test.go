package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/testdocs"
	"github.com/profileflow/profileflow/handler/domain"
)

// eicar is the EICAR anti-virus test string (eicar.org): harmless, and
// detected by every engine; the local clamd has a signature for it.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// pdfDoc is testdocs.SmallPDF: a one-page PDF carrying payload.
func pdfDoc(payload string) []byte { return testdocs.SmallPDF(payload) }

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
