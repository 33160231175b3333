package infracheck

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sdkModels are the wire property names of one management SDK package
// (armmodels.mjs): model → wire key → child model, "" for a leaf, "*" for
// free keys.
type sdkModels struct {
	Package string                        `json:"package"`
	Version string                        `json:"version"`
	Models  map[string]map[string]*string `json:"models"`
}

func loadSDK(t *testing.T, pkg string) *sdkModels {
	t.Helper()
	cmd := exec.Command("node", filepath.Join(Root(), "dev", "infracheck", "armmodels.mjs"), pkg)
	cmd.Dir = Root()
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("armmodels.mjs %s: %v: %s", pkg, err, ee.Stderr)
		}
		t.Fatalf("armmodels.mjs %s: %v", pkg, err)
	}
	var m sdkModels
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("armmodels.mjs %s: %v", pkg, err)
	}
	if len(m.Models) < 20 {
		t.Fatalf("%s: only %d models read; the package layout changed", pkg, len(m.Models))
	}
	return &m
}

// checkedTypes maps a resource type to the SDK package and the model of its
// request body. Types not listed (network, Key Vault, Event Grid, Container
// Apps, monitoring, API Management, identities, role assignments) have no
// package in devDependencies and are checked by syntax only.
var checkedTypes = map[string]struct{ pkg, model string }{
	"Microsoft.Storage/storageAccounts":                             {"@azure/arm-storage", "storageAccountCreateParametersSerializer"},
	"Microsoft.Storage/storageAccounts/blobServices":                {"@azure/arm-storage", "blobServicePropertiesSerializer"},
	"Microsoft.Storage/storageAccounts/blobServices/containers":     {"@azure/arm-storage", "blobContainerSerializer"},
	"Microsoft.Storage/storageAccounts/managementPolicies":          {"@azure/arm-storage", "managementPolicySerializer"},
	"Microsoft.Web/sites":                                           {"@azure/arm-appservice", "siteSerializer"},
	"Microsoft.Web/serverfarms":                                     {"@azure/arm-appservice", "appServicePlanSerializer"},
	"Microsoft.DocumentDB/databaseAccounts":                         {"@azure/arm-cosmosdb", "DatabaseAccountCreateUpdateParameters"},
	"Microsoft.DocumentDB/databaseAccounts/sqlDatabases":            {"@azure/arm-cosmosdb", "SqlDatabaseCreateUpdateParameters"},
	"Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers": {"@azure/arm-cosmosdb", "SqlContainerCreateUpdateParameters"},
	"Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments":      {"@azure/arm-cosmosdb", "SqlRoleAssignmentCreateUpdateParameters"},
	"Microsoft.ServiceBus/namespaces":                               {"@azure/arm-servicebus", "SBNamespace"},
	"Microsoft.ServiceBus/namespaces/queues":                        {"@azure/arm-servicebus", "SBQueue"},
}

// newerThanSDK lists properties the templates' API versions have and the
// SDK package's older API version lacks (resource type + dotted path),
// with the version that added them.
var newerThanSDK = map[string]string{}

// Bicep keys of a resource body that are not part of the request body.
var bicepOnly = map[string]bool{"name": true, "parent": true, "scope": true, "dependsOn": true}

// walk compares a Bicep object literal with a model's wire keys,
// recursing into nested literals; expressions are not evaluated.
func walk(errorf func(string, ...any), sdk *sdkModels, where, typ, path string, obj map[string]any, model string, used map[string]bool) int {
	fields, ok := sdk.Models[model]
	if !ok {
		errorf("%s: %s has no model %s", where, sdk.Package, model)
		return 0
	}
	n := 0
	for k, v := range obj {
		if path == "" && bicepOnly[k] {
			continue
		}
		p := strings.TrimPrefix(path+"."+k, ".")
		child, known := fields[k]
		if !known {
			key := typ + " " + p
			if _, excused := newerThanSDK[key]; excused {
				used[key] = true
				continue
			}
			var keys []string
			for f := range fields {
				keys = append(keys, f)
			}
			sort.Strings(keys)
			errorf("%s: %s: property %s is not in %s %s (%s knows %s)", where, typ, p, sdk.Package, sdk.Version, model, strings.Join(keys, ", "))
			continue
		}
		n++
		if child == nil || *child == "" || *child == "*" {
			continue
		}
		switch x := LoopBody(v).(type) {
		case map[string]any:
			if o := Object(x); o != nil {
				n += walk(errorf, sdk, where, typ, p, o, *child, used)
			}
		case []any:
			for _, el := range x {
				if o := Object(el); o != nil {
					n += walk(errorf, sdk, where, typ, p+"[]", o, *child, used)
				}
			}
		}
	}
	return n
}

// The property names of every resource whose type has an SDK package are
// wire names of that package's models, at every level the template spells
// out literally.
func TestResourcePropertiesKnownToSDK(t *testing.T) {
	m := templates(t)
	sdks := map[string]*sdkModels{}
	used := map[string]bool{}
	checked, props := map[string]bool{}, 0
	for p, f := range m {
		for _, r := range f.All("resource") {
			typ, _, _ := strings.Cut(r.Type, "@")
			spec, ok := checkedTypes[typ]
			if !ok {
				continue
			}
			obj := Object(r.Value)
			if obj == nil {
				continue
			}
			if sdks[spec.pkg] == nil {
				sdks[spec.pkg] = loadSDK(t, spec.pkg)
			}
			checked[typ] = true
			props += walk(t.Errorf, sdks[spec.pkg], p+" "+r.Name, typ, "", obj, spec.model, used)
		}
	}
	for typ := range checkedTypes {
		if !checked[typ] {
			t.Errorf("no resource of checked type %s found; remove it from checkedTypes or fix the lookup", typ)
		}
	}
	for key := range newerThanSDK {
		if !used[key] {
			t.Errorf("newerThanSDK lists %s, which no longer needs excusing", key)
		}
	}
	if props < 60 {
		t.Errorf("only %d properties checked", props)
	}
	t.Logf("%d property names checked in %d resource types", props, len(checked))
}

// The walk reports a misspelt property at any depth.
func TestSDKCheckCatchesUnknownProperty(t *testing.T) {
	sdk := loadSDK(t, "@azure/arm-servicebus")
	var reported []string
	errorf := func(format string, args ...any) { reported = append(reported, fmt.Sprintf(format, args...)) }
	ok := map[string]any{"properties": map[string]any{"lockDuration": "PT1M", "maxDeliveryCount": 10.0}}
	if n := walk(errorf, sdk, "ok", "Microsoft.ServiceBus/namespaces/queues", "", ok, "SBQueue", map[string]bool{}); n != 3 || len(reported) != 0 {
		t.Errorf("valid queue: %d properties matched (want 3), reported %v", n, reported)
	}
	bad := map[string]any{"properties": map[string]any{"lockDuraton": "PT1M"}}
	walk(errorf, sdk, "bad", "Microsoft.ServiceBus/namespaces/queues", "", bad, "SBQueue", map[string]bool{})
	if len(reported) != 1 || !strings.Contains(reported[0], "properties.lockDuraton") {
		t.Errorf("misspelt property: reported %v", reported)
	}
}
