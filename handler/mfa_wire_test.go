package main

import (
	"strings"
	"testing"

	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/mfa"
)

func TestMFAPolicyFromSettings(t *testing.T) {
	required := map[string]string{"OIDC_ISSUER_URL": "x", "OIDC_AUDIENCE": "y", "COSMOS_ENDPOINT": "z",
		"TWILIO_ACCOUNT_SID": "AC", "TWILIO_AUTH_TOKEN": "t", "TWILIO_VERIFY_SERVICE_SID": "VA", "MFA_TOKEN_KEY": "k",
		"UPLOAD_ACCOUNTS": "a"}
	with := func(kv ...string) *config.Config {
		m := map[string]string{}
		for k, v := range required {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return config.FromMap(m)
	}

	// Unset: the production policy.
	p, err := mfaPolicy(with())
	if err != nil || p != mfa.DefaultPolicy {
		t.Fatalf("defaults: %+v, %v; want mfa.DefaultPolicy %+v", p, err, mfa.DefaultPolicy)
	}

	p, err = mfaPolicy(with("MFA_MAX_SENDS_PER_HOUR", "100", "MFA_MAX_FAILED_CHECKS", "3"))
	if err != nil || p.MaxSendsPerWindow != 100 || p.MaxFailuresPerWindow != 3 {
		t.Fatalf("set: %+v, %v; want 100 sends, 3 failures", p, err)
	}
	if p.SendWindow != mfa.DefaultPolicy.SendWindow || p.FailureWindow != mfa.DefaultPolicy.FailureWindow {
		t.Errorf("windows changed: %+v", p)
	}

	for _, tc := range []struct{ name, value string }{
		{"MFA_MAX_SENDS_PER_HOUR", "0"},
		{"MFA_MAX_SENDS_PER_HOUR", "lots"},
		{"MFA_MAX_FAILED_CHECKS", "-1"},
		{"MFA_MAX_FAILED_CHECKS", "2.5"},
	} {
		if _, err := mfaPolicy(with(tc.name, tc.value)); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: err = %v, want an error naming the setting", tc.name, tc.value, err)
		}
	}
}
