package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pdfLimits bound the work of one PDF structure check.
type pdfLimits struct {
	maxBytes int64         // largest raw stream (the document size limit)
	timeout  time.Duration // wall time for parsing and inspecting
}

// Fixed bounds of the PDF check. pdfcpu keeps a copy of every raw stream
// (≤ the file size) and, for each object it parses, the object's text (at
// least 1 KiB) plus its parsed form: about 2 KiB per small object, so a
// file of many tiny objects costs far more memory than its size. The
// number of object reads (pdfMaxReads), reads of one offset
// (pdfMaxRereads) and the bytes read (twice the file plus 4 KiB per read)
// are therefore bounded while pdfcpu reads, before it builds the objects.
// What remains is linear in the file size: a hostile 25 MiB PDF (a
// cross-reference table of a million entries, or one dictionary of two
// million keys) still makes pdfcpu build about 150–300 MiB in a few
// seconds (BenchmarkPDFHostile), against about 2× the file for an
// ordinary PDF (BenchmarkPipeline).
const (
	pdfMaxObjects     = 50_000 // objects in the cross-reference table
	pdfMaxReads       = pdfMaxObjects + 1024
	pdfMaxRereads     = 16                  // reads starting at one offset
	pdfMaxDecodeBytes = 64 << 20            // decoded bytes of one object or xref stream
	pdfMaxDepth       = 100                 // nesting of arrays and dictionaries
	pdfMaxSteps       = 100 * pdfMaxObjects // objects and values visited by the inspection
	pdfMaxTrailers    = 256                 // classic trailer dictionaries inspected
	pdfTrailerBytes   = 64 << 10            // bytes after "trailer" handed to the parser
)

// errTooComplex ends a read or an inspection over the bounds above.
var errTooComplex = errors.New("too many objects to inspect")

// budgetReader is the io.ReadSeeker pdfcpu reads content through. pdfcpu
// seeks once for each object or stream it reads and reads ahead 4 KiB
// from there; budgetReader fails the read (errTooComplex) after
// pdfMaxReads seeks, after pdfMaxRereads seeks to one offset
// (cross-reference entries sharing an offset would make pdfcpu parse, and
// keep, the same object again and again), or after reading more than
// twice the content (a repair scan reads it all once more) plus 64 KiB
// plus 4 KiB per seek.
type budgetReader struct {
	r        *bytes.Reader
	seeks    int
	at       map[int64]int
	read     int64
	maxBytes int64
	err      error // the first budget error: pdfcpu skips objects it cannot read
}

func newBudgetReader(content []byte) *budgetReader {
	return &budgetReader{
		r:        bytes.NewReader(content),
		at:       map[int64]int{},
		maxBytes: 2*int64(len(content)) + 64<<10,
	}
}

func (b *budgetReader) Read(p []byte) (int, error) {
	limit := b.maxBytes + 4<<10*int64(b.seeks)
	if b.read >= limit {
		return 0, b.fail(fmt.Errorf("%w: more than %d bytes read", errTooComplex, limit))
	}
	if rest := limit - b.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *budgetReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := b.r.Seek(offset, whence)
	if err != nil {
		return pos, err
	}
	if b.seeks++; b.seeks > pdfMaxReads {
		return pos, b.fail(fmt.Errorf("%w: more than %d objects", errTooComplex, pdfMaxObjects))
	}
	if b.at[pos]++; b.at[pos] > pdfMaxRereads {
		return pos, b.fail(fmt.Errorf("%w: objects read %d times from byte %d", errTooComplex, b.at[pos], pos))
	}
	return pos, nil
}

func (b *budgetReader) fail(err error) error {
	if b.err == nil {
		b.err = err
	}
	return err
}

// checkPDF parses content with github.com/pdfcpu/pdfcpu (relaxed mode, the
// mode viewers use to open slightly broken files) and refuses, after
// OWASP's "active content" list for PDFs:
//   - a PDF pdfcpu cannot parse, or with an object it cannot parse
//     (malformed; what cannot be inspected is not shown to anyone);
//   - encryption (an /Encrypt entry in any trailer or xref stream), with or
//     without a user password: encrypted content cannot be inspected;
//   - JavaScript: a /JS entry, a JavaScript action (/S /JavaScript) or a
//     /JavaScript name tree, wherever it sits (e.g. /OpenAction, /AA);
//   - Launch actions (/S /Launch) anywhere;
//   - embedded files: an /EmbeddedFiles name tree, a file specification
//     with /EF, an /EmbeddedFile stream, a /FileAttachment annotation.
//
// Every object in the cross-reference table is inspected, reachable or
// not; names are compared after #xx decoding. Work is bounded by lim and the
// pdfMax constants; a PDF over them is refused as too complex. The error is
// non-nil (KindTransient) only when ctx ends.
func checkPDF(ctx context.Context, name string, content []byte, lim pdfLimits) (*decision, error) {
	cctx, cancel := context.WithTimeout(ctx, lim.timeout)
	defer cancel()
	timedOut := func() (*decision, error) {
		if err := alive(ctx, name); err != nil {
			return nil, err
		}
		return reject("%s: PDF structure too complex to check within %s", name, lim.timeout), nil
	}

	pc, err := readPDF(cctx, content, lim.maxBytes)
	if err != nil {
		switch {
		case cctx.Err() != nil:
			return timedOut()
		case errors.Is(err, errTooComplex):
			return reject("%s: PDF structure too complex to check (%s)", name, shorten(err.Error(), 160)), nil
		case isEncryptionError(err):
			return rejectEncrypted(name), nil
		}
		return reject("%s: PDF structure cannot be parsed (%s)", name, shorten(err.Error(), 160)), nil
	}
	if pc.Encrypt != nil {
		return rejectEncrypted(name), nil
	}
	if len(pc.Table) > pdfMaxObjects {
		return reject("%s: PDF has %d objects; at most %d are accepted", name, len(pc.Table), pdfMaxObjects), nil
	}
	enc, err := classicTrailerEncrypted(cctx, content)
	switch {
	case cctx.Err() != nil:
		return timedOut()
	case err != nil:
		return reject("%s: PDF structure cannot be parsed (%s)", name, err), nil
	case enc:
		return rejectEncrypted(name), nil
	}

	nrs := make([]int, 0, len(pc.Table))
	for nr, e := range pc.Table {
		if !e.Free {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)
	for _, nr := range nrs {
		if pc.Table[nr].Object == nil {
			return reject("%s: PDF structure cannot be parsed (object %d)", name, nr), nil
		}
	}

	w := &pdfWalker{ctx: cctx, table: pc.Table, seen: map[int]bool{}}
	roots := []struct {
		label string
		ref   *types.IndirectRef
	}{{"/Root", pc.Root}, {"/Info", pc.Info}}
	var f *pdfFinding
	for _, r := range roots {
		if r.ref != nil && f == nil && err == nil {
			f, err = w.walk(*r.ref, r.label)
		}
	}
	for _, nr := range nrs {
		if f != nil || err != nil {
			break
		}
		f, err = w.walk(types.IndirectRef{ObjectNumber: types.Integer(nr)}, "object "+strconv.Itoa(nr))
	}
	switch {
	case cctx.Err() != nil:
		return timedOut()
	case errors.Is(err, errTooComplex):
		return reject("%s: PDF structure too complex to check (%s)", name, err), nil
	case err != nil:
		return reject("%s: PDF structure cannot be parsed (%s)", name, shorten(err.Error(), 160)), nil
	case f == nil:
		return nil, nil
	case f.what == "encryption":
		return rejectEncrypted(name), nil
	}
	return reject("%s: PDF contains %s (at %s)", name, f.what, f.where), nil
}

func rejectEncrypted(name string) *decision {
	return reject("%s: PDF is encrypted or password-protected; upload it without encryption", name)
}

// readPDF builds pdfcpu's model of content: the cross-reference table with
// every object parsed and object streams decoded; content streams stay
// encoded. The configuration is built here, never read from or written to
// pdfcpu's per-user configuration directory. Reads over budgetReader's
// bounds end in errTooComplex; a panic inside the parser is returned as an
// error.
func readPDF(ctx context.Context, content []byte, maxStream int64) (pc *model.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			pc, err = nil, fmt.Errorf("parser failure: %s", shorten(fmt.Sprint(r), 120))
		}
	}()
	conf := &model.Configuration{
		Reader15:       true,
		ValidationMode: model.ValidationRelaxed,
		Offline:        true,
		Eol:            types.EolLF,
		Limits: model.ResourceLimits{
			MaxStreamBytes:       maxStream,
			MaxDecodeBytes:       pdfMaxDecodeBytes,
			MaxImagePixels:       DefaultMaxPixels,
			MaxImageBytes:        maxStream,
			MaxObjectCount:       pdfMaxObjects,
			MaxObjectStreamCount: pdfMaxObjects,
			MaxObjectStreamFirst: 16 << 20,
			MaxXRefEntries:       pdfMaxObjects,
			MaxRecursionDepth:    pdfMaxDepth,
		},
	}
	br := newBudgetReader(content)
	pc, err = pdfcpu.ReadWithContext(ctx, br, conf)
	if br.err != nil {
		return nil, br.err
	}
	return pc, err
}

// isEncryptionError reports pdfcpu's refusals to decrypt (a user
// password is needed, or the encryption is unsupported or broken).
func isEncryptionError(err error) bool {
	for _, target := range []error{pdfcpu.ErrWrongPassword, pdfcpu.ErrEncrypted, pdfcpu.ErrUnsupportedEncryptionFeature, pdfcpu.ErrMalformedEncryption} {
		if errors.Is(err, target) {
			return true
		}
	}
	return strings.Contains(strings.ToLower(err.Error()), "encrypt")
}

// classicTrailerEncrypted reports whether a classic trailer dictionary
// (the one after the "trailer" keyword) has an /Encrypt entry. pdfcpu keeps
// only an indirect /Encrypt; a direct dictionary would otherwise pass
// unnoticed. Each candidate is parsed with pdfcpu's object parser, the
// last trailer first; text that does not parse as a dictionary is not a
// trailer. More than pdfMaxTrailers trailers is an error.
func classicTrailerEncrypted(ctx context.Context, content []byte) (bool, error) {
	end := len(content)
	for n := 0; ; n++ {
		i := bytes.LastIndex(content[:end], []byte("trailer"))
		if i < 0 {
			return false, nil
		}
		if n == pdfMaxTrailers {
			return false, fmt.Errorf("more than %d trailers", pdfMaxTrailers)
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		end = i
		start := i + len("trailer")
		line := string(content[start:min(len(content), start+pdfTrailerBytes)])
		o, err := model.ParseObjectContext(ctx, &line, 0, pdfMaxDepth)
		if err != nil {
			continue
		}
		if d, ok := o.(types.Dict); ok {
			if _, enc := d["Encrypt"]; enc {
				return true, nil
			}
		}
	}
}

// pdfFinding is the first active content found: what it is and where
// (a path of keys from the trailer, or the object number).
type pdfFinding struct {
	what, where string
}

// pathNode is one step of the path to an object; the path is rendered
// only when something is found.
type pathNode struct {
	parent *pathNode
	label  string
}

func (n *pathNode) String() string {
	var parts []string
	for ; n != nil; n = n.parent {
		parts = append(parts, n.label)
	}
	slices.Reverse(parts)
	return strings.Join(parts, "")
}

// pdfWalker visits objects depth-first without recursion, each indirect
// object once.
type pdfWalker struct {
	ctx   context.Context
	table map[int]*model.XRefTableEntry
	seen  map[int]bool
	steps int
}

type walkItem struct {
	obj  types.Object
	path *pathNode
}

func (w *pdfWalker) walk(start types.Object, label string) (*pdfFinding, error) {
	stack := []walkItem{{start, &pathNode{label: label}}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if w.steps++; w.steps > pdfMaxSteps {
			return nil, errTooComplex
		}
		if w.steps%4096 == 0 {
			if err := w.ctx.Err(); err != nil {
				return nil, err
			}
		}
		var d types.Dict
		switch o := it.obj.(type) {
		case types.IndirectRef:
			nr := o.ObjectNumber.Value()
			if w.seen[nr] {
				continue
			}
			w.seen[nr] = true
			if e := w.table[nr]; e != nil && !e.Free && e.Object != nil {
				stack = append(stack, walkItem{e.Object, it.path})
			}
			continue
		case *types.IndirectRef:
			if o != nil {
				stack = append(stack, walkItem{*o, it.path})
			}
			continue
		case types.LazyObjectStreamObject:
			if err := w.decodeLazy(&o, &stack, it.path); err != nil {
				return nil, err
			}
			continue
		case *types.LazyObjectStreamObject:
			if o != nil {
				if err := w.decodeLazy(o, &stack, it.path); err != nil {
					return nil, err
				}
			}
			continue
		case types.Array:
			for i := len(o) - 1; i >= 0; i-- {
				stack = append(stack, walkItem{o[i], &pathNode{it.path, "[" + strconv.Itoa(i) + "]"}})
			}
			continue
		case types.Dict:
			d = o
		case types.StreamDict:
			d = o.Dict
		case *types.StreamDict:
			d = o.Dict
		case types.ObjectStreamDict:
			d = o.Dict
		case *types.ObjectStreamDict:
			d = o.Dict
		case types.XRefStreamDict:
			d = o.Dict
		case *types.XRefStreamDict:
			d = o.Dict
		default:
			continue
		}
		if what, key := w.activeContent(d); what != "" {
			return &pdfFinding{what: what, where: (&pathNode{it.path, "/" + key}).String()}, nil
		}
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i := len(keys) - 1; i >= 0; i-- {
			stack = append(stack, walkItem{d[keys[i]], &pathNode{it.path, "/" + keys[i]}})
		}
	}
	return nil, nil
}

// decodeLazy parses an object kept compressed in an object stream (pdfcpu
// parses those on first use) and pushes it onto the stack.
func (w *pdfWalker) decodeLazy(l *types.LazyObjectStreamObject, stack *[]walkItem, path *pathNode) error {
	o, err := l.DecodedObject(w.ctx)
	if err != nil {
		return fmt.Errorf("object in an object stream at %s: %w", path, err)
	}
	*stack = append(*stack, walkItem{o, path})
	return nil
}

// activeContent names what d carries that is refused, and the key that
// shows it; "" when nothing.
func (w *pdfWalker) activeContent(d types.Dict) (what, key string) {
	has := func(k string) bool { _, ok := d[k]; return ok }
	switch {
	case has("Encrypt"):
		return "encryption", "Encrypt"
	case has("JS"):
		return "JavaScript", "JS"
	case has("JavaScript"):
		return "JavaScript", "JavaScript"
	case has("EmbeddedFiles"):
		return "embedded files", "EmbeddedFiles"
	case has("EF"):
		return "an embedded file", "EF"
	}
	switch w.name(d["S"]) {
	case "JavaScript":
		return "JavaScript", "S"
	case "Launch":
		return "a Launch action", "S"
	}
	if w.name(d["Type"]) == "EmbeddedFile" {
		return "an embedded file", "Type"
	}
	if w.name(d["Subtype"]) == "FileAttachment" {
		return "a file attachment annotation", "Subtype"
	}
	return "", ""
}

// name returns o as a name, following one indirect reference (also into
// an object stream); "" if o is not a name.
func (w *pdfWalker) name(o types.Object) string {
	if r, ok := o.(types.IndirectRef); ok {
		if e := w.table[r.ObjectNumber.Value()]; e != nil && !e.Free {
			o = e.Object
		}
	}
	if l, ok := o.(types.LazyObjectStreamObject); ok {
		o, _ = l.DecodedObject(w.ctx) // a decoding error is reported when the object itself is visited
	}
	if n, ok := o.(types.Name); ok {
		return string(n)
	}
	return ""
}

// shorten makes a library's message fit a reason: unprintable characters
// (which may come from the document) become '?', and the result is cut to
// at most n bytes on a rune boundary.
func shorten(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
