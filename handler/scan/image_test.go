package scan

import (
	"strings"
	"testing"
)

func TestCheckImage(t *testing.T) {
	png, jpg := cleanPNG(t), cleanJPEG(t)
	tests := []struct {
		name, declared string
		content        []byte
		maxPixels      int64
		want           string // substring of the reason; "" = accepted
	}{
		{"png", typePNG, png, DefaultMaxPixels, ""},
		{"jpeg", typeJPEG, jpg, DefaultMaxPixels, ""},
		{"png at the pixel limit", typePNG, png, 16 * 12, ""},
		{"png one pixel over the limit", typePNG, png, 16*12 - 1, "PNG is 16×12 pixels (192); at most 191 pixels are accepted"},
		{"jpeg over the limit", typeJPEG, jpg, 100, "JPEG is 16×12 pixels"},
		{"decompression bomb: 100000×100000 header", typePNG, pngHeader(t, 100000, 100000), DefaultMaxPixels, "PNG is 100000×100000 pixels (10000000000); at most 50000000"},
		{"zero width", typePNG, pngHeader(t, 0, 10), DefaultMaxPixels, "header cannot be read"},
		{"header only, no image data", typePNG, pngHeader(t, 10, 10), DefaultMaxPixels, "PNG cannot be decoded"},
		{"truncated png", typePNG, png[:len(png)/2], DefaultMaxPixels, "PNG cannot be decoded; it is truncated or corrupt"},
		{"png cut before IEND", typePNG, png[:len(png)-12], DefaultMaxPixels, "PNG cannot be decoded"},
		{"truncated jpeg", typeJPEG, jpg[:len(jpg)-10], DefaultMaxPixels, "JPEG cannot be decoded"},
		{"png signature only", typePNG, png[:8], DefaultMaxPixels, "PNG header cannot be read"},
		{"jpeg declared, png bytes", typeJPEG, png, DefaultMaxPixels, "JPEG header cannot be read"},
		{"corrupt png checksum", typePNG, func() []byte {
			b := append([]byte{}, png...)
			b[len(b)-20] ^= 0xFF // inside the IDAT data: its CRC no longer matches
			return b
		}(), DefaultMaxPixels, "PNG cannot be decoded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := checkImage(`"f"`, tt.declared, tt.content, tt.maxPixels)
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
