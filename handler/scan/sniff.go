package scan

import (
	"path"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// Accepted content types.
const (
	typePDF  = "application/pdf"
	typePNG  = "image/png"
	typeJPEG = "image/jpeg"
)

// typeExtensions maps each accepted content type to the file extensions
// (lower case, with the dot) that may carry it; the same allow-list as
// upload.ValidateSpecs applies when the upload is declared.
var typeExtensions = map[string][]string{
	typePDF:  {".pdf"},
	typePNG:  {".png"},
	typeJPEG: {".jpg", ".jpeg"},
}

// normalizeType lower-cases a declared content type and drops parameters
// and surrounding space ("Image/PNG; x=y" → "image/png").
func normalizeType(t string) string {
	t, _, _ = strings.Cut(t, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// checkType refuses a document whose declared type is not accepted, whose
// file name's extension does not fit the declared type, or whose bytes
// sniff (github.com/gabriel-vasile/mimetype, from the first 3 KiB) as
// another type than the declared one. The declared type and name come from
// the uploader and are never trusted on their own (OWASP File Upload Cheat
// Sheet: validate the type from the content, allow-list extensions).
func checkType(name, fileName, declared string, content []byte) *decision {
	exts, ok := typeExtensions[declared]
	if !ok {
		return reject("%s is declared as %q; accepted types are %s, %s and %s", name, declared, typePDF, typePNG, typeJPEG)
	}
	ext := strings.ToLower(path.Ext(fileName))
	fits := false
	for _, e := range exts {
		fits = fits || ext == e
	}
	if !fits {
		return reject("%s: extension %q does not fit the declared type %s (expected %s)", name, ext, declared, strings.Join(exts, " or "))
	}
	if detected := mimetype.Detect(content); !detected.Is(declared) {
		return reject("%s: content is %s, not the declared %s", name, detected.String(), declared)
	}
	return nil
}
