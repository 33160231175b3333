// Package obs carries the invocation id through contexts and into logs: a
// slog.Handler that adds "invocationId" to every record logged with a
// context (InfoContext, WarnContext, …), so call sites never pass the id by
// hand and domain services log with the id of the Functions invocation
// without knowing about transports.
package obs

import (
	"context"
	"log/slog"
)

// Key is the log attribute holding the invocation id.
const Key = "invocationId"

type invocationKey struct{}

// WithInvocation returns ctx carrying the invocation id.
func WithInvocation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, invocationKey{}, id)
}

// InvocationID is the id carried by ctx, or "".
func InvocationID(ctx context.Context) string {
	id, _ := ctx.Value(invocationKey{}).(string)
	return id
}

// Handler adds the invocation id of the record's context, once: a record
// that already holds the attribute is left as it is. (In a logger with
// groups the attribute lands inside the innermost group, as every record
// attribute does.)
type Handler struct{ slog.Handler }

// NewHandler wraps h.
func NewHandler(h slog.Handler) slog.Handler { return Handler{h} }

// Logger returns l with its handler wrapped by Handler, unless it already
// is; a nil l means slog.Default().
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	if _, ok := l.Handler().(Handler); ok {
		return l
	}
	return slog.New(NewHandler(l.Handler()))
}

func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := InvocationID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == Key
			return !has
		})
		if !has {
			r.AddAttrs(slog.String(Key, id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h Handler) WithAttrs(as []slog.Attr) slog.Handler { return Handler{h.Handler.WithAttrs(as)} }
func (h Handler) WithGroup(name string) slog.Handler    { return Handler{h.Handler.WithGroup(name)} }
