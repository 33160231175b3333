package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// Stages, in the order they run; Result.Stage names the one that decided.
// A Clean result names StageAntivirus, the last stage, also when the
// pipeline has no engine (Result.Engine is then "none").
const (
	StageLimits    = "limits"    // size: not empty, ≤ MaxSize, ≤ the declared size
	StageSniff     = "sniff"     // content type from the bytes = declared type; extension fits
	StageStructure = "structure" // PDF parsed without active content; image decodes
	StagePolyglot  = "polyglot"  // no ZIP/HTML payload, nothing after the image's end
	StageAntivirus = "antivirus" // the engine's finding
)

// Defaults of Options.
const (
	// DefaultMaxPixels bounds an image's width × height before it is
	// decoded (50 megapixels): a small file can declare a huge canvas, a
	// decompression bomb (OWASP File Upload Cheat Sheet), and the standard
	// library's decoders allocate 1 to 8 bytes per pixel, so up to 400 MB
	// at this limit.
	DefaultMaxPixels = 50_000_000
	// DefaultStructureTimeout bounds the PDF structure check of one file.
	DefaultStructureTimeout = 30 * time.Second
)

// Options configure a Pipeline. Zero values take the defaults.
type Options struct {
	// MaxSize is the largest accepted document in bytes; default
	// upload.MaxFileSize (25 MiB).
	MaxSize int64
	// Engine is the antivirus engine; nil runs no antivirus and records the
	// engine as "none".
	Engine Engine
	// EngineName names Engine in results decided before the engine ran
	// (e.g. "ClamAV"); a Finding's own Engine takes precedence. Default
	// "unknown"; without an Engine it is always "none".
	EngineName string
	// Now gives the verdict time (stored in UTC); default time.Now.
	Now func() time.Time
	// MaxPixels bounds width × height of a PNG or JPEG, read from its
	// header before decoding; default DefaultMaxPixels.
	MaxPixels int64
	// StructureTimeout bounds parsing one PDF; a PDF that takes longer is
	// rejected as too complex. Default DefaultStructureTimeout.
	StructureTimeout time.Duration
}

// Pipeline runs the scan stages over documents. It holds no per-document
// state: one Pipeline may scan many documents concurrently.
type Pipeline struct {
	maxSize    int64
	engine     Engine
	engineName string
	now        func() time.Time
	maxPixels  int64
	pdfTimeout time.Duration
}

// New returns a Pipeline with opts, defaults filled in.
func New(opts Options) *Pipeline {
	p := &Pipeline{
		maxSize:    opts.MaxSize,
		engine:     opts.Engine,
		engineName: opts.EngineName,
		now:        opts.Now,
		maxPixels:  opts.MaxPixels,
		pdfTimeout: opts.StructureTimeout,
	}
	if p.maxSize <= 0 {
		p.maxSize = upload.MaxFileSize
	}
	switch {
	case p.engine == nil:
		p.engineName = "none"
	case p.engineName == "":
		p.engineName = "unknown"
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.maxPixels <= 0 {
		p.maxPixels = DefaultMaxPixels
	}
	if p.pdfTimeout <= 0 {
		p.pdfTimeout = DefaultStructureTimeout
	}
	return p
}

// decision is a stage's refusal (or the antivirus stage's verdict).
type decision struct {
	verdict   Verdict
	reason    string
	signature string
	engine    string
}

func reject(format string, args ...any) *decision {
	return &decision{verdict: Rejected, reason: fmt.Sprintf(format, args...)}
}

// Scan runs the stages over f in order — limits, sniff, structure (PDF or
// image), polyglot, antivirus — and returns the verdict of the first stage
// that refuses f, or Clean when none does. Every Result carries the SHA-256
// (hex) and size of f.Content, the engine and the time (UTC).
//
// Only "try again later" is an error: a domain.KindTransient error wrapping
// the cause when the engine is unreachable or timed out, or when ctx ends
// before a verdict. Bad content is never an error: it is a Rejected or
// Infected Result whose Reason names the file, and an engine's permanent
// refusal (ErrNotScanned) is an Error Result ("not scanned: …").
func (p *Pipeline) Scan(ctx context.Context, f File) (Result, error) {
	sum := sha256.Sum256(f.Content)
	res := Result{
		Engine: p.engineName,
		SHA256: hex.EncodeToString(sum[:]),
		Size:   int64(len(f.Content)),
	}
	stage, d, err := p.run(ctx, f)
	if err != nil {
		return Result{}, err
	}
	res.Stage = stage
	if d == nil {
		res.Verdict = Clean
	} else {
		res.Verdict, res.Reason, res.Signature = d.verdict, d.reason, d.signature
		if d.engine != "" {
			res.Engine = d.engine
		}
	}
	res.At = p.now().UTC()
	return res, nil
}

// run returns the deciding stage and its decision (nil: clean).
func (p *Pipeline) run(ctx context.Context, f File) (string, *decision, error) {
	name := quoteName(f.Name)
	declared := normalizeType(f.DeclaredType)
	if d := checkLimits(name, f, p.maxSize); d != nil {
		return StageLimits, d, nil
	}
	if d := checkType(name, f.Name, declared, f.Content); d != nil {
		return StageSniff, d, nil
	}
	if err := alive(ctx, name); err != nil {
		return "", nil, err
	}
	var d *decision
	if declared == typePDF {
		var err error
		if d, err = checkPDF(ctx, name, f.Content, pdfLimits{maxBytes: p.maxSize, timeout: p.pdfTimeout}); err != nil {
			return "", nil, err
		}
	} else {
		d = checkImage(name, declared, f.Content, p.maxPixels)
	}
	if d != nil {
		return StageStructure, d, nil
	}
	if d := checkPolyglot(name, declared, f.Content); d != nil {
		return StagePolyglot, d, nil
	}
	if err := alive(ctx, name); err != nil {
		return "", nil, err
	}
	d, err := runEngine(ctx, p.engine, name, f.Content)
	if err != nil {
		return "", nil, err
	}
	return StageAntivirus, d, nil
}

// alive reports the end of ctx as a transient error: the scan was
// abandoned, not decided.
func alive(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return domain.Wrap(domain.KindTransient, err, "scan of %s interrupted; try again later", name)
	}
	return nil
}

// quoteName quotes a (possibly hostile) file name for a reason:
// strconv.Quote escapes control and bidi characters; long names are cut
// to 64 bytes.
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
