package scan

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/profileflow/profileflow/handler/domain"
)

// runEngine streams content to e and maps its answer:
//   - a Finding with Infected → Infected, with the signature (or
//     "unnamed signature") and the finding's engine;
//   - a clean Finding → Clean, with the finding's engine;
//   - ErrNotScanned (wrapped) → Error, "not scanned: …", never clean;
//   - any other error (unreachable, timed out, ctx ended) → a
//     domain.KindTransient error wrapping the cause: try again later.
//
// A nil engine means no antivirus: nil (clean; the pipeline records
// engine "none").
func runEngine(ctx context.Context, e Engine, name string, content []byte) (*decision, error) {
	if e == nil {
		return nil, nil
	}
	f, err := e.Scan(ctx, bytes.NewReader(content))
	switch {
	case errors.Is(err, ErrNotScanned):
		detail := strings.ReplaceAll(err.Error(), ErrNotScanned.Error()+": ", "")
		detail = strings.Trim(strings.TrimSuffix(detail, ErrNotScanned.Error()), ": ")
		if detail == "" {
			detail = "the engine refused it"
		}
		return &decision{verdict: Error, reason: "not scanned: " + name + ": " + shorten(detail, 160), engine: f.Engine}, nil
	case err != nil:
		return nil, domain.Wrap(domain.KindTransient, err, "antivirus engine unavailable while scanning %s; try again later", name)
	case f.Infected:
		sig := f.Signature
		if sig == "" {
			sig = "unnamed signature"
		}
		return &decision{verdict: Infected, reason: name + " is infected: " + sig, signature: sig, engine: f.Engine}, nil
	}
	if f.Engine != "" {
		return &decision{verdict: Clean, engine: f.Engine}, nil
	}
	return nil, nil
}
