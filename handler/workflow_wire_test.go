package main

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/workflow"
)

func settings(kv ...string) *config.Config {
	m := map[string]string{"OIDC_ISSUER_URL": "x", "OIDC_AUDIENCE": "y", "COSMOS_ENDPOINT": "z",
		"TWILIO_ACCOUNT_SID": "AC", "TWILIO_AUTH_TOKEN": "t", "TWILIO_VERIFY_SERVICE_SID": "VA", "MFA_TOKEN_KEY": "k",
		"UPLOAD_ACCOUNTS": "a"}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return config.FromMap(m)
}

// WORKFLOW_TIMER_SCALE shortens the timers only in dev mode; outside it,
// or with a value that is not a factor in (0, 1], start-up stops naming
// the setting.
func TestTimerScaleSetting(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	remind := func(def *workflow.Definition) time.Duration {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		return def.Elements["Remind1"].Duration.AddTo(t0).Sub(t0)
	}
	parse := func() *workflow.Definition {
		def, err := workflow.ParseFile("../workflows/profile-update.bpmn")
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	def := parse()
	if err := scaleTimers(settings(), def, log); err != nil || remind(def) != 24*time.Hour {
		t.Fatalf("unset: %v %v", err, remind(def))
	}
	def = parse()
	if err := scaleTimers(settings("WORKFLOW_TIMER_SCALE", "0.0001", "PROFILEFLOW_DEV_MODE", "true"), def, log); err != nil || remind(def) != 8640*time.Millisecond {
		t.Fatalf("dev mode: %v %v", err, remind(def))
	}
	for _, kv := range [][]string{
		{"WORKFLOW_TIMER_SCALE", "0.0001"},
		{"WORKFLOW_TIMER_SCALE", "0.0001", "PROFILEFLOW_DEV_MODE", "yes"},
		{"WORKFLOW_TIMER_SCALE", "2", "PROFILEFLOW_DEV_MODE", "true"},
		{"WORKFLOW_TIMER_SCALE", "fast", "PROFILEFLOW_DEV_MODE", "true"},
	} {
		def := parse()
		if err := scaleTimers(settings(kv...), def, log); err == nil || !strings.Contains(err.Error(), "WORKFLOW_TIMER_SCALE") || remind(def) != 24*time.Hour {
			t.Errorf("%v: %v (reminder %v)", kv, err, remind(def))
		}
	}
}

func TestServiceBusSettings(t *testing.T) {
	if _, err := wireServiceBus(settings()); err == nil || !strings.Contains(err.Error(), "ServiceBusConnection") {
		t.Fatalf("no connection: %v", err)
	}
	c, err := wireServiceBus(settings("ServiceBusConnection", "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true"))
	if err != nil || c == nil {
		t.Fatalf("connection string: %v", err)
	}
	if _, err := wireServiceBus(settings("ServiceBusConnection__fullyQualifiedNamespace", "pf.servicebus.windows.net", "ServiceBusConnection__clientId", "00000000-0000-0000-0000-000000000001")); err != nil {
		t.Fatalf("identity-based: %v", err)
	}
}
