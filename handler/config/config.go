// Package config defines every setting the handler reads, once. The same
// names appear in local.settings.sample.json and in the Bicep app settings;
// config_test keeps them in agreement.
package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Setting describes one app setting.
type Setting struct {
	Name     string
	Default  string // used when the variable is unset or empty
	Required bool   // start-up fails, naming it, when missing
	Secret   bool   // never logged; a Key Vault reference in Azure
	Local    bool   // local development only; absent from the Azure deployment
	Host     bool   // set by the Functions host at start-up, never by a deployment
	Doc      string
}

// Settings is the one list of setting names the app reads.
var Settings = []Setting{
	{Name: "FUNCTIONS_CUSTOMHANDLER_PORT", Host: true, Doc: "port the Functions host tells the handler to listen on (set by the host)"},
	{Name: "FUNCTIONS_HTTPWORKER_PORT", Host: true, Doc: "legacy name of the handler port, used when FUNCTIONS_CUSTOMHANDLER_PORT is unset"},
	{Name: "PROFILEFLOW_LOG_LEVEL", Default: "info", Doc: "debug, info, warn or error"},

	{Name: "OIDC_ISSUER_URL", Required: true, Doc: "OpenID Connect issuer of bearer tokens (Entra ID tenant v2.0 issuer in Azure; the development host's /dev/oidc locally)"},
	{Name: "OIDC_AUDIENCE", Required: true, Doc: "expected aud claim (the API's application ID URI or client id)"},

	{Name: "COSMOS_ENDPOINT", Required: true, Doc: "Cosmos DB account endpoint"},
	{Name: "COSMOS_KEY", Secret: true, Local: true, Doc: "Cosmos DB key; empty in Azure, where the managed identity is used"},
	{Name: "COSMOS_DATABASE", Default: "profileflow", Doc: "Cosmos DB database name"},
	{Name: "COSMOS_CONTAINER_PROFILES", Default: "profiles", Doc: "container of profiles (pk /id)"},
	{Name: "COSMOS_CONTAINER_REQUESTS", Default: "requests", Doc: "container of change requests (pk /id)"},
	{Name: "COSMOS_CONTAINER_UPLOADS", Default: "uploads", Doc: "container of upload sessions (pk /id)"},
	{Name: "COSMOS_CONTAINER_MFA", Default: "mfa", Doc: "container of MFA challenges and counters (pk /id)"},
	{Name: "COSMOS_CONTAINER_IDEMPOTENCY", Default: "idempotency", Doc: "container of idempotency records (pk /id, TTL 24 h)"},

	{Name: "TWILIO_ACCOUNT_SID", Required: true, Doc: "Twilio account SID"},
	{Name: "TWILIO_AUTH_TOKEN", Required: true, Secret: true, Doc: "Twilio auth token (Key Vault reference in Azure)"},
	{Name: "TWILIO_VERIFY_SERVICE_SID", Required: true, Doc: "Twilio Verify v2 service SID (VA…)"},
	{Name: "TWILIO_FROM_NUMBER", Doc: "E.164 sender number for notification SMS"},
	{Name: "TWILIO_API_BASE_URL", Local: true, Doc: "local only: base URL of the fake Twilio API that replaces https://*.twilio.com"},
	{Name: "TWILIO_TIMEOUT", Default: "10s", Doc: "timeout of each Twilio HTTP call"},
	{Name: "MFA_TOKEN_KEY", Required: true, Secret: true, Doc: "base64 HMAC key (≥ 32 bytes) signing MFA tokens (Key Vault reference in Azure)"},
	{Name: "MFA_TOKEN_TTL", Default: "10m", Doc: "lifetime of an MFA token (at most 10m)"},
	{Name: "MFA_MAX_SENDS_PER_HOUR", Default: "5", Doc: "SMS codes one profile may request per rolling hour, on top of Twilio's own limits (whole number ≥ 1); local runs use a higher value"},
	{Name: "MFA_MAX_FAILED_CHECKS", Default: "10", Doc: "wrong codes one profile may enter per rolling 24 hours before SMS verification locks (whole number ≥ 1)"},

	{Name: "WORKFLOW_DEFINITION", Default: "workflows/profile-update.bpmn", Doc: "BPMN file of the profile-update process, relative to the app root (make package copies workflows/ there)"},
	{Name: "WORKFLOW_TIMER_SCALE", Local: true, Doc: "local only, refused unless PROFILEFLOW_DEV_MODE=true: a factor in (0, 1] applied to every boundary timer of the workflow (0.0001 makes PT24H last 8.64 s); empty = real durations"},
	{Name: "PROFILEFLOW_DEV_MODE", Local: true, Doc: "local only: true allows the dev-only settings (WORKFLOW_TIMER_SCALE); never set in Azure"},

	{Name: "ServiceBusConnection", Secret: true, Local: true, Doc: "Service Bus connection string, e.g. the local peer's Endpoint=sb://127.0.0.1:5672;…;UseDevelopmentEmulator=true; empty in Azure, where the identity-based settings below are used. The Service Bus triggers of functions/ name the same setting (\"connection\")"},
	{Name: "ServiceBusConnection__fullyQualifiedNamespace", Doc: "Service Bus namespace (<name>.servicebus.windows.net) of the identity-based connection in Azure, used when ServiceBusConnection is empty"},
	{Name: "ServiceBusConnection__clientId", Doc: "client id of the user-assigned managed identity the Service Bus connection uses; empty = DefaultAzureCredential (the system-assigned identity)"},
	{Name: "NOTIFY_GROUP_PHONES", Doc: "where approval notices (task assigned, reminder, escalation) go: comma-separated group=+E.164 pairs, e.g. ProfileApprover=+15550100001; a candidate group without a number gets no SMS"},

	{Name: "UPLOAD_ACCOUNTS", Required: true, Doc: "comma-separated blob service URLs of the upload shards"},
	{Name: "UPLOAD_ACCOUNT_KEY", Secret: true, Local: true, Doc: "shared key of the upload accounts (Azurite only; Azure uses user delegation SAS)"},
	{Name: "UPLOAD_CONTAINER_INCOMING", Default: "incoming", Doc: "container the upload SAS URLs write to (create+write only; nothing reads it but the handler)"},
	{Name: "UPLOAD_CONTAINER_LANDING", Default: "landing", Doc: "container of the versions pinned at acceptance (written by the handler only); the ScanAttachment blob trigger watches it"},
	{Name: "UPLOAD_CONTAINER_CLEAN", Default: "clean", Doc: "container of documents scanned clean"},
	{Name: "UPLOAD_CONTAINER_QUARANTINE", Default: "quarantine", Doc: "container of rejected or infected documents"},
	{Name: "SCAN_ENGINE", Default: "clamav", Doc: "antivirus engine of the document scan: clamav (clamd at CLAMAV_ADDRESS) or none (local runs without clamd only; every verdict then records engine none)"},
	{Name: "CLAMAV_ADDRESS", Doc: "host:port of clamd (INSTREAM over TCP), e.g. a ClamAV container app inside the VNet; required with SCAN_ENGINE=clamav"},
	{Name: "CLAMAV_TIMEOUT", Default: "60s", Doc: "time limit of one clamd scan (a 25 MiB PDF takes about 2 s)"},
	{Name: "SWEEP_BATCH", Default: "200", Doc: "the Sweep function (every 5 minutes) handles at most this many items of each kind per run: requests needing attention, stalled scans, lost timers, expired uploads (whole number ≥ 1)"},
	{Name: "SWEEP_QUIET", Default: "2m", Doc: "work a request left undone (an outbox not dispatched, a workflow not started, field locks not released) is finished by the sweep once the request was untouched this long"},
	{Name: "SWEEP_ATTENTION_FALLBACK_AFTER", Default: "1h", Doc: "a request needing attention and untouched this long is also found by a query, for when no sweep read the attention index within its window (1 h); at most that window"},
	{Name: "SWEEP_SCAN_REDRIVE_AFTER", Default: "30m", Doc: "a request waiting this long for a document's scan verdict has the document scanned again by the sweep (a lost blob event, a scan that stopped)"},
	{Name: "SWEEP_SCAN_FAIL_AFTER", Default: "2h", Doc: "a request still waiting this long for a scan verdict fails: the document gets the verdict error \"no scan verdict within …\" (longer than SWEEP_SCAN_REDRIVE_AFTER)"},
	{Name: "SWEEP_TIMER_GRACE", Default: "10m", Doc: "a workflow timer this long past due whose scheduled message never came is delivered by the sweep"},
	{Name: "SWEEP_UPLOAD_DELETE_AFTER", Default: "1h", Doc: "the blobs of an upload session that no request claimed are deleted from the incoming container this long after its upload window closed"},
	{Name: "UPLOAD_SAS_TTL", Default: "30m", Doc: "validity of upload SAS URLs (at most 30m)"},
	{Name: "UPLOAD_BLOCK_SIZE", Default: "4194304", Doc: "block size of upload plans in bytes (1–8 MiB)"},
}

// Config is the handler's configuration, read once at start-up.
type Config struct {
	values map[string]string
}

// Load reads every setting from getenv (os.Getenv when nil). It fails with a
// message naming every missing required setting.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{values: map[string]string{}}
	var missing []string
	for _, s := range Settings {
		v := strings.TrimSpace(getenv(s.Name))
		if v == "" {
			v = s.Default
		}
		if v == "" && s.Required {
			missing = append(missing, s.Name)
		}
		c.values[s.Name] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("missing required setting(s): %s (see local.settings.sample.json)", strings.Join(missing, ", "))
	}
	return c, nil
}

// FromMap builds a Config from literal values (tests).
func FromMap(m map[string]string) *Config {
	c, err := Load(func(k string) string { return m[k] })
	if err != nil {
		panic(err)
	}
	return c
}

func lookup(name string) Setting {
	for _, s := range Settings {
		if s.Name == name {
			return s
		}
	}
	panic("config: unknown setting " + name)
}

// String returns a setting's value; it panics on a name not in Settings so
// typos fail at once.
func (c *Config) String(name string) string {
	lookup(name)
	return c.values[name]
}

// Duration parses a Go duration setting.
func (c *Config) Duration(name string) (time.Duration, error) {
	v := c.String(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("setting %s: %q is not a duration (e.g. 30m)", name, v)
	}
	return d, nil
}

// Int parses an integer setting.
func (c *Config) Int(name string) (int, error) {
	v := c.String(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("setting %s: %q is not an integer", name, v)
	}
	return n, nil
}

// PositiveInt parses a whole-number setting that must be at least 1.
func (c *Config) PositiveInt(name string) (int, error) {
	n, err := c.Int(name)
	if err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, fmt.Errorf("setting %s: %q must be a whole number of at least 1", name, c.String(name))
	}
	return n, nil
}

// List splits a comma-separated setting.
func (c *Config) List(name string) []string {
	var out []string
	for _, p := range strings.Split(c.String(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Port is the port the handler listens on.
func (c *Config) Port() string {
	if p := c.String("FUNCTIONS_CUSTOMHANDLER_PORT"); p != "" {
		return p
	}
	if p := c.String("FUNCTIONS_HTTPWORKER_PORT"); p != "" {
		return p
	}
	return "8080"
}
