package local

import (
	"net"

	"github.com/profileflow/profileflow/dev/faketwilio"
)

// FakeTwilio is the system's fake Twilio API (tests inject errors with Fail).
func (s *System) FakeTwilio() *faketwilio.Server { return s.twilio }

// startFakeTwilio serves the fake Twilio API (Verify v2 + Messaging) on ln:
// the handler's real twilio-go adapter talks to it through
// TWILIO_API_BASE_URL, and every SMS it "sends" lands in s.Outbox
// (GET /dev/outbox?to=…). It sets the Twilio settings in env.
func (s *System) startFakeTwilio(ln net.Listener, env map[string]string) {
	token := env["TWILIO_AUTH_TOKEN"]
	for _, r := range token {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			token = "" // twilio-go accepts alphanumeric credentials only: use the fake's default
			break
		}
	}
	fake := faketwilio.New(env["TWILIO_ACCOUNT_SID"], token, env["TWILIO_VERIFY_SERVICE_SID"], s.Outbox)
	base, stop := fake.Serve(ln)
	s.twilio, s.TwilioURL = fake, base
	s.closers = append(s.closers, stop)
	s.log.Info("started", "service", ServiceTwilio, "url", base)
	env["TWILIO_ACCOUNT_SID"] = fake.AccountSID
	env["TWILIO_AUTH_TOKEN"] = fake.AuthToken
	env["TWILIO_VERIFY_SERVICE_SID"] = fake.ServiceSID
	env["TWILIO_API_BASE_URL"] = base
}
