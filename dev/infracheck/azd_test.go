package infracheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// azure.yaml points azd at infra/main.bicep, its hooks exist and are
// executable, and every azd environment value a hook reads is an output of
// main.bicep, a value azd sets itself, or one a hook sets.
func TestAzdProject(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(Root(), "azure.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var proj struct {
		Name  string `yaml:"name"`
		Infra struct {
			Provider, Path, Module string
		} `yaml:"infra"`
		Hooks map[string]struct {
			Posix struct {
				Shell, Run string
			} `yaml:"posix"`
		} `yaml:"hooks"`
	}
	if err := yaml.Unmarshal(b, &proj); err != nil {
		t.Fatalf("azure.yaml: %v", err)
	}
	if proj.Name == "" || proj.Infra.Provider != "bicep" {
		t.Errorf("azure.yaml: name %q, provider %q", proj.Name, proj.Infra.Provider)
	}
	main := filepath.Join(Root(), proj.Infra.Path, proj.Infra.Module+".bicep")
	if _, err := os.Stat(main); err != nil {
		t.Errorf("azure.yaml infra: %v", err)
	}
	m := templates(t)
	outputs := map[string]bool{}
	for _, o := range m["infra/main.bicep"].All("output") {
		outputs[o.Name] = true
	}
	setByHook := regexp.MustCompile(`azd env set ([A-Z_]+)`)
	read := regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]+)`)
	azdOwn := map[string]bool{"AZURE_ENV_NAME": true, "AZURE_LOCATION": true, "AZURE_SUBSCRIPTION_ID": true, "AZURE_PRINCIPAL_ID": true}
	if len(proj.Hooks) == 0 {
		t.Fatal("azure.yaml has no hooks: nothing deploys the handler")
	}
	for name, h := range proj.Hooks {
		p := filepath.Join(Root(), strings.TrimPrefix(h.Posix.Run, "./"))
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("hook %s: %v", name, err)
			continue
		}
		if st.Mode()&0o111 == 0 {
			t.Errorf("hook %s: %s is not executable", name, p)
		}
		src, _ := os.ReadFile(p)
		own := map[string]bool{}
		for _, mm := range setByHook.FindAllStringSubmatch(string(src), -1) {
			own[mm[1]] = true
		}
		for _, mm := range read.FindAllStringSubmatch(string(src), -1) {
			v := mm[1]
			if !outputs[v] && !azdOwn[v] && !own[v] {
				t.Errorf("hook %s reads %s, which main.bicep does not output", name, v)
			}
		}
	}
}
