package scan

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
)

// checkImage refuses a PNG or JPEG that the standard library cannot decode
// completely (truncated, corrupt). Its dimensions are read from the header
// first (DecodeConfig) and an image with a zero side or more than
// maxPixels pixels is refused without being decoded: a small file can
// declare an enormous canvas (a decompression bomb), and decoding
// allocates 4–8 bytes per pixel.
func checkImage(name, declared string, content []byte, maxPixels int64) *decision {
	decodeConfig, decode := png.DecodeConfig, png.Decode
	kind := "PNG"
	if declared == typeJPEG {
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
		kind = "JPEG"
	}
	cfg, err := decodeConfig(bytes.NewReader(content))
	if err != nil {
		return reject("%s: %s header cannot be read (%s)", name, kind, shorten(err.Error(), 120))
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	switch {
	case w <= 0 || h <= 0:
		return reject("%s: %s is %d×%d pixels; both sides must be at least 1", name, kind, w, h)
	case w*h > maxPixels:
		return reject("%s: %s is %d×%d pixels (%d); at most %d pixels are accepted", name, kind, w, h, w*h, maxPixels)
	}
	img, err := decode(bytes.NewReader(content))
	if err != nil {
		return reject("%s: %s cannot be decoded; it is truncated or corrupt (%s)", name, kind, shorten(err.Error(), 120))
	}
	if b := img.Bounds(); b != image.Rect(0, 0, cfg.Width, cfg.Height) {
		return reject("%s: %s decodes to %v, not the %d×%d its header declares", name, kind, b.Size(), w, h)
	}
	return nil
}
