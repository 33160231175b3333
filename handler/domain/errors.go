// Package domain holds profileflow's core types, validation rules and the
// small ports (interfaces) that adapters implement. It imports only the
// standard library and small pure libraries.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error so transports can map it to an HTTP status or a
// trigger outcome in one table (see server.errorTable).
type Kind int

const (
	KindInternal         Kind = iota // bug or unknown failure
	KindInvalid                      // bad input (400)
	KindUnauthorized                 // no or invalid identity (401)
	KindForbidden                    // identity lacks rights (403)
	KindNotFound                     // unknown resource (404)
	KindConflict                     // already exists / open request (409)
	KindStale                        // ETag mismatch; retry from a fresh read (409 to clients, retried inside)
	KindGone                         // expired or used up (410)
	KindTooLarge                     // payload too large (413)
	KindUnsupportedMedia             // wrong content type (415)
	KindUnprocessable                // idempotency key reused with another body (422)
	KindRateLimited                  // our own or a provider's rate limit (429)
	KindTransient                    // dependency unavailable; retry later (503 / non-2xx to the host)
	KindLengthRequired               // a request body without Content-Length, e.g. chunked (411)
)

var kindNames = [...]string{"internal", "invalid", "unauthorized", "forbidden", "not_found", "conflict", "stale", "gone", "too_large", "unsupported_media", "unprocessable", "rate_limited", "transient", "length_required"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a domain error: a kind, a message that is safe to show to the
// caller, and optionally the underlying cause (never shown to callers).
type Error struct {
	Kind       Kind
	Msg        string
	Err        error
	RetryAfter time.Duration  // for KindRateLimited / KindTransient
	Details    map[string]any // extra response fields (e.g. attemptsLeft)
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Kind.String() + ": " + e.Msg + ": " + e.Err.Error()
	}
	return e.Kind.String() + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// E builds a domain error of the given kind with a formatted, caller-safe message.
func E(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap builds a domain error that keeps cause for logs.
func Wrap(k Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// KindOf reports the kind of err: the kind of the first *Error in its chain,
// KindInternal otherwise.
func KindOf(err error) Kind {
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return KindInternal
}

// Is reports whether err carries the given kind.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
