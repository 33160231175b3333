package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/profileflow/profileflow/handler/domain"
)

// outcome is what a domain error kind means to each transport.
type outcome struct {
	status int  // HTTP status for API callers
	retry  bool // trigger invocations: true → non-2xx so the host retries; false → permanent, recorded, answered 2xx
}

// errorTable is THE mapping from domain error kinds to HTTP statuses and
// trigger outcomes. Nothing else in the code base chooses a status for an error.
var errorTable = map[domain.Kind]outcome{
	domain.KindInvalid:          {http.StatusBadRequest, false},
	domain.KindUnauthorized:     {http.StatusUnauthorized, false},
	domain.KindForbidden:        {http.StatusForbidden, false},
	domain.KindNotFound:         {http.StatusNotFound, false},
	domain.KindConflict:         {http.StatusConflict, false},
	domain.KindStale:            {http.StatusConflict, true},
	domain.KindGone:             {http.StatusGone, false},
	domain.KindTooLarge:         {http.StatusRequestEntityTooLarge, false},
	domain.KindUnsupportedMedia: {http.StatusUnsupportedMediaType, false},
	domain.KindUnprocessable:    {http.StatusUnprocessableEntity, false},
	domain.KindRateLimited:      {http.StatusTooManyRequests, true},
	domain.KindTransient:        {http.StatusServiceUnavailable, true},
	domain.KindInternal:         {http.StatusInternalServerError, true},
	domain.KindLengthRequired:   {http.StatusLengthRequired, false},
}

func outcomeOf(err error) outcome {
	if o, ok := errorTable[domain.KindOf(err)]; ok {
		return o
	}
	return errorTable[domain.KindInternal]
}

// errorBody builds the source design's error shape plus any details.
func errorBody(err error) map[string]any {
	body := map[string]any{"Status": "Rejected", "error": "internal error"}
	var de *domain.Error
	if errors.As(err, &de) {
		if de.Kind != domain.KindInternal {
			body["error"] = de.Msg
		}
		for k, v := range de.Details {
			if k != "Status" && k != "error" {
				body[k] = v
			}
		}
	}
	return body
}

// writeError answers an API call with the status from errorTable.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	o := outcomeOf(err)
	var de *domain.Error
	if errors.As(err, &de) && de.RetryAfter > 0 {
		secs := int(de.RetryAfter.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	} else if o.status == http.StatusServiceUnavailable || o.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	level := s.log.InfoContext
	if o.status >= 500 {
		level = s.log.ErrorContext
	}
	level(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
		"status", o.status, "kind", domain.KindOf(err).String(), "err", err.Error())
	writeJSON(w, o.status, errorBody(err))
}
