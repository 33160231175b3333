// Package sms is the Twilio adapter: Verify v2 (start/check a PIN
// verification) behind mfa.Verifier and Programmable Messaging behind a
// notification Sender. twilio-go types and errors never leave this package;
// failures are translated to domain kinds.
package sms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
	verify "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/profileflow/profileflow/handler/domain"
)

// Config holds the Twilio settings.
type Config struct {
	AccountSID       string        // TWILIO_ACCOUNT_SID
	AuthToken        string        // TWILIO_AUTH_TOKEN
	VerifyServiceSID string        // TWILIO_VERIFY_SERVICE_SID
	FromNumber       string        // TWILIO_FROM_NUMBER (notifications)
	BaseURL          string        // TWILIO_API_BASE_URL: local only, replaces https://*.twilio.com
	Timeout          time.Duration // TWILIO_TIMEOUT (default 10s)
	// Transport is the underlying round tripper (nil: http.DefaultTransport).
	Transport http.RoundTripper
}

// Client talks to Twilio. It implements mfa.Verifier and Sender.
type Client struct {
	cfg  Config
	base *url.URL
}

// New validates cfg and builds a Client.
func New(cfg Config) (*Client, error) {
	var missing []string
	for name, v := range map[string]string{"TWILIO_ACCOUNT_SID": cfg.AccountSID, "TWILIO_AUTH_TOKEN": cfg.AuthToken, "TWILIO_VERIFY_SERVICE_SID": cfg.VerifyServiceSID} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("sms: missing setting(s) %s", strings.Join(missing, ", "))
	}
	// twilio-go refuses non-alphanumeric credentials on every call; say so now.
	if !alphanumeric(cfg.AccountSID) || !alphanumeric(cfg.AuthToken) {
		return nil, errors.New("sms: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be alphanumeric")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	c := &Client{cfg: cfg}
	if cfg.BaseURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sms: TWILIO_API_BASE_URL %q is not an http(s) URL", cfg.BaseURL)
		}
		c.base = u
	}
	return c, nil
}

func alphanumeric(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// roundTripper binds each twilio-go request (built without a context) to
// the caller's context and, locally, sends it to the fake Twilio API.
type roundTripper struct {
	ctx  context.Context
	base *url.URL
	next http.RoundTripper
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	// Keep the http.Client's timeout (in req's context) and add the caller's
	// cancellation.
	ctx, cancel := context.WithCancelCause(req.Context())
	context.AfterFunc(rt.ctx, func() { cancel(context.Cause(rt.ctx)) })
	req = req.Clone(ctx)
	if rt.base != nil && (req.URL.Host == "twilio.com" || strings.HasSuffix(req.URL.Host, ".twilio.com")) {
		req.URL.Scheme = rt.base.Scheme
		req.URL.Host = rt.base.Host
		req.URL.Path = rt.base.Path + req.URL.Path
		req.URL.RawPath = ""
		req.Host = ""
	}
	return rt.next.RoundTrip(req)
}

// handler returns a request handler for one call: twilio-go takes no
// context, so the context reaches the request through the transport, and
// the http.Client timeout bounds each call.
func (c *Client) handler(ctx context.Context) *client.RequestHandler {
	base := &client.Client{
		Credentials: client.NewCredentials(c.cfg.AccountSID, c.cfg.AuthToken),
		HTTPClient: &http.Client{
			Timeout:       c.cfg.Timeout,
			Transport:     roundTripper{ctx: ctx, base: c.base, next: c.cfg.Transport},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	base.SetAccountSid(c.cfg.AccountSID)
	h := client.NewRequestHandler(base)
	// Edge/region come from our settings only, not from ambient variables.
	h.Edge, h.Region = "", ""
	return h
}

// StartVerification sends a PIN by SMS through Twilio Verify.
func (c *Client) StartVerification(ctx context.Context, phone string) (string, error) {
	svc := verify.NewApiService(c.handler(ctx))
	v, err := svc.CreateVerification(c.cfg.VerifyServiceSID, (&verify.CreateVerificationParams{}).SetTo(phone).SetChannel("sms"))
	if err != nil {
		return "", mapError(ctx, "send the SMS code", err)
	}
	if v.Sid == nil || *v.Sid == "" {
		return "", domain.E(domain.KindTransient, "the SMS provider gave an unexpected answer; retry shortly")
	}
	return *v.Sid, nil
}

// CheckVerification checks code. A wrong code is (false, nil).
func (c *Client) CheckVerification(ctx context.Context, verificationID, phone, code string) (bool, error) {
	p := (&verify.CreateVerificationCheckParams{}).SetCode(code)
	if verificationID != "" {
		p.SetVerificationSid(verificationID)
	} else {
		p.SetTo(phone)
	}
	svc := verify.NewApiService(c.handler(ctx))
	v, err := svc.CreateVerificationCheck(c.cfg.VerifyServiceSID, p)
	if err != nil {
		return false, mapError(ctx, "check the SMS code", err)
	}
	return v.Status != nil && *v.Status == "approved", nil
}

// Send sends a notification SMS from TWILIO_FROM_NUMBER.
func (c *Client) Send(ctx context.Context, to, body string) error {
	if c.cfg.FromNumber == "" {
		return domain.E(domain.KindInternal, "TWILIO_FROM_NUMBER is not set; cannot send notifications")
	}
	svc := api.NewApiService(c.handler(ctx))
	_, err := svc.CreateMessage((&api.CreateMessageParams{}).SetTo(to).SetFrom(c.cfg.FromNumber).SetBody(body))
	if err != nil {
		return mapError(ctx, "send the SMS", err)
	}
	return nil
}

// Bounds of a SentSince lookup: messages per page (Twilio's maximum is
// 1000) and in all, so that a busy number cannot make one lookup unbounded.
const (
	listPageSize = 1000
	listLimit    = 5000
)

// SentSince reports whether a message to `to` whose body contains ref was
// sent from from to until, through Twilio's Messages list (GET
// /2010-04-01/Accounts/{AccountSid}/Messages.json with To, DateSent> and
// DateSent<), reading at most listLimit messages: a number that received
// more in that window is reported as sent (KindTransient would retry for
// ever; sending twice is the lesser harm only when it cannot be told, and
// here it cannot). Errors as Send's.
func (c *Client) SentSince(ctx context.Context, to, ref string, from, until time.Time) (bool, error) {
	svc := api.NewApiService(c.handler(ctx))
	p := (&api.ListMessageParams{}).SetTo(to).SetDateSentAfter(from.UTC()).SetDateSentBefore(until.UTC()).
		SetPageSize(listPageSize).SetLimit(listLimit)
	msgs, err := svc.ListMessage(p)
	if err != nil {
		return false, mapError(ctx, "list sent SMS", err)
	}
	for _, m := range msgs {
		if m.Body != nil && strings.Contains(*m.Body, ref) {
			return true, nil
		}
	}
	return len(msgs) >= listLimit, nil
}

// Retry-After hints for provider failures.
const (
	retryProviderDown      = 5 * time.Second
	retryProviderThrottled = 30 * time.Second
	retryVerifyLimit       = 10 * time.Minute // Twilio's verification window
)

// mapError translates a twilio-go error to a domain error.
func mapError(ctx context.Context, op string, err error) error {
	var status, code int
	var rest *client.TwilioRestError
	var v1 *client.RestErrorV1
	switch {
	case errors.As(err, &rest):
		status, code = rest.Status, rest.Code
	case errors.As(err, &v1):
		status, code = v1.HttpStatusCode, v1.Code
	default:
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
		msg := "the SMS provider is unavailable; retry shortly"
		if timeout {
			msg = "the SMS provider did not answer in time; retry shortly"
		}
		if ctx.Err() != nil && !timeout {
			msg = "the request was canceled"
		}
		// Network errors and undecodable (non-Twilio) error bodies.
		return &domain.Error{Kind: domain.KindTransient, Msg: msg, Err: err, RetryAfter: retryProviderDown}
	}
	// Twilio's messages may quote the phone number: keep only status and code.
	err = fmt.Errorf("twilio: status %d, code %d", status, code)
	switch {
	case code == 60200:
		return domain.Wrap(domain.KindInvalid, err, "the SMS provider refused the request as invalid (check the phone number and code)")
	case code == 60202:
		return &domain.Error{Kind: domain.KindRateLimited, Err: err, RetryAfter: retryVerifyLimit,
			Msg: "too many attempts to check this SMS code; request a new code later"}
	case code == 60203:
		return &domain.Error{Kind: domain.KindRateLimited, Err: err, RetryAfter: retryVerifyLimit,
			Msg: "too many SMS codes sent to this number; try again later"}
	case code == 60212:
		return &domain.Error{Kind: domain.KindRateLimited, Err: err, RetryAfter: retryVerifyLimit,
			Msg: "too many concurrent verifications for this number; try again later"}
	case code == 20404 || status == http.StatusNotFound:
		return domain.Wrap(domain.KindGone, err, "the SMS code has expired or was already used; request a new code")
	case code == 20429 || status == http.StatusTooManyRequests:
		return &domain.Error{Kind: domain.KindTransient, Err: err, RetryAfter: retryProviderThrottled,
			Msg: "the SMS provider is busy; retry shortly"}
	case status >= 500:
		return &domain.Error{Kind: domain.KindTransient, Err: err, RetryAfter: retryProviderDown,
			Msg: "the SMS provider is unavailable; retry shortly"}
	case code == 21211 || code == 21614 || code == 21408 || code == 21610:
		// Invalid 'To', not a mobile number, region not enabled, unsubscribed.
		return domain.Wrap(domain.KindInvalid, err, "the phone number cannot receive SMS")
	default:
		// Authentication (20003), misconfiguration and anything unexpected.
		return domain.Wrap(domain.KindInternal, err, "could not %s", op)
	}
}
