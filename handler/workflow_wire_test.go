package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
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

// loadWorkflow loads the definition with the archived versions beside it
// (a request started on an older version finishes on it), logs the
// documentation elements it skipped, and refuses an archive whose file
// does not match its name.
func TestLoadWorkflowWithArchive(t *testing.T) {
	dir := t.TempDir()
	const v1 = `<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
<bpmn:process id="P"><bpmn:laneSet id="Lanes" /><bpmn:startEvent id="S" /><bpmn:userTask id="T" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="T" /><bpmn:sequenceFlow id="F1" sourceRef="T" targetRef="E" /></bpmn:process>
</bpmn:definitions>`
	v2 := strings.Replace(v1, `<bpmn:userTask id="T" />`, `<bpmn:userTask id="T" name="renamed" />`, 1)
	old, err := workflow.Parse(strings.NewReader(v1))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "versions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "versions", workflow.ArchiveName(old)), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.bpmn")
	if err := os.WriteFile(path, []byte(v2), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	def, err := loadWorkflow(settings("WORKFLOW_DEFINITION", path), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if def.Version == old.Version || !strings.Contains(logs.String(), "laneSet Lanes at line 3") || !strings.Contains(logs.String(), "versions=2") {
		t.Fatalf("version %s, logs:\n%s", def.Version, logs.String())
	}
	in, _, err := workflow.Start(context.Background(), old, "r", nil, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Deliver(context.Background(), def, workflow.Event{ID: "d", Type: workflow.EventTaskDecision, TaskID: "T", Decision: workflow.Approve, Actor: "a"}, time.Now(), nil); err != nil || in.Status != workflow.StatusCompleted {
		t.Fatalf("old instance on the new definition: %v %s", err, in.Status)
	}
	if err := os.WriteFile(filepath.Join(dir, "versions", "sha256-00000000000000000000000000000000.bpmn"), []byte(v2), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadWorkflow(settings("WORKFLOW_DEFINITION", path), slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "WORKFLOW_DEFINITION") {
		t.Fatalf("mismatched archive file: %v", err)
	}
}
