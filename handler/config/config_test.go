package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// hostSettings are read by the Functions host, not by the handler.
// hostSettings are read by the Functions host, not the handler: the
// ScanAttachment blob trigger's connection (UploadStorage) among them.
var hostSettings = map[string]bool{"FUNCTIONS_WORKER_RUNTIME": true, "AzureWebJobsStorage": true, "UploadStorage": true}

func TestSampleSettingsMatchConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		IsEncrypted bool
		Values      map[string]string
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("local.settings.sample.json: %v", err)
	}
	known := map[string]bool{}
	for _, s := range Settings {
		known[s.Name] = true
		if _, ok := f.Values[s.Name]; !ok {
			t.Errorf("setting %s is read by the handler but missing from local.settings.sample.json", s.Name)
		}
		if s.Doc == "" {
			t.Errorf("setting %s has no Doc", s.Name)
		}
	}
	for k := range f.Values {
		if !known[k] && !hostSettings[k] {
			t.Errorf("local.settings.sample.json lists %s, which the handler never reads", k)
		}
	}
	if f.Values["FUNCTIONS_WORKER_RUNTIME"] != "custom" {
		t.Error("FUNCTIONS_WORKER_RUNTIME must be custom")
	}
}

func TestSettingNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings {
		if seen[s.Name] {
			t.Errorf("duplicate setting %s", s.Name)
		}
		seen[s.Name] = true
	}
}

func TestLoadNamesMissingRequired(t *testing.T) {
	_, err := Load(func(string) string { return "" })
	if err == nil {
		t.Fatal("Load succeeded without required settings")
	}
	var required []string
	for _, s := range Settings {
		if s.Required {
			required = append(required, s.Name)
		}
	}
	sort.Strings(required)
	for _, name := range required {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	env := map[string]string{}
	for _, n := range required {
		env[n] = "x"
	}
	delete(env, "OIDC_AUDIENCE")
	_, err = Load(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "OIDC_AUDIENCE") || strings.Contains(err.Error(), "COSMOS_ENDPOINT") {
		t.Errorf("err = %v; want only OIDC_AUDIENCE named", err)
	}
}

func TestDefaultsAndParsing(t *testing.T) {
	c := FromMap(map[string]string{"OIDC_ISSUER_URL": "x", "OIDC_AUDIENCE": "y", "COSMOS_ENDPOINT": "z",
		"TWILIO_ACCOUNT_SID": "AC", "TWILIO_AUTH_TOKEN": "t", "TWILIO_VERIFY_SERVICE_SID": "VA", "MFA_TOKEN_KEY": "k",
		"FUNCTIONS_HTTPWORKER_PORT": "5555", "UPLOAD_ACCOUNTS": " a, b ,,c", "UPLOAD_SAS_TTL": "nope"})
	if c.String("COSMOS_DATABASE") != "profileflow" {
		t.Error("default not applied")
	}
	if c.Port() != "5555" {
		t.Errorf("port fallback = %s", c.Port())
	}
	if got := c.List("UPLOAD_ACCOUNTS"); strings.Join(got, "|") != "a|b|c" {
		t.Errorf("list = %v", got)
	}
	if _, err := c.Duration("UPLOAD_SAS_TTL"); err == nil || !strings.Contains(err.Error(), "UPLOAD_SAS_TTL") {
		t.Errorf("bad duration err = %v", err)
	}
	if n, err := c.Int("UPLOAD_BLOCK_SIZE"); n != 4<<20 || err != nil {
		t.Errorf("int = %d %v", n, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("unknown setting name did not panic")
		}
	}()
	c.String("NO_SUCH_SETTING")
}
