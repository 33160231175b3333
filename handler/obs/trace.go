package obs

import (
	"context"
	"regexp"
)

// traceparentRE is the W3C Trace Context "traceparent" value of version 00
// (https://www.w3.org/TR/trace-context/#traceparent-header):
// version-traceid-parentid-flags in lower-case hex, neither id all zeros.
var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$`)

type traceKey struct{}

// WithTraceparent returns ctx carrying tp when tp is a valid traceparent
// (version 00, ids not all zeros); otherwise ctx unchanged. Messages sent
// on behalf of ctx carry it on, so one trace spans the HTTP call and the
// queue steps it causes.
func WithTraceparent(ctx context.Context, tp string) context.Context {
	m := traceparentRE.FindStringSubmatch(tp)
	if m == nil || m[1] == "00000000000000000000000000000000" || m[2] == "0000000000000000" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, tp)
}

// Traceparent is the traceparent carried by ctx, or "".
func Traceparent(ctx context.Context) string {
	tp, _ := ctx.Value(traceKey{}).(string)
	return tp
}
