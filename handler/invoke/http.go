package invoke

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"strings"
)

// HTTPRequest is Data.<req> of a non-forwarded HTTP trigger
// (HttpRequestExtensions.GetRequestAsJObject in the host). Body is absent
// when the request had no Content-Length: the host drops chunked bodies.
type HTTPRequest struct {
	URL        string              `json:"Url"`
	Method     string              `json:"Method"`
	Query      map[string]string   `json:"Query"`
	Headers    map[string][]string `json:"Headers"`
	Params     map[string]string   `json:"Params"`
	Identities []json.RawMessage   `json:"Identities"`
	Body       *string             `json:"Body"`
}

// Header returns the first value of a header, case-insensitively.
func (h *HTTPRequest) Header(name string) string {
	for k, v := range h.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// BodyBytes returns the body; for application/octet-stream and multipart/*
// the host sends base64, any other type as a UTF-8 string. An absent body
// is nil.
func (h *HTTPRequest) BodyBytes() ([]byte, error) {
	if h.Body == nil {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(h.Header("Content-Type"))
	if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
		b, err := base64.StdEncoding.DecodeString(*h.Body)
		if err != nil {
			return nil, bad("Data.req.Body: invalid base64 for %s", mt)
		}
		return b, nil
	}
	return []byte(*h.Body), nil
}

// HTTPOutput is the value of an http output binding in Outputs. The host
// matches its keys case-insensitively; statusCode is a string in the host's
// own tests and samples.
type HTTPOutput struct {
	StatusCode string            `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       string            `json:"body"`
}
