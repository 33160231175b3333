package scan

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// checkPolyglot refuses a document that is also another kind of file — a
// polyglot defeats checks of the leading magic bytes alone:
//   - data after a PNG's IEND chunk or a JPEG's EOI marker (ZIP archives,
//     scripts and executables are appended there);
//   - a ZIP local file header or end-of-central-directory record anywhere
//     (each signature is checked for plausible fields, so compressed data
//     that happens to contain "PK\x03\x04" does not count);
//   - an HTML or script tag anywhere (<html, <head, <body, <script,
//     <iframe, <svg, <!doctype html, <?php; case-insensitive), which a
//     browser sniffing the content could run.
//
// The checks read bytes and never decode; content has passed the sniff
// and structure stages, so the image framing is known to be sound.
func checkPolyglot(name, declared string, content []byte) *decision {
	switch declared {
	case typePNG:
		end, err := pngEnd(content)
		if err != nil {
			return reject("%s: %v", name, err)
		}
		if extra := len(content) - end; extra > 0 {
			return reject("%s: %d bytes follow the PNG's IEND chunk (an appended payload)", name, extra)
		}
	case typeJPEG:
		end, err := jpegEnd(content)
		if err != nil {
			return reject("%s: %v", name, err)
		}
		if extra := len(content) - end; extra > 0 {
			return reject("%s: %d bytes follow the JPEG's EOI marker (an appended payload)", name, extra)
		}
	}
	if off, what := findZIP(content); off >= 0 {
		return reject("%s: carries a ZIP archive (%s at byte %d)", name, what, off)
	}
	if off, tag := findMarkup(content); off >= 0 {
		return reject("%s: carries HTML or script (%q at byte %d)", name, tag, off)
	}
	return nil
}

// pngEnd returns the offset just past the IEND chunk, walking the chunk
// framing (length, type, data, CRC) from the signature.
func pngEnd(b []byte) (int, error) {
	off := 8 // signature
	for {
		if len(b)-off < 8 {
			return 0, fmt.Errorf("PNG ends without an IEND chunk")
		}
		n := int64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		next := int64(off) + 12 + n
		if next > int64(len(b)) {
			return 0, fmt.Errorf("PNG chunk %q at byte %d runs past the end of the file", typ, off)
		}
		off = int(next)
		if typ == "IEND" {
			return off, nil
		}
	}
}

// jpegEnd returns the offset just past the EOI marker, walking the marker
// segments from SOI and skipping entropy-coded data after each SOS (where
// 0xFF is followed by 0x00 stuffing, a restart marker or fill bytes).
func jpegEnd(b []byte) (int, error) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xD8 {
		return 0, fmt.Errorf("JPEG does not start with SOI")
	}
	off := 2
	for {
		if off < len(b) && b[off] != 0xFF {
			// Extraneous bytes between segments: skipped, as libjpeg
			// and Go's decoder do.
			i := bytes.IndexByte(b[off:], 0xFF)
			if i < 0 {
				return 0, fmt.Errorf("JPEG ends without an EOI marker")
			}
			off += i
		}
		for off < len(b) && b[off] == 0xFF { // fill bytes
			off++
		}
		if off >= len(b) {
			return 0, fmt.Errorf("JPEG ends without an EOI marker")
		}
		m := b[off]
		off++
		switch {
		case m == 0xD9: // EOI
			return off, nil
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // TEM, RSTn: no length
			continue
		}
		if len(b)-off < 2 {
			return 0, fmt.Errorf("JPEG ends inside a marker segment")
		}
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n < 2 || off+n > len(b) {
			return 0, fmt.Errorf("JPEG segment at byte %d runs past the end of the file", off-2)
		}
		off += n
		if m != 0xDA { // not SOS
			continue
		}
		for { // entropy-coded data
			i := bytes.IndexByte(b[off:], 0xFF)
			if i < 0 || off+i+1 >= len(b) {
				return 0, fmt.Errorf("JPEG ends without an EOI marker")
			}
			off += i
			if c := b[off+1]; c == 0x00 || (c >= 0xD0 && c <= 0xD7) {
				off += 2
				continue
			}
			if b[off+1] == 0xFF { // fill byte before a marker
				off++
				continue
			}
			break
		}
	}
}

// findZIP returns the offset of the first plausible ZIP local file header
// or end-of-central-directory record, and which; -1 if none. Plausible
// means the fixed fields are what a ZIP writer produces: for a local file
// header a version ≤ 6.3, a known compression method and a 1–1024 byte
// name without control characters inside the file; for an
// end-of-central-directory record a single-disk archive whose central
// directory lies before the record (or ZIP64 markers) and whose comment
// fits the file. Random bytes pass with a probability far below 2⁻⁴⁰ per
// position.
func findZIP(b []byte) (int, string) {
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("PK"))
		if i < 0 {
			return -1, ""
		}
		off += i
		if len(b)-off >= 4 {
			switch {
			case b[off+2] == 3 && b[off+3] == 4 && plausibleLocalHeader(b, off):
				return off, "local file header"
			case b[off+2] == 5 && b[off+3] == 6 && plausibleEndOfDirectory(b, off):
				return off, "end of central directory"
			}
		}
		off++
	}
}

func plausibleLocalHeader(b []byte, off int) bool {
	if len(b)-off < 30 {
		return false
	}
	h := b[off:]
	version := binary.LittleEndian.Uint16(h[4:])
	method := binary.LittleEndian.Uint16(h[8:])
	nameLen := int(binary.LittleEndian.Uint16(h[26:]))
	if version > 63 || nameLen == 0 || nameLen > 1024 || 30+nameLen > len(h) {
		return false
	}
	switch method {
	case 0, 1, 6, 8, 9, 12, 14, 19, 93, 95, 96, 97, 98, 99:
	default:
		return false
	}
	for _, c := range h[30 : 30+nameLen] {
		if c < 0x20 || c == 0x7F {
			return false
		}
	}
	return true
}

func plausibleEndOfDirectory(b []byte, off int) bool {
	if len(b)-off < 22 {
		return false
	}
	h := b[off:]
	disk := binary.LittleEndian.Uint16(h[4:])
	dirDisk := binary.LittleEndian.Uint16(h[6:])
	entriesHere := binary.LittleEndian.Uint16(h[8:])
	entries := binary.LittleEndian.Uint16(h[10:])
	dirSize := binary.LittleEndian.Uint32(h[12:])
	dirOffset := binary.LittleEndian.Uint32(h[16:])
	commentLen := int(binary.LittleEndian.Uint16(h[20:]))
	if disk != dirDisk || entriesHere != entries || 22+commentLen > len(h) {
		return false
	}
	if dirOffset == 0xFFFFFFFF || entries == 0xFFFF { // ZIP64
		return true
	}
	if entries == 0 {
		return dirSize == 0
	}
	return uint64(dirOffset)+uint64(dirSize) <= uint64(off) && uint64(dirSize) >= 46*uint64(entries)
}

// markupTags are the tag openings refused anywhere in a document, lower
// case.
var markupTags = []string{"<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<svg", "<?php"}

// findMarkup returns the offset of the first HTML or script tag opening
// (case-insensitive, followed by white space, '>', '/' or the end) and
// the tag; -1 if none.
func findMarkup(b []byte) (int, string) {
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '<')
		if i < 0 {
			return -1, ""
		}
		off += i
		for _, tag := range markupTags {
			if hasFoldPrefix(b[off:], tag) {
				end := off + len(tag)
				if end == len(b) || isTagDelimiter(b[end]) {
					return off, string(b[off:end])
				}
			}
		}
		off++
	}
}

// hasFoldPrefix reports whether b starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasFoldPrefix(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// isTagDelimiter reports the bytes that may end a tag name: white space,
// '>' or '/'.
func isTagDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '>', '/':
		return true
	}
	return false
}
