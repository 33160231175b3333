package cosmosdb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/profileflow/profileflow/handler/domain"
)

func respErr(status int, hdr map[string]string) *azcore.ResponseError {
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	return &azcore.ResponseError{
		StatusCode:  status,
		ErrorCode:   http.StatusText(status),
		RawResponse: &http.Response{StatusCode: status, Header: h, Status: http.StatusText(status)},
	}
}

func TestTranslate(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	passthrough := domain.E(domain.KindGone, "expired")
	tests := []struct {
		name       string
		err        error
		kind       domain.Kind
		retryAfter time.Duration
	}{
		{"400", respErr(400, nil), domain.KindInvalid, 0},
		{"401", respErr(401, nil), domain.KindInternal, 0},
		{"403", respErr(403, nil), domain.KindInternal, 0},
		{"404", respErr(404, nil), domain.KindNotFound, 0},
		{"409", respErr(409, nil), domain.KindConflict, 0},
		{"412", respErr(412, nil), domain.KindStale, 0},
		{"413", respErr(413, nil), domain.KindInternal, 0},
		{"500", respErr(500, nil), domain.KindInternal, 0},
		{"408", respErr(408, nil), domain.KindTransient, 0},
		{"429 retry-after-ms", respErr(429, map[string]string{"x-ms-retry-after-ms": "150"}), domain.KindTransient, 150 * time.Millisecond},
		{"429 fractional ms", respErr(429, map[string]string{"x-ms-retry-after-ms": "2.5"}), domain.KindTransient, 2500 * time.Microsecond},
		{"429 no header", respErr(429, nil), domain.KindTransient, 0},
		{"429 garbage header", respErr(429, map[string]string{"x-ms-retry-after-ms": "soon"}), domain.KindTransient, 0},
		{"449", respErr(449, nil), domain.KindTransient, 0},
		{"503 Retry-After", respErr(503, map[string]string{"Retry-After": "2"}), domain.KindTransient, 2 * time.Second},
		{"502", respErr(502, nil), domain.KindTransient, 0},
		{"504", respErr(504, nil), domain.KindTransient, 0},
		{"wrapped 404", errors.Join(errors.New("ctx"), respErr(404, nil)), domain.KindNotFound, 0},
		{"deadline", context.DeadlineExceeded, domain.KindTransient, 0},
		{"canceled", context.Canceled, domain.KindTransient, 0},
		{"dial refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, domain.KindTransient, 0},
		{"unexpected EOF", io.ErrUnexpectedEOF, domain.KindTransient, 0},
		{"unknown", errors.New("boom"), domain.KindInternal, 0},
		{"domain passthrough", passthrough, domain.KindGone, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			got := translate(tt.err)
			var de *domain.Error
			if !errors.As(got, &de) {
				t.Fatalf("translate(%v) = %T, want *domain.Error", tt.err, got)
			}
			if de.Kind != tt.kind {
				t.Errorf("kind = %v, want %v", de.Kind, tt.kind)
			}
			if de.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", de.RetryAfter, tt.retryAfter)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("cause not kept: %v", got)
			}
			// Credential failures are misconfiguration: logged for operators.
			var re *azcore.ResponseError
			authFailure := errors.As(tt.err, &re) && (re.StatusCode == 401 || re.StatusCode == 403)
			if logged := strings.Contains(logs.String(), "refused our credentials"); logged != authFailure {
				t.Errorf("logged = %v, want %v: %s", logged, authFailure, logs.String())
			}
			// Caller-safe: no status texts, SDK type names or error codes.
			for _, leak := range []string{"RESPONSE", "azcore", "StatusCode", "refused", "boom", "deadline", "EOF"} {
				if strings.Contains(de.Msg, leak) {
					t.Errorf("message %q leaks %q", de.Msg, leak)
				}
			}
		})
	}
	if translate(nil) != nil {
		t.Error("translate(nil) != nil")
	}
	if got := translate(passthrough); got != error(passthrough) {
		t.Errorf("domain error not passed through unchanged: %v", got)
	}
}
