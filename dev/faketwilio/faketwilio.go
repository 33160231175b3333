// Package faketwilio is a small fake of the Twilio HTTP API for local runs
// and tests: Verify v2 (start and check a verification) and Programmable
// Messaging (send an SMS), with Twilio's request format (form-encoded, Basic
// auth with the account SID and auth token), response bodies and error
// codes. Every SMS it "sends" goes to an *outbox.Box, PIN included. It is
// part of the local stack only and never deployed.
//
//	POST /v2/Services/{ServiceSid}/Verifications             To, Channel
//	POST /v2/Services/{ServiceSid}/VerificationCheck         Code, To | VerificationSid
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json     To, From | MessagingServiceSid, Body
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages.json     To, From, DateSent, DateSent<, DateSent>, PageSize, Page, PageToken
//
// The list answers like Twilio's: most recently sent first, in pages of
// PageSize (default 50, at most 1000) with next_page_uri naming the next
// page. A message the fake sends is "sent" at once (date_sent is its
// creation time). DateSent filters take a date (YYYY-MM-DD, the whole UTC
// day) or an RFC 3339 time (as twilio-go sends them); DateSent> and
// DateSent< include their bound.
package faketwilio

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/profileflow/profileflow/dev/outbox"
)

// Operations, for injected failures.
const (
	OpStart = "start" // Verify: create verification
	OpCheck = "check" // Verify: verification check
	OpSend  = "send"  // Messaging: create message
	OpList  = "list"  // Messaging: list messages
)

// Default credentials of the local stack (alphanumeric, as twilio-go requires).
const (
	DefaultAccountSID = "AC00000000000000000000000000000000"
	DefaultAuthToken  = "0000000000000000000000000000fake"
	DefaultServiceSID = "VA00000000000000000000000000000000"
)

// Server is the fake Twilio API. Create it with New; it is an http.Handler.
type Server struct {
	AccountSID, AuthToken, ServiceSID string
	CodeLength                        int           // 6
	TTL                               time.Duration // 10m
	MaxSends, MaxChecks               int           // 5 and 5, like Twilio
	Now                               func() time.Time

	box *outbox.Box
	mux *http.ServeMux

	mu            sync.Mutex
	verifications map[string]*verification // by sid
	messages      []message                // in the order sent
	faults        []fault
	delay         time.Duration
}

type verification struct {
	sid, to, channel, code, status string
	sends, checks                  int
	created, updated               time.Time
}

// message is one SMS sent through the Messaging API.
type message struct {
	sid, to, from, body string
	sent                time.Time
}

type fault struct {
	op           string
	status, code int
	times        int
}

// New returns a fake with the given credentials (empty: the defaults) that
// records SMS in box.
func New(accountSID, authToken, serviceSID string, box *outbox.Box) *Server {
	if accountSID == "" {
		accountSID = DefaultAccountSID
	}
	if authToken == "" {
		authToken = DefaultAuthToken
	}
	if serviceSID == "" {
		serviceSID = DefaultServiceSID
	}
	if box == nil {
		box = &outbox.Box{}
	}
	s := &Server{
		AccountSID: accountSID, AuthToken: authToken, ServiceSID: serviceSID,
		CodeLength: 6, TTL: 10 * time.Minute, MaxSends: 5, MaxChecks: 5, Now: time.Now,
		box: box, verifications: map[string]*verification{},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v2/Services/{sid}/Verifications", s.startVerification)
	s.mux.HandleFunc("POST /v2/Services/{sid}/VerificationCheck", s.checkVerification)
	s.mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.createMessage)
	s.mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages.json", s.listMessages)
	return s
}

// Outbox is the box receiving every SMS.
func (s *Server) Outbox() *outbox.Box { return s.box }

// Fail makes the next `times` calls of op (OpStart, OpCheck, OpSend; "" for
// any) answer with a Twilio error of the given HTTP status and error code.
// A code of 0 answers a non-JSON body (like a proxy error page).
func (s *Server) Fail(op string, status, code, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, status: status, code: code, times: times})
}

// SetDelay delays every answer (to test client timeouts).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Reset forgets verifications, sent messages, faults and delay (the
// outbox keeps what it recorded).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verifications = map[string]*verification{}
	s.messages = nil
	s.faults = nil
	s.delay = 0
}

// Listen serves the fake on addr (e.g. "127.0.0.1:0") and returns its base
// URL (the TWILIO_API_BASE_URL value) and a stop function.
func (s *Server) Listen(addr string) (baseURL string, stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	baseURL, stop = s.Serve(ln)
	return baseURL, stop, nil
}

// Serve serves the fake on a listener the caller opened (and reserved)
// and returns its base URL and a function that stops it.
func (s *Server) Serve(ln net.Listener) (baseURL string, stop func() error) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), srv.Close
}

// ServeHTTP checks Basic auth, applies injected delays/faults and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.AccountSID || pass != s.AuthToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if ct := r.Header.Get("Content-Type"); r.Method != http.MethodGet && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: Content-Type must be application/x-www-form-urlencoded")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter")
		return
	}
	op := ""
	switch {
	case strings.HasSuffix(r.URL.Path, "/Verifications"):
		op = OpStart
	case strings.HasSuffix(r.URL.Path, "/VerificationCheck"):
		op = OpCheck
	case strings.HasSuffix(r.URL.Path, "/Messages.json") && r.Method == http.MethodGet:
		op = OpList
	case strings.HasSuffix(r.URL.Path, "/Messages.json"):
		op = OpSend
	}
	if f, ok := s.takeFault(op); ok {
		if f.code == 0 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.status)
			fmt.Fprintf(w, "<html><body>%d</body></html>", f.status)
			return
		}
		writeError(w, f.status, f.code, errorMessages[f.code])
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) takeFault(op string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.op == "" || f.op == op {
			s.faults[i].times--
			if s.faults[i].times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f, true
		}
	}
	return fault{}, false
}

var errorMessages = map[int]string{
	20003: "Authenticate",
	20404: "The requested resource was not found",
	20429: "Too Many Requests",
	20500: "Internal Server Error",
	20503: "Service Unavailable",
	60200: "Invalid parameter",
	60202: "Max check attempts reached",
	60203: "Max send attempts reached",
	60212: "Too many concurrent requests for phone number",
}

// writeError writes Twilio's error body.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func newSID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (s *Server) newCode() string {
	n := s.CodeLength
	if n < 4 || n > 10 {
		n = 6
	}
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, _ := rand.Int(rand.Reader, max)
	return fmt.Sprintf("%0*d", n, v)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, 20404, "The requested resource "+strings.TrimPrefix(r.URL.Path, "/v2")+" was not found")
}

func (s *Server) verificationJSON(v *verification) map[string]any {
	return map[string]any{
		"sid":          v.sid,
		"service_sid":  s.ServiceSID,
		"account_sid":  s.AccountSID,
		"to":           v.to,
		"channel":      v.channel,
		"status":       v.status,
		"valid":        v.status == "approved",
		"lookup":       map[string]any{"carrier": nil},
		"amount":       nil,
		"payee":        nil,
		"sna":          nil,
		"date_created": v.created.UTC().Format(time.RFC3339),
		"date_updated": v.updated.UTC().Format(time.RFC3339),
		"send_code_attempts": []map[string]any{{
			"attempt_sid": newSID("VL"), "channel": v.channel, "time": v.updated.UTC().Format(time.RFC3339),
		}},
		"url": fmt.Sprintf("https://verify.twilio.com/v2/Services/%s/Verifications/%s", s.ServiceSID, v.sid),
	}
}

// expire drops verifications past their TTL (Twilio deletes them).
func (s *Server) expireLocked(now time.Time) {
	for sid, v := range s.verifications {
		if now.Sub(v.created) >= s.TTL {
			delete(s.verifications, sid)
		}
	}
}

func (s *Server) startVerification(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("sid") != s.ServiceSID {
		s.notFound(w, r)
		return
	}
	to, channel := r.PostForm.Get("To"), r.PostForm.Get("Channel")
	if to == "" {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: To")
		return
	}
	if channel != "sms" {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: Channel")
		return
	}
	if !e164.MatchString(to) {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter `To`: "+to)
		return
	}
	now := s.Now()
	s.mu.Lock()
	s.expireLocked(now)
	var v *verification
	for _, x := range s.verifications {
		if x.to == to && x.status == "pending" {
			v = x
		}
	}
	if v != nil {
		// Within the validity window Twilio resends the same code.
		if v.sends >= s.MaxSends {
			s.mu.Unlock()
			writeError(w, http.StatusTooManyRequests, 60203, errorMessages[60203])
			return
		}
		v.sends++
		v.updated = now
	} else {
		v = &verification{sid: newSID("VE"), to: to, channel: channel, code: s.newCode(), status: "pending", sends: 1, created: now, updated: now}
		s.verifications[v.sid] = v
	}
	body := s.verificationJSON(v)
	code := v.code
	s.mu.Unlock()
	s.box.Add(outbox.Message{To: to, Body: "Your profileflow verification code is: " + code, Time: now})
	writeJSON(w, http.StatusCreated, body)
}

func (s *Server) checkVerification(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("sid") != s.ServiceSID {
		s.notFound(w, r)
		return
	}
	code, to, vsid := r.PostForm.Get("Code"), r.PostForm.Get("To"), r.PostForm.Get("VerificationSid")
	if code == "" {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: Code")
		return
	}
	if to == "" && vsid == "" {
		writeError(w, http.StatusBadRequest, 60200, "Invalid parameter: either To or VerificationSid must be specified")
		return
	}
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	var v *verification
	if vsid != "" {
		v = s.verifications[vsid]
	} else {
		for _, x := range s.verifications {
			if x.to == to && x.status == "pending" {
				v = x
			}
		}
	}
	// Approved, expired and unknown verifications are all 404 (Twilio deletes them).
	if v == nil || v.status != "pending" {
		s.notFound(w, r)
		return
	}
	if v.checks >= s.MaxChecks {
		writeError(w, http.StatusTooManyRequests, 60202, errorMessages[60202])
		return
	}
	v.checks++
	v.updated = now
	if code == v.code {
		v.status = "approved"
		delete(s.verifications, v.sid)
	}
	body := s.verificationJSON(v)
	delete(body, "lookup")
	delete(body, "send_code_attempts")
	delete(body, "url")
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("sid") != s.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "" && r.PostForm.Get("MessagingServiceSid") == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case body == "" && r.PostForm.Get("MediaUrl") == "" && r.PostForm.Get("ContentSid") == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case !e164.MatchString(to):
		writeError(w, http.StatusBadRequest, 21211, "The 'To' number "+to+" is not a valid phone number.")
		return
	}
	now := s.Now().UTC()
	m := message{sid: newSID("SM"), to: to, from: from, body: body, sent: now}
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	s.box.Add(outbox.Message{To: to, Body: body, Time: now})
	out := s.messageJSON(m)
	// Twilio answers a create before the message leaves its queue.
	out["status"], out["date_sent"] = "queued", nil
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) messageJSON(m message) map[string]any {
	date := m.sent.Format(time.RFC1123Z)
	return map[string]any{
		"account_sid": s.AccountSID, "api_version": "2010-04-01", "body": m.body,
		"date_created": date, "date_sent": date, "date_updated": date, "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "from": m.from, "messaging_service_sid": nil,
		"num_media": "0", "num_segments": "1", "price": nil, "price_unit": "USD",
		"sid": m.sid, "status": "sent", "subresource_uris": map[string]any{"media": "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.sid + "/Media.json"},
		"to": m.to, "uri": "/2010-04-01/Accounts/" + s.AccountSID + "/Messages/" + m.sid + ".json",
	}
}

// dateFilter parses a DateSent value: a date is its whole UTC day
// [day, day+24h), a time is the instant [t, t].
func dateFilter(v string) (from, until time.Time, ok bool) {
	if d, err := time.Parse("2006-01-02", v); err == nil {
		return d, d.Add(24*time.Hour - time.Nanosecond), true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), t.UTC(), true
	}
	return time.Time{}, time.Time{}, false
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("sid") != s.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	q := r.Form
	var after, before time.Time
	for _, f := range []struct {
		key    string
		lo, hi bool
	}{{"DateSent", true, true}, {"DateSent>", true, false}, {"DateSent<", false, true}} {
		v := q.Get(f.key)
		if v == "" {
			continue
		}
		from, until, ok := dateFilter(v)
		if !ok {
			writeError(w, http.StatusBadRequest, 20001, "Invalid parameter: "+f.key)
			return
		}
		if f.lo && (after.IsZero() || from.After(after)) {
			after = from
		}
		if f.hi && (before.IsZero() || until.Before(before)) {
			before = until
		}
	}
	size := 50
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid parameter: PageSize")
			return
		}
		size = n
	}
	page := 0
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 20001, "Invalid parameter: Page")
			return
		}
		page = n
	}
	to, from := q.Get("To"), q.Get("From")
	s.mu.Lock()
	var hits []message
	for i := len(s.messages) - 1; i >= 0; i-- { // most recent first
		m := s.messages[i]
		switch {
		case to != "" && m.to != to, from != "" && m.from != from,
			!after.IsZero() && m.sent.Before(after), !before.IsZero() && m.sent.After(before):
			continue
		}
		hits = append(hits, m)
	}
	s.mu.Unlock()
	start := min(page*size, len(hits))
	end := min(start+size, len(hits))
	msgs := make([]map[string]any, 0, end-start)
	for _, m := range hits[start:end] {
		msgs = append(msgs, s.messageJSON(m))
	}
	base := "/2010-04-01/Accounts/" + s.AccountSID + "/Messages.json"
	pageURI := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "Page" && k != "PageToken" && k != "PageSize" {
				v[k] = vs
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		if p > 0 {
			v.Set("PageToken", fmt.Sprintf("PA%d", p))
		}
		return base + "?" + v.Encode()
	}
	var next, prev any
	if end < len(hits) {
		next = pageURI(page + 1)
	}
	if page > 0 {
		prev = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messages": msgs, "page": page, "page_size": size, "start": start, "end": max(end-1, start),
		"first_page_uri": pageURI(0), "next_page_uri": next, "previous_page_uri": prev, "uri": pageURI(page),
	})
}

var pinPattern = regexp.MustCompile(`\b([0-9]{4,10})\b`)

// PIN extracts the verification code from an SMS body ("" if none).
func PIN(body string) string {
	m := pinPattern.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}
