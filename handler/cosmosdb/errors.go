package cosmosdb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/profileflow/profileflow/handler/domain"
)

// translate turns an error from the SDK into a *domain.Error with a
// caller-safe message; the SDK error is kept as the cause for logs. It is
// the only place that knows Cosmos DB status codes:
//
//	400              → Invalid
//	401, 403         → Internal (misconfigured key or role assignment; logged)
//	404              → NotFound
//	409              → Conflict
//	412              → Stale
//	408, 429, 449,
//	502, 503, 504    → Transient, RetryAfter from x-ms-retry-after-ms
//	network, timeout → Transient
//	anything else    → Internal
//
// Domain errors pass through unchanged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusBadRequest:
			return domain.Wrap(domain.KindInvalid, err, "the database rejected the request")
		case http.StatusUnauthorized, http.StatusForbidden:
			slog.Error("cosmos db refused our credentials: check the key or the managed identity's data-plane role",
				"status", re.StatusCode, "errorCode", re.ErrorCode)
			return domain.Wrap(domain.KindInternal, err, "the database is not configured correctly")
		case http.StatusNotFound:
			return domain.Wrap(domain.KindNotFound, err, "not found")
		case http.StatusConflict:
			return domain.Wrap(domain.KindConflict, err, "already exists")
		case http.StatusPreconditionFailed:
			return domain.Wrap(domain.KindStale, err, "changed since it was read")
		case http.StatusRequestTimeout, http.StatusTooManyRequests, 449, // 449: retry with
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			e := domain.Wrap(domain.KindTransient, err, "the database is busy; retry later")
			e.RetryAfter = retryAfter(re.RawResponse)
			return e
		default:
			return domain.Wrap(domain.KindInternal, err, "the database request failed")
		}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return domain.Wrap(domain.KindTransient, err, "the database is unavailable; retry later")
	}
	return domain.Wrap(domain.KindInternal, err, "the database request failed")
}

// retryAfter reads x-ms-retry-after-ms (Cosmos DB) or Retry-After (seconds).
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	if v := resp.Header.Get("x-ms-retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
	}
	return 0
}
