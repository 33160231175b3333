// Package server is the HTTP face of the custom handler: API routes
// (forwarded from the Functions host) and trigger invocations (POST
// /{FunctionName} with the invoke envelope). It maps domain errors to
// responses and trigger outcomes in one table (errors.go).
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/invoke"
	"github.com/profileflow/profileflow/handler/obs"
)

// Authenticator turns an Authorization header into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (domain.Principal, error)
}

// ProfileReader reads a profile (KindNotFound when unknown).
type ProfileReader interface {
	GetProfile(ctx context.Context, id string) (domain.Profile, error)
}

// Deps are the server's collaborators, as small interfaces. Every one is
// required: New refuses a nil one, naming it, so no route can fail for want
// of a collaborator.
type Deps struct {
	Auth     Authenticator
	Profiles ProfileReader
	MFA      MFAService      // SMS second factor (mfa.go)
	Uploads  UploadService   // direct-to-blob uploads (uploads.go)
	Changes  ChangeSubmitter // PATCH of a profile (profile.go)
	Requests RequestService  // status, cancel, the sweep and workflow steps (requests.go)
	Scans    ScanService     // the blob-triggered document scan (trigger_scan.go)
	Notices  Notifier        // notification SMS (trigger_notify.go)
	Sweeper  SweepService    // the timer-triggered sweep (trigger_sweep.go)
	Log      *slog.Logger
}

// Server serves the API and trigger invocations.
type Server struct {
	Deps
	log *slog.Logger
	mux *http.ServeMux
}

// New builds a server over deps and registers every route and trigger. It
// fails naming every dependency that is nil (a nil pointer in an interface
// counts as nil).
func New(d Deps) (*Server, error) {
	if missing := d.missing(); len(missing) > 0 {
		return nil, fmt.Errorf("server: dependencies missing: %s", strings.Join(missing, ", "))
	}
	s := &Server{Deps: d, log: obs.Logger(d.Log), mux: http.NewServeMux()}
	// The host's readiness and health probe: any answer, at once.
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	for _, rt := range routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.api(rt))
	}
	for _, tr := range triggers {
		s.mux.Handle("POST /"+tr.Function, s.trigger(tr))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, domain.E(domain.KindNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// securityHeaders go on every answer, whatever the route, status or
// outcome (errors, unknown endpoints, panics included); they are set once,
// before dispatch. The set is the OWASP REST Security Cheat Sheet's
// "Security Headers" for JSON APIs (Strict-Transport-Security is left to
// the HTTPS front end).
var securityHeaders = [...][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"Cache-Control", "no-store"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
}

// securityHeaderValues holds each header's value as a one-element slice
// with no spare capacity, built once: setSecurityHeaders shares them, and an
// Add on a response header appends into a new array, never into these.
var securityHeaderValues = func() map[string][]string {
	m := make(map[string][]string, len(securityHeaders))
	for _, kv := range securityHeaders {
		m[http.CanonicalHeaderKey(kv[0])] = []string{kv[1]}[:1:1]
	}
	return m
}()

func setSecurityHeaders(h http.Header) {
	for k, v := range securityHeaderValues {
		h[k] = v
	}
}

// missing names the fields of d that are nil, in declaration order.
func (d Deps) missing() []string {
	var out []string
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		f := v.Field(i)
		for f.Kind() == reflect.Interface && !f.IsNil() {
			f = f.Elem()
		}
		switch f.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Func, reflect.Slice, reflect.Chan:
			if f.IsNil() {
				out = append(out, v.Type().Field(i).Name)
			}
		}
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Azure-Functions-InvocationId")
	if id == "" {
		id = newID()
	}
	ctx := obs.WithTraceparent(obs.WithInvocation(r.Context(), id), r.Header.Get("traceparent"))
	setSecurityHeaders(w.Header())
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			// Headers the handler set before it failed (ETag, Location)
			// do not describe the error answer.
			clear(w.Header())
			setSecurityHeaders(w.Header())
			writeJSON(w, http.StatusInternalServerError, map[string]string{"Status": "Rejected", "error": "internal error"})
		}
	}()
	s.mux.ServeHTTP(w, r.WithContext(ctx))
	drainBody(r)
}

// maxDrain is the most of an unread request body drained after the answer:
// the Functions host's own limit on request bodies (100 MiB,
// ScriptConstants.DefaultMaxRequestBodySize), so anything the host forwards
// is read to its end.
const maxDrain = 100 << 20

// drainBody reads what the handler left unread of r's body. An answer
// given before the body was read (413, 400, 401…) would otherwise make
// net/http close the connection while the host is still sending, and the
// host would report a reset connection (502) instead of the answer.
func drainBody(r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// api wraps an authenticated API route.
func (s *Server) api(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if err := requireLength(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		p, err := s.Auth.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			// Only a bad bearer token says so; a wrong SMS PIN or MFA token
			// must not make clients drop their sign-in.
			if domain.KindOf(err) == domain.KindUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			}
			s.writeError(w, r, err)
			return
		}
		if err := rt.Handle(s, w, r, p); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.log.InfoContext(r.Context(), "request", "function", rt.Function,
			"method", r.Method, "path", r.URL.Path, "sub", p.Subject, "ms", time.Since(start).Milliseconds())
	})
}

// requireLength refuses a body of unknown length (Transfer-Encoding:
// chunked) on a method that carries one (POST, PUT, PATCH): the Functions
// host passes a request body on only when Content-Length is above zero
// (DefaultHttpWorkerService and HttpRequestExtensions in the host), so a
// chunked body never reaches a handler behind it. An empty body declared
// with Content-Length: 0 is not refused here.
func requireLength(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	if r.ContentLength >= 0 && !slices.Contains(r.TransferEncoding, "chunked") {
		return nil
	}
	return domain.E(domain.KindLengthRequired, "send the request body with a Content-Length header: a chunked body (Transfer-Encoding: chunked) does not reach the API through the Functions host")
}

// trigger wraps a non-HTTP trigger invocation. Permanent failures are logged
// and answered 2xx (the error is recorded by the handler); transient ones are
// answered non-2xx so the host retries.
func (s *Server) trigger(tr trigger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		decode := invoke.Decode
		if tr.MetadataOnly {
			decode = invoke.DecodeMetadata
		}
		req, err := decode(r)
		if err != nil {
			s.log.WarnContext(ctx, "malformed invocation", "function", tr.Function, "err", err.Error())
			invoke.Fail(w, http.StatusBadRequest, err.Error())
			return
		}
		resp, err := tr.Handle(s, ctx, req)
		if err != nil {
			o := outcomeOf(err)
			if o.retry {
				s.log.WarnContext(ctx, "invocation failed; host will retry", "function", tr.Function, "kind", domain.KindOf(err).String(), "err", err.Error())
				invoke.Fail(w, o.status, domain.KindOf(err).String())
				return
			}
			s.log.ErrorContext(ctx, "invocation failed permanently", "function", tr.Function, "kind", domain.KindOf(err).String(), "err", err.Error())
			resp.Logs = append(resp.Logs, "permanent failure: "+domain.KindOf(err).String())
		}
		if err := invoke.Write(w, resp); err != nil {
			s.log.ErrorContext(ctx, "writing invocation reply", "function", tr.Function, "err", err.Error())
		}
	})
}

// ownedProfile loads a profile and checks that p owns it (domain.OwnedProfile).
func (s *Server) ownedProfile(ctx context.Context, p domain.Principal, id string) (domain.Profile, error) {
	return domain.OwnedProfile(ctx, s.Profiles, p, id)
}
