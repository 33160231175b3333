package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/sms"
	"github.com/profileflow/profileflow/handler/stores"
)

// sampleMFAKey is MFA_TOKEN_KEY in local.settings.sample.json.
const sampleMFAKey = "bG9jYWwtb25seS1tZmEta2V5LWRvLW5vdC11c2UtaW4tYXp1cmUtISE="

// wireMFA builds the SMS second factor: Twilio Verify (twilio-go) for the
// PINs, the Cosmos mfa container for challenges, limits and token uses, and
// the HMAC key for MFA tokens. Its settings are required (config); an
// invalid value stops start-up with a message naming the setting. It also
// returns the Twilio client as the notification sender.
func wireMFA(cfg *config.Config, cosmos *cosmosdb.Client, log *slog.Logger) (*mfa.Service, *sms.Client, error) {
	// The key from local.settings.sample.json is public: refuse it against
	// the real Twilio (TWILIO_API_BASE_URL is set only for the local fake).
	if cfg.String("MFA_TOKEN_KEY") == sampleMFAKey && cfg.String("TWILIO_API_BASE_URL") == "" {
		return nil, nil, fmt.Errorf("setting MFA_TOKEN_KEY: the sample key of local.settings.sample.json must not be used outside local runs")
	}
	timeout, err := cfg.Duration("TWILIO_TIMEOUT")
	if err != nil {
		return nil, nil, err
	}
	twilio, err := sms.New(sms.Config{
		AccountSID:       cfg.String("TWILIO_ACCOUNT_SID"),
		AuthToken:        cfg.String("TWILIO_AUTH_TOKEN"),
		VerifyServiceSID: cfg.String("TWILIO_VERIFY_SERVICE_SID"),
		FromNumber:       cfg.String("TWILIO_FROM_NUMBER"),
		BaseURL:          cfg.String("TWILIO_API_BASE_URL"), // local only
		Timeout:          timeout,
	})
	if err != nil {
		return nil, nil, err
	}
	keys, err := mfa.ParseKeys(cfg.String("MFA_TOKEN_KEY"))
	if err != nil {
		return nil, nil, fmt.Errorf("setting MFA_TOKEN_KEY: %w", err)
	}
	ttl, err := cfg.Duration("MFA_TOKEN_TTL")
	if err != nil {
		return nil, nil, err
	}
	signer, err := mfa.NewSigner(ttl, keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("settings MFA_TOKEN_TTL/MFA_TOKEN_KEY: %w", err)
	}
	store := stores.NewMFA(cosmos.Container(cfg.String("COSMOS_DATABASE"), cfg.String("COSMOS_CONTAINER_MFA")))
	policy, err := mfaPolicy(cfg)
	if err != nil {
		return nil, nil, err
	}
	svc, err := mfa.NewService(mfa.Options{Store: store, Verifier: twilio, Signer: signer, Policy: &policy, Logger: log})
	if err != nil {
		return nil, nil, errors.New("mfa: " + err.Error())
	}
	return svc, twilio, nil
}

// mfaPolicy is mfa.DefaultPolicy with the limits MFA_MAX_SENDS_PER_HOUR and
// MFA_MAX_FAILED_CHECKS applied; a value that is not a whole number ≥ 1 is
// an error naming the setting.
func mfaPolicy(cfg *config.Config) (mfa.Policy, error) {
	p := mfa.DefaultPolicy
	var err error
	if p.MaxSendsPerWindow, err = cfg.PositiveInt("MFA_MAX_SENDS_PER_HOUR"); err != nil {
		return mfa.Policy{}, err
	}
	if p.MaxFailuresPerWindow, err = cfg.PositiveInt("MFA_MAX_FAILED_CHECKS"); err != nil {
		return mfa.Policy{}, err
	}
	return p, nil
}
