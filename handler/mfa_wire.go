package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/mfa"
	"github.com/profileflow/profileflow/handler/server"
	"github.com/profileflow/profileflow/handler/sms"
)

// wireMFA builds the SMS second factor: Twilio Verify (twilio-go) for the
// PINs, the Cosmos mfa container for challenges, limits and token uses, and
// the HMAC key for MFA tokens. With none of its settings present MFA is off
// (its routes answer 500 and profile changes cannot be made); a partial or
// invalid configuration stops start-up with a message naming the setting.
// It also returns the Twilio client as the notification sender.
func wireMFA(cfg *config.Config, cosmos *cosmosdb.Client, log *slog.Logger) (server.MFAService, *sms.Client, error) {
	names := []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_SID", "MFA_TOKEN_KEY"}
	set := 0
	for _, n := range names {
		if cfg.String(n) != "" {
			set++
		}
	}
	if set == 0 {
		log.Warn("MFA is not configured (TWILIO_* and MFA_TOKEN_KEY unset): profile changes cannot be verified")
		return nil, nil, nil
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
	store := cosmosdb.NewMFAStore(cosmos.Container(cfg.String("COSMOS_DATABASE"), cfg.String("COSMOS_CONTAINER_MFA")))
	svc, err := mfa.NewService(mfa.Options{Store: store, Verifier: twilio, Signer: signer, Logger: log})
	if err != nil {
		return nil, nil, errors.New("mfa: " + err.Error())
	}
	return svc, twilio, nil
}
