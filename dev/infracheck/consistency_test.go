package infracheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/stores"
)

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// sampleValues is local.settings.sample.json's Values: the settings of a
// local run.
func sampleValues(t *testing.T) map[string]string {
	var f struct{ Values map[string]string }
	readJSON(t, filepath.Join(Root(), "local.settings.sample.json"), &f)
	return f.Values
}

// varObject returns the object of `var name = {…}` in file.
func varObject(t *testing.T, f *File, name string) map[string]any {
	t.Helper()
	v := f.Find("var", name)
	if v == nil {
		t.Fatalf("%s: var %s not found", f.Path, name)
	}
	obj := Object(v.Value)
	if obj == nil {
		t.Fatalf("%s: var %s is not an object literal", f.Path, name)
	}
	return obj
}

// varList returns the objects of `var name = [{…}, …]` in file.
func varList(t *testing.T, f *File, name string) []map[string]any {
	t.Helper()
	v := f.Find("var", name)
	if v == nil {
		t.Fatalf("%s: var %s not found", f.Path, name)
	}
	arr, ok := v.Value.([]any)
	if !ok {
		t.Fatalf("%s: var %s is not an array literal", f.Path, name)
	}
	var out []map[string]any
	for _, x := range arr {
		o := Object(x)
		if o == nil {
			t.Fatalf("%s: var %s holds a non-object %v", f.Path, name, x)
		}
		out = append(out, o)
	}
	return out
}

// appSettings is the function app's settings object in Bicep: var
// appSettings of functionapp.bicep, which the sites/config 'appsettings'
// resource deploys.
func appSettings(t *testing.T, m map[string]*File) map[string]any {
	t.Helper()
	f := m["infra/modules/functionapp.bicep"]
	if f == nil {
		t.Fatal("infra/modules/functionapp.bicep not found")
	}
	deployed := false
	for _, r := range f.All("resource") {
		body := Object(r.Value)
		if strings.HasPrefix(r.Type, "Microsoft.Web/sites/config@") && body["name"] == "appsettings" {
			e, _ := Expr(body["properties"])
			deployed = regexp.MustCompile(`\bappSettings\b`).MatchString(e)
		}
	}
	if !deployed {
		t.Fatal("functionapp.bicep: no sites/config 'appsettings' resource deploying var appSettings")
	}
	return varObject(t, f, "appSettings")
}

// connections are the binding connection names of functions/*/function.json.
type binding struct {
	Type       string `json:"type"`
	QueueName  string `json:"queueName"`
	Connection string `json:"connection"`
	Path       string `json:"path"`
	Source     string `json:"source"`
}

func functionBindings(t *testing.T) map[string][]binding {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(Root(), "functions", "*", "function.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no functions/*/function.json (%v)", err)
	}
	out := map[string][]binding{}
	for _, p := range dirs {
		var f struct{ Bindings []binding }
		readJSON(t, p, &f)
		out[filepath.Base(filepath.Dir(p))] = f.Bindings
	}
	return out
}

// Settings the Flex Consumption plan refuses or sets itself (Microsoft
// Learn, "Flex Consumption plan hosting": deprecated app settings).
var flexRefused = []string{"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_CONTENTSHARE",
	"WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_NODE_DEFAULT_VERSION", "AzureWebJobsStorage"}

// Settings read by the Functions host or the Azure SDK rather than the
// handler's config: identity-based connections (<connection>__<property>)
// and telemetry.
var hostOrSDKSetting = regexp.MustCompile(`^(([A-Za-z][A-Za-z0-9]*?)\d*__(accountName|blobServiceUri|queueServiceUri|fullyQualifiedNamespace|credential|clientId)|APPLICATIONINSIGHTS_CONNECTION_STRING|APPLICATIONINSIGHTS_AUTHENTICATION_STRING|AZURE_CLIENT_ID)$`)

var keyVaultRef = regexp.MustCompile(`^keyVaultReference\(keyVaultName, '([a-z0-9-]+)'\)$`)

// Every setting the handler reads (handler/config.Settings) is an app
// setting of the function app unless it is local-only or set by the host;
// secrets are Key Vault references to secrets the vault module writes;
// literal values equal the handler's defaults; the Bicep sets nothing the
// handler, the host or the SDK does not read, and nothing Flex refuses.
func TestAppSettingsMatchConfig(t *testing.T) {
	m := templates(t)
	settings := appSettings(t, m)
	secrets := map[string]bool{}
	for _, r := range m["infra/modules/keyvault.bicep"].All("resource") {
		if strings.HasPrefix(r.Type, "Microsoft.KeyVault/vaults/secrets@") {
			if n, ok := Object(r.Value)["name"].(string); ok {
				secrets[n] = true
			}
		}
	}
	known := map[string]config.Setting{}
	for _, s := range config.Settings {
		known[s.Name] = s
		v, inBicep := settings[s.Name]
		switch {
		case s.Local || s.Host:
			if inBicep {
				t.Errorf("%s is local-only or set by the host, but the Bicep deploys it", s.Name)
			}
		case !inBicep:
			t.Errorf("setting %s is read by the handler but is not an app setting in infra/modules/functionapp.bicep", s.Name)
		case s.Secret:
			e, _ := Expr(v)
			mm := keyVaultRef.FindStringSubmatch(e)
			if mm == nil {
				t.Errorf("secret %s = %v; want a Key Vault reference keyVaultReference(keyVaultName, '<secret>')", s.Name, v)
			} else if !secrets[mm[1]] {
				t.Errorf("secret %s refers to Key Vault secret %s, which keyvault.bicep does not write", s.Name, mm[1])
			}
		default:
			if lit, ok := v.(string); ok && s.Default != "" && lit != s.Default {
				t.Errorf("%s = %q in Bicep, but the handler's default is %q", s.Name, lit, s.Default)
			}
		}
	}
	connections := map[string]bool{"AzureWebJobsStorage": true}
	for _, bs := range functionBindings(t) {
		for _, b := range bs {
			if b.Connection != "" {
				connections[b.Connection] = true
			}
		}
	}
	for k := range settings {
		if _, ok := known[k]; ok {
			continue
		}
		mm := hostOrSDKSetting.FindStringSubmatch(k)
		if mm == nil {
			t.Errorf("Bicep sets %s, which neither handler/config nor the host reads", k)
			continue
		}
		if mm[2] != "" && !connections[mm[2]] {
			t.Errorf("Bicep sets %s for connection %s, which no function.json names", k, mm[2])
		}
	}
	for _, k := range flexRefused {
		if _, ok := settings[k]; ok {
			t.Errorf("Bicep sets %s, which Flex Consumption refuses", k)
		}
	}
}

// Every queue, blob container and connection named in a function.json
// exists in the Bicep.
func TestFunctionBindingsProvisioned(t *testing.T) {
	m := templates(t)
	settings := appSettings(t, m)
	queues := map[string]map[string]any{}
	for _, q := range varList(t, m["infra/modules/servicebus.bicep"], "queues") {
		queues[q["name"].(string)] = q
	}
	containers := map[string]bool{}
	for _, v := range varObject(t, m["infra/modules/storage-upload.bicep"], "containerNames") {
		containers[v.(string)] = true
	}
	mainSrc, err := os.ReadFile(filepath.Join(Root(), "infra", "main.bicep"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for fn, bs := range functionBindings(t) {
		for _, b := range bs {
			switch b.Type {
			case "httpTrigger", "http", "timerTrigger":
			case "serviceBusTrigger":
				checked++
				name, sub, _ := strings.Cut(b.QueueName, "/")
				q := queues[name]
				if q == nil {
					t.Errorf("%s: queue %s is not in servicebus.bicep", fn, name)
				} else if sub == "$deadletterqueue" && q["deadLetteringOnMessageExpiration"] != true {
					t.Errorf("%s: reads %s's dead-letter queue, but the queue does not dead-letter expired messages", fn, name)
				}
				if _, ok := settings[b.Connection+"__fullyQualifiedNamespace"]; !ok {
					t.Errorf("%s: connection %s has no %s__fullyQualifiedNamespace app setting", fn, b.Connection, b.Connection)
				}
			case "blobTrigger":
				checked++
				if b.Source != "EventGrid" {
					t.Errorf("%s: blob trigger source %q; Flex Consumption needs EventGrid", fn, b.Source)
				}
				if _, ok := settings[b.Connection+"__blobServiceUri"]; !ok {
					t.Errorf("%s: connection %s has no %s__blobServiceUri app setting", fn, b.Connection, b.Connection)
				}
				container := strings.Split(b.Path, "/")[0]
				if strings.HasPrefix(container, "%") {
					container = settings[strings.Trim(container, "%")].(string)
				}
				if !containers[container] {
					t.Errorf("%s: watches container %s, which the upload shards do not declare", fn, container)
				}
				if !strings.Contains(string(mainSrc), "'"+fn+"'") {
					t.Errorf("%s: main.bicep does not route any shard's Event Grid subscription to it", fn)
				}
			default:
				t.Errorf("%s: binding type %s has no infrastructure check", fn, b.Type)
			}
		}
	}
	if checked < 4 {
		t.Errorf("only %d queue/blob bindings checked", checked)
	}
	sub := m["infra/modules/storage-upload.bicep"].Find("resource", "scanSubscription")
	if sub == nil {
		t.Fatal("storage-upload.bicep: no Event Grid subscription")
	}
	filter := Object(Object(Object(sub.Value)["properties"])["filter"])
	if filter["subjectBeginsWith"] != "/blobServices/default/containers/${containerNames.landing}/" {
		t.Errorf("Event Grid filter %v does not select the landing container", filter["subjectBeginsWith"])
	}
}

// Every Cosmos DB container the code opens is declared in Bicep with the
// same partition key and TTL, and nothing else is.
func TestCosmosContainersMatchCode(t *testing.T) {
	m := templates(t)
	env := sampleValues(t)
	specs := local.CosmosContainers(env)
	want := map[string]*int32{}
	for _, s := range specs {
		want[s.Name] = s.DefaultTTL
	}
	for _, s := range config.Settings {
		if strings.HasPrefix(s.Name, "COSMOS_CONTAINER_") {
			if _, ok := want[env[s.Name]]; !ok {
				t.Errorf("%s (%s) is a container setting but not in the local schema (dev/local CosmosContainers)", s.Name, env[s.Name])
			}
			if env[s.Name] != s.Default {
				t.Errorf("%s: sample value %q differs from the default %q the Bicep declares", s.Name, env[s.Name], s.Default)
			}
		}
	}
	f := m["infra/modules/cosmos.bicep"]
	got := map[string]bool{}
	for _, c := range varList(t, f, "containers") {
		name := c["name"].(string)
		got[name] = true
		ttl, ok := want[name]
		if !ok {
			t.Errorf("cosmos.bicep declares container %s, which the code does not use", name)
			continue
		}
		if c["partitionKey"] != cosmosdb.PartitionKeyPath {
			t.Errorf("container %s: partition key %v, code uses %s", name, c["partitionKey"], cosmosdb.PartitionKeyPath)
		}
		switch {
		case ttl == nil && c["ttl"] != nil:
			t.Errorf("container %s: Bicep TTL %v, code none", name, c["ttl"])
		case ttl != nil && c["ttl"] != float64(*ttl):
			t.Errorf("container %s: Bicep TTL %v, code %d", name, c["ttl"], *ttl)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("container %s is used by the code but not declared in cosmos.bicep", name)
		}
	}
	if db := f.Find("param", "databaseName"); db == nil || db.Value != env["COSMOS_DATABASE"] {
		t.Errorf("cosmos.bicep databaseName default %v, want %s", db, env["COSMOS_DATABASE"])
	}
	// Exactly the paths the stores' queries filter on are indexed.
	wantIdx := map[string][]string{}
	for setting, paths := range stores.QueriedPaths {
		wantIdx[env[setting]] = paths
	}
	for _, c := range varList(t, f, "containers") {
		name := c["name"].(string)
		var gotIdx []string
		list, _ := c["indexed"].([]any)
		for _, p := range list {
			gotIdx = append(gotIdx, p.(string))
		}
		w := slices.Clone(wantIdx[name])
		slices.Sort(w)
		slices.Sort(gotIdx)
		if !slices.Equal(gotIdx, w) {
			t.Errorf("container %s: Bicep indexes %v, the code's queries filter on %v", name, gotIdx, w)
		}
	}
}

// The Service Bus queues of the Bicep are the local peer's topology.
func TestServiceBusQueuesMatchPeerTopology(t *testing.T) {
	var topo struct {
		Queues map[string]map[string]any `json:"queues"`
	}
	readJSON(t, filepath.Join(Root(), "dev", "sbpeer", "topology.json"), &topo)
	got := map[string]map[string]any{}
	for _, q := range varList(t, templates(t)["infra/modules/servicebus.bicep"], "queues") {
		name := q["name"].(string)
		delete(q, "name")
		got[name] = q
	}
	if len(topo.Queues) == 0 {
		t.Fatal("topology.json has no queues")
	}
	if !reflect.DeepEqual(got, topo.Queues) {
		t.Errorf("servicebus.bicep queues\n %v\ndiffer from dev/sbpeer/topology.json\n %v", got, topo.Queues)
	}
	sb := templates(t)["infra/modules/servicebus.bicep"].Find("resource", "queueResources")
	props := Object(Object(sb.Value)["properties"])
	for k := range topo.Queues["workflow"] {
		if e, _ := Expr(props[k]); e != "q."+k {
			t.Errorf("queue resource sets %s = %v, not from the queues list", k, props[k])
		}
	}
}

// The upload shards' containers are the ones the local run creates in
// Azurite, and the app settings name them.
func TestUploadContainersMatchAzurite(t *testing.T) {
	m := templates(t)
	env := sampleValues(t)
	want := local.UploadContainers(env)
	sort.Strings(want)
	names := varObject(t, m["infra/modules/storage-upload.bicep"], "containerNames")
	var got []string
	for _, v := range names {
		got = append(got, v.(string))
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("upload shard containers %v, Azurite gets %v", got, want)
	}
	settings := appSettings(t, m)
	for _, k := range []string{"INCOMING", "LANDING", "CLEAN", "QUARANTINE"} {
		if settings["UPLOAD_CONTAINER_"+k] != names[strings.ToLower(k)] {
			t.Errorf("UPLOAD_CONTAINER_%s = %v, shard container %v", k, settings["UPLOAD_CONTAINER_"+k], names[strings.ToLower(k)])
		}
	}
	bs := Object(m["infra/modules/storage-upload.bicep"].Find("resource", "blobService").Value)
	rules := Object(Object(bs["properties"])["cors"])["corsRules"].([]any)
	exposed := Object(rules[0])["exposedHeaders"]
	if !reflect.DeepEqual(exposed, []any{"ETag", "Content-MD5", "Content-Length", "Date", "x-ms-*"}) {
		t.Errorf("blob CORS exposes %v; the browser client needs ETag (as Azurite's rule)", exposed)
	}
}

// Built-in roles the templates may grant, by definition id, and roles they
// must not (owner-level on data or control plane).
var roleNames = map[string]string{
	"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
	"974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
	"ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
	"69a216fc-b8fb-44d8-bc22-1f3c2cd27a39": "Azure Service Bus Data Sender",
	"4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0": "Azure Service Bus Data Receiver",
	"4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
	"b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
	"3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
	"00000000-0000-0000-0000-000000000002": "Cosmos DB Built-in Data Contributor",
}

var forbiddenRoles = map[string]string{
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
	"b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
	"090c5cfd-751d-490a-894a-3ce6f1109419": "Azure Service Bus Data Owner",
	"17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
	"00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}

var guidLiteral = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// Every role definition id in the templates is a known least-privilege
// role, commented with its name within the lines above it, and every role
// assignment states its principal type.
func TestRoleAssignmentsNamedAndLeastPrivilege(t *testing.T) {
	m := templates(t)
	seen := 0
	for p, f := range m {
		b, err := os.ReadFile(filepath.Join(Root(), p))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, line := range lines {
			for _, id := range guidLiteral.FindAllString(line, -1) {
				seen++
				if n, bad := forbiddenRoles[id]; bad {
					t.Errorf("%s:%d grants %s", p, i+1, n)
					continue
				}
				name, ok := roleNames[id]
				if !ok {
					t.Errorf("%s:%d: unknown role id %s", p, i+1, id)
					continue
				}
				named := false
				for j := i; j >= 0 && j >= i-8; j-- {
					if c := strings.Index(lines[j], "//"); c >= 0 && strings.Contains(lines[j][c:], name) {
						named = true
					}
				}
				if !named {
					t.Errorf("%s:%d: role %s (%s) has no comment naming it", p, i+1, id, name)
				}
			}
		}
		for _, r := range f.All("resource") {
			if strings.HasPrefix(r.Type, "Microsoft.Authorization/roleAssignments@") {
				if Object(Object(r.Value)["properties"])["principalType"] == nil {
					t.Errorf("%s: role assignment %s has no principalType", p, r.Name)
				}
			}
		}
	}
	if seen < 8 {
		t.Errorf("only %d role ids found", seen)
	}
}
