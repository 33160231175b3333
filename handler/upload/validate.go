package upload

import (
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
	"golang.org/x/text/unicode/norm"
)

// Limits of one upload request.
const (
	MaxFiles     = 2
	MaxFileSize  = 25 << 20 // 25 MiB
	MaxNameBytes = 255
)

// allowedTypes maps each accepted content type to the file extensions that
// may carry it (lower case, with the dot).
var allowedTypes = map[string][]string{
	"application/pdf": {".pdf"},
	"image/png":       {".png"},
	"image/jpeg":      {".jpg", ".jpeg"},
}

// AllowedContentTypes lists the accepted content types (for messages and UIs).
var AllowedContentTypes = []string{"application/pdf", "image/png", "image/jpeg"}

// FileSpec is one file a client declares before uploading it.
type FileSpec struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
}

// ValidateSpecs checks a whole upload request and returns the specs with
// names NFC-normalized and content types lower-cased. Every refusal is
// KindInvalid with a message naming the file.
func ValidateSpecs(specs []FileSpec) ([]FileSpec, error) {
	if len(specs) == 0 {
		return nil, domain.E(domain.KindInvalid, "declare at least one file")
	}
	if len(specs) > MaxFiles {
		return nil, domain.E(domain.KindInvalid, "at most %d files per upload (got %d)", MaxFiles, len(specs))
	}
	out := make([]FileSpec, len(specs))
	seen := map[string]bool{}
	for i, s := range specs {
		name, err := NormalizeName(s.Name)
		if err != nil {
			return nil, err
		}
		if key := strings.ToLower(name); seen[key] {
			return nil, domain.E(domain.KindInvalid, "file %d: name %q is used twice", i+1, name)
		} else {
			seen[key] = true
		}
		ct, err := checkType(name, s.ContentType)
		if err != nil {
			return nil, err
		}
		switch {
		case s.Size <= 0:
			return nil, domain.E(domain.KindInvalid, "file %q: size must be at least 1 byte", name)
		case s.Size > MaxFileSize:
			return nil, domain.E(domain.KindInvalid, "file %q: size %d exceeds the limit of %d bytes (25 MiB)", name, s.Size, MaxFileSize)
		}
		out[i] = FileSpec{Name: name, ContentType: ct, Size: s.Size}
	}
	return out, nil
}

func checkType(name, contentType string) (string, error) {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if ct == "" {
		return "", domain.E(domain.KindInvalid, "file %q: contentType is required (one of %s)", name, strings.Join(AllowedContentTypes, ", "))
	}
	exts, ok := allowedTypes[ct]
	if !ok {
		return "", domain.E(domain.KindInvalid, "file %q: content type %q is not allowed (one of %s)", name, contentType, strings.Join(AllowedContentTypes, ", "))
	}
	ext := strings.ToLower(path.Ext(name))
	for _, e := range exts {
		if ext == e {
			return ct, nil
		}
	}
	return "", domain.E(domain.KindInvalid, "file %q: extension %q does not match content type %s (expected %s)", name, ext, ct, strings.Join(exts, " or "))
}

// NormalizeName returns name in Unicode NFC after checking that it is a safe
// plain file name: not empty, at most 255 bytes, valid UTF-8, no path
// separators or "..", no control, bidi-control or Windows-reserved
// characters, no leading/trailing spaces or trailing dot, and not a reserved
// device name (con, prn, aux, nul, com1–9, lpt1–9, with any extension).
func NormalizeName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", domain.E(domain.KindInvalid, "file name is not valid UTF-8")
	}
	n := norm.NFC.String(name)
	q := quoteName(n)
	switch {
	case n == "":
		return "", domain.E(domain.KindInvalid, "file name is required")
	case len(n) > MaxNameBytes:
		return "", domain.E(domain.KindInvalid, "file name is %d bytes long; the limit is %d", len(n), MaxNameBytes)
	}
	for _, r := range n {
		switch {
		case r == '/' || r == '\\':
			return "", domain.E(domain.KindInvalid, "file name %s must not contain path separators", q)
		case unicode.IsControl(r):
			return "", domain.E(domain.KindInvalid, "file name %s must not contain control characters", q)
		case isBidiControl(r):
			return "", domain.E(domain.KindInvalid, "file name %s must not contain bidirectional control characters", q)
		case r == utf8.RuneError || r == '\uFEFF' || (r >= '\uFFF0' && r <= '\uFFFF'):
			return "", domain.E(domain.KindInvalid, "file name %s contains an invalid character", q)
		case strings.ContainsRune(`<>:"|?*`, r):
			return "", domain.E(domain.KindInvalid, "file name %s must not contain any of < > : \" | ? *", q)
		}
	}
	if strings.Contains(n, "..") {
		return "", domain.E(domain.KindInvalid, "file name %s must not contain \"..\"", q)
	}
	if strings.TrimSpace(n) != n || strings.HasSuffix(n, ".") || strings.HasPrefix(n, ".") {
		return "", domain.E(domain.KindInvalid, "file name %s must not start with a dot or space, or end with a dot or space", q)
	}
	stem, _, _ := strings.Cut(n, ".")
	if isReservedDevice(strings.TrimRight(stem, " ")) {
		return "", domain.E(domain.KindInvalid, "file name %s is a reserved device name", q)
	}
	return n, nil
}

// quoteName quotes a (possibly hostile) name for an error message:
// strconv.Quote escapes control and bidi characters so messages and logs
// cannot be visually spoofed; long names are cut.
func quoteName(n string) string {
	if len(n) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(n[cut]) {
			cut--
		}
		n = n[:cut] + "…"
	}
	return strconv.Quote(n)
}

// isBidiControl reports the Unicode bidirectional formatting characters
// (embeddings, overrides, isolates and marks) used to disguise extensions.
func isBidiControl(r rune) bool {
	switch {
	case r >= '\u202A' && r <= '\u202E', // LRE RLE PDF LRO RLO
		r >= '\u2066' && r <= '\u2069',              // LRI RLI FSI PDI
		r == '\u200E', r == '\u200F', r == '\u061C': // LRM RLM ALM
		return true
	}
	return false
}

// isReservedDevice reports Windows device names, case-insensitively,
// including the superscript-digit COM/LPT variants.
func isReservedDevice(stem string) bool {
	s := strings.ToLower(stem)
	switch s {
	case "con", "prn", "aux", "nul", "conin$", "conout$":
		return true
	}
	for _, p := range []string{"com", "lpt"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			switch rest {
			case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
				return true
			}
		}
	}
	return false
}
