// Package scan decides whether an evidence document may be shown to anyone:
// a pipeline of small stages over the document's bytes (limits → content
// sniffing → structural checks → polyglot checks → antivirus engine) that
// ends in one Result.
// It knows nothing of blobs, requests or triggers: the caller reads the
// pinned bytes, runs Pipeline.Scan and stores the verdict.
package scan

import (
	"context"
	"errors"
	"io"
	"time"
)

// Verdict is the outcome of scanning one document.
type Verdict string

// Verdicts. Only Clean is ever readable; Error means "not scanned" and is
// never treated as clean (fail closed).
const (
	Clean    Verdict = "clean"    // every stage passed
	Infected Verdict = "infected" // the antivirus engine found a signature
	Rejected Verdict = "rejected" // a limit, type or structure check failed
	Error    Verdict = "error"    // could not be scanned (e.g. the engine refused the size)
)

// File is one document to scan: the name and type its uploader declared and
// its bytes as read from storage (the pinned version).
type File struct {
	Name         string // declared file name with extension, e.g. "passport.pdf"
	DeclaredType string // declared content type: application/pdf, image/png or image/jpeg
	DeclaredSize int64  // declared size in bytes
	Content      []byte
}

// Result is a verdict with the evidence for it.
type Result struct {
	Verdict   Verdict   `json:"verdict"`
	Stage     string    `json:"stage"`               // the stage that decided: limits, sniff, structure, polyglot, antivirus (see the Stage constants)
	Reason    string    `json:"reason,omitempty"`    // why rejected / not scanned, for people
	Signature string    `json:"signature,omitempty"` // the engine's signature name when infected
	Engine    string    `json:"engine"`              // antivirus engine and version, e.g. "ClamAV 1.4.6", or "none"; the configured engine when an earlier stage decided
	SHA256    string    `json:"sha256"`              // hex SHA-256 of the scanned bytes
	Size      int64     `json:"size"`                // bytes scanned
	At        time.Time `json:"at"`                  // UTC
}

// Engine is an antivirus engine (clamav.Client implements it over clamd).
// Scan streams r to the engine. It returns a Finding, or an error:
// ErrNotScanned (wrapped) when the engine refused the content for good
// (e.g. clamd's "INSTREAM size limit exceeded"), any other error when the
// engine could not be reached or timed out (the caller retries later).
type Engine interface {
	Scan(ctx context.Context, r io.Reader) (Finding, error)
}

// Finding is what an engine reports for one stream.
type Finding struct {
	Infected  bool
	Signature string // e.g. "Custom.EICAR.NDB.UNOFFICIAL"
	Engine    string // engine name and version, e.g. "ClamAV 1.4.6"
}

// ErrNotScanned marks an engine's permanent refusal to scan a stream.
var ErrNotScanned = errors.New("not scanned")
