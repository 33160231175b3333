// Package archtest checks the project's import rules: SDKs only
// inside their adapter, domain packages free of transports and SDKs.
package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/profileflow/profileflow/"

// sdkOwners: an import path prefix and the only handler packages allowed to import it.
var sdkOwners = []struct {
	prefix string
	owners []string
}{
	{"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos", []string{"cosmosdb"}},
	{"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob", []string{"blobstore"}},
	{"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus", []string{"servicebus"}},
	{"github.com/Azure/azure-sdk-for-go/sdk/azidentity", []string{"cosmosdb", "blobstore", "servicebus"}},
	{"github.com/Azure/azure-sdk-for-go/sdk/azcore", []string{"cosmosdb", "blobstore", "servicebus"}},
	{"github.com/twilio/twilio-go", []string{"sms"}},
	{"github.com/coreos/go-oidc", []string{"auth"}},
}

// domainPkgs (and docstore, the pure document port they may use) may import
// only the standard library, other domain packages and small pure libraries.
var domainPkgs = map[string]bool{"domain": true, "workflow": true, "mfa": true, "upload": true, "request": true, "scan": true, "idempotency": true, "obs": true, "docstore": true, "notify": true}

// pureLibs are libraries a domain package may use: computation only, no
// I/O. pdfcpu qualifies as handler/scan uses it: over an in-memory reader
// with a configuration of its own (pdfcpu's default configuration would
// write ~/.config/pdfcpu).
var pureLibs = []string{"golang.org/x/text", "github.com/gabriel-vasile/mimetype", "github.com/go-jose/go-jose", "github.com/pdfcpu/pdfcpu"}

func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			out[top] = append(out[top], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSDKsOnlyInTheirAdapter(t *testing.T) {
	for pkg, ims := range imports(t, "..") {
		if pkg == "tools" || pkg == "." {
			continue // tools.go pins modules; main wires everything
		}
		for _, im := range ims {
			for _, rule := range sdkOwners {
				if !strings.HasPrefix(im, rule.prefix) {
					continue
				}
				ok := false
				for _, o := range rule.owners {
					ok = ok || o == pkg
				}
				if !ok {
					t.Errorf("handler/%s imports %s; only %v may", pkg, im, rule.owners)
				}
			}
		}
	}
}

func TestDomainPackagesArePure(t *testing.T) {
	for pkg, ims := range imports(t, "..") {
		if !domainPkgs[pkg] {
			continue
		}
		for _, im := range ims {
			if !strings.Contains(strings.Split(im, "/")[0], ".") {
				continue // standard library
			}
			if strings.HasPrefix(im, module+"handler/") && domainPkgs[strings.Split(strings.TrimPrefix(im, module+"handler/"), "/")[0]] {
				continue
			}
			pure := false
			for _, l := range pureLibs {
				pure = pure || strings.HasPrefix(im, l)
			}
			if !pure {
				t.Errorf("domain package handler/%s imports %s", pkg, im)
			}
		}
	}
}

func TestRuleCatchesViolation(t *testing.T) {
	// Guard against a checker that silently passes: the real cosmosdb
	// adapter must be seen importing azcosmos.
	found := false
	for _, im := range imports(t, "..")["cosmosdb"] {
		found = found || strings.HasPrefix(im, "github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos")
	}
	if !found {
		t.Fatal("checker did not see handler/cosmosdb importing azcosmos")
	}
}
