package local

import (
	"context"
	"net"
	"strconv"
	"sync"

	"github.com/profileflow/profileflow/dev/faketwilio"
)

// The fake Twilio API (Verify v2 + Messaging) on loopback: the handler's
// real twilio-go adapter talks to it through TWILIO_API_BASE_URL, and every
// SMS it "sends" lands in sys.Outbox (GET /dev/outbox?to=…).
func init() { extraSteps = append(extraSteps, startFakeTwilio) }

var fakeTwilios sync.Map // *System → *faketwilio.Server

// FakeTwilio is the system's fake Twilio API (tests inject errors with Fail).
func (s *System) FakeTwilio() *faketwilio.Server {
	f, _ := fakeTwilios.Load(s)
	fake, _ := f.(*faketwilio.Server)
	return fake
}

func startFakeTwilio(_ context.Context, sys *System, env map[string]string, o Options) error {
	token := env["TWILIO_AUTH_TOKEN"]
	for _, r := range token {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			token = "" // twilio-go accepts alphanumeric credentials only: use the fake's default
			break
		}
	}
	fake := faketwilio.New(env["TWILIO_ACCOUNT_SID"], token, env["TWILIO_VERIFY_SERVICE_SID"], sys.Outbox)
	base, stop, err := fake.Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(o.TwilioPort)))
	if err != nil {
		return err
	}
	fakeTwilios.Store(sys, fake)
	sys.closers = append(sys.closers, func() error { fakeTwilios.Delete(sys); return stop() })
	env["TWILIO_ACCOUNT_SID"] = fake.AccountSID
	env["TWILIO_AUTH_TOKEN"] = fake.AuthToken
	env["TWILIO_VERIFY_SERVICE_SID"] = fake.ServiceSID
	env["TWILIO_API_BASE_URL"] = base
	return nil
}
