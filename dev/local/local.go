// Package local starts the whole system on loopback: the stand-ins (Azurite,
// the Cosmos DB server), the local OIDC issuer, and the development host
// running the packaged app (build/app) with the handler. `make run` and the
// end-to-end tests both use it, so what the tests exercise is what a
// developer runs. Nothing here is deployed to Azure.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/profileflow/profileflow/dev/host"
	"github.com/profileflow/profileflow/dev/oidc"
	"github.com/profileflow/profileflow/dev/outbox"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/stores"
)

// Options choose ports (0 = free port) and where logs go.
type Options struct {
	AppDir        string // packaged app; default <repo>/build/app
	HostPort      int    // development host; 7071 for make run, 0 in tests
	AzuritePort   int
	CosmosPort    int
	TwilioPort    int
	LogDir        string    // stand-in logs; "" = temporary
	HandlerOutput io.Writer // handler logs; default os.Stderr
	Logger        *slog.Logger
	Seed          bool // seed sample profiles 1000…1009
	// NoHost starts the stand-ins and the local OIDC issuer only (on
	// HostPort), for running build/app under Functions Core Tools instead.
	NoHost bool
}

// System is a running local stack.
type System struct {
	URL      string // http://127.0.0.1:PORT of the development host
	Env      map[string]string
	Issuer   *oidc.Issuer
	Outbox   *outbox.Box
	Azurite  *stack.Azurite
	Cosmos   *stack.Cosmos
	Host     *host.Host
	Profiles domain.ProfileStore

	closers []func() error
}

// Audience is the API audience used locally.
const Audience = "api://profileflow"

// SampleProfiles are the ids seeded by Seed.
var SampleProfiles = []string{"1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009"}

// Start brings everything up; on error, whatever started is stopped again.
func Start(ctx context.Context, o Options) (sys *System, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	root, err := stack.RepoRoot()
	if err != nil {
		return nil, err
	}
	if o.AppDir == "" {
		o.AppDir = filepath.Join(root, "build", "app")
	}
	sys = &System{Outbox: &outbox.Box{}}
	defer func() {
		if err != nil {
			sys.Close()
			sys = nil
		}
	}()
	env, err := sampleSettings(root)
	if err != nil {
		return nil, err
	}

	sys.Azurite, err = stack.StartAzurite(ctx, stack.AzuriteOptions{Port: o.AzuritePort, LogDir: o.LogDir})
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	sys.closers = append(sys.closers, sys.Azurite.Stop)
	sys.Cosmos, err = stack.StartCosmos(ctx, stack.CosmosOptions{Port: o.CosmosPort, LogDir: o.LogDir})
	if err != nil {
		return nil, fmt.Errorf("cosmos: %w", err)
	}
	sys.closers = append(sys.closers, sys.Cosmos.Stop)

	// The host port is chosen after the stand-ins took theirs (port 0).
	if o.HostPort == 0 {
		if o.HostPort, err = stack.FreePort(); err != nil {
			return nil, err
		}
	}
	sys.URL = "http://127.0.0.1:" + strconv.Itoa(o.HostPort)

	env["OIDC_ISSUER_URL"] = sys.URL + "/dev/oidc"
	env["OIDC_AUDIENCE"] = Audience
	env["COSMOS_ENDPOINT"] = sys.Cosmos.Endpoint
	env["COSMOS_KEY"] = sys.Cosmos.Key
	env["UPLOAD_ACCOUNTS"] = sys.Azurite.BlobURL
	env["UPLOAD_ACCOUNT_KEY"] = sys.Azurite.AccountKey
	env["AzureWebJobsStorage"] = sys.Azurite.ConnectionString()

	if err := sys.prepareCosmos(ctx, env, o.Seed); err != nil {
		return nil, err
	}
	for _, step := range extraSteps {
		if err := step(ctx, sys, env, o); err != nil {
			return nil, err
		}
	}

	sys.Issuer, err = oidc.NewIssuer(env["OIDC_ISSUER_URL"], Audience)
	if err != nil {
		return nil, err
	}
	sys.Env = env
	if o.NoHost {
		return sys, sys.serveIssuerOnly(o.HostPort)
	}
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)
	sys.Host, err = host.Start(ctx, host.Options{
		AppDir:        o.AppDir,
		Addr:          net.JoinHostPort("127.0.0.1", strconv.Itoa(o.HostPort)),
		Env:           envList,
		Logger:        o.Logger,
		HandlerOutput: o.HandlerOutput,
		DevOIDC:       sys.Issuer.Handler(),
		DevToken:      sys.Issuer.TokenHandler(),
		Outbox:        sys.Outbox,
		Static:        staticHandler(root),
		Sources:       sources(sys, env),
	})
	if err != nil {
		return nil, fmt.Errorf("development host: %w", err)
	}
	sys.closers = append(sys.closers, sys.Host.Close)
	return sys, nil
}

// extraSteps are later set-up steps (fake Twilio, blob containers…),
// registered by the files that add those parts.
var extraSteps []func(ctx context.Context, sys *System, env map[string]string, o Options) error

// Close stops everything in reverse order of start.
func (s *System) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Token mints a bearer token for a subject from the local issuer.
func (s *System) Token(sub string, roles, groups []string) (string, error) {
	return s.Issuer.Mint(sub, roles, groups, time.Hour)
}

// sampleSettings reads local.settings.sample.json so the local run uses the
// documented settings (endpoints are then replaced by the real ports).
func sampleSettings(root string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "local.settings.sample.json"))
	if err != nil {
		return nil, err
	}
	var f struct{ Values map[string]string }
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("local.settings.sample.json: %w", err)
	}
	for k, v := range f.Values {
		if v == "" {
			delete(f.Values, k)
		}
	}
	return f.Values, nil
}

func (s *System) prepareCosmos(ctx context.Context, env map[string]string, seed bool) error {
	c, err := cosmosdb.New(env["COSMOS_ENDPOINT"], env["COSMOS_KEY"])
	if err != nil {
		return err
	}
	ttl := int32(-1)
	specs := []cosmosdb.ContainerSpec{
		{Name: env["COSMOS_CONTAINER_PROFILES"]},
		{Name: env["COSMOS_CONTAINER_REQUESTS"]},
		{Name: env["COSMOS_CONTAINER_UPLOADS"], DefaultTTL: &ttl},
		{Name: env["COSMOS_CONTAINER_MFA"], DefaultTTL: &ttl},
		{Name: env["COSMOS_CONTAINER_IDEMPOTENCY"], DefaultTTL: &ttl},
	}
	if err := c.EnsureSchema(ctx, env["COSMOS_DATABASE"], specs); err != nil {
		return fmt.Errorf("cosmos schema: %w", err)
	}
	store := stores.NewProfiles(c.Container(env["COSMOS_DATABASE"], env["COSMOS_CONTAINER_PROFILES"]))
	s.Profiles = store
	if !seed {
		return nil
	}
	return SeedProfiles(ctx, store)
}

// SeedProfiles creates the sample profiles 1000…1009 owned by user-1000…
// user-1009 with phones +1555010<id>; existing ones are left alone, so
// seeding twice is safe.
func SeedProfiles(ctx context.Context, store domain.ProfileStore) error {
	first := []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Tim"}
	last := []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Johnson", "Berners-Lee"}
	for i, id := range SampleProfiles {
		p := domain.Profile{ID: id, Owner: "user-" + id, FirstName: first[i], LastName: last[i], MaritalStatus: "Single",
			Description: "Sample profile " + id, Phone: "+1555010" + id, Version: 1, UpdatedAt: time.Now().UTC().Truncate(time.Second)}
		if _, err := store.CreateProfile(ctx, p); err != nil && !domain.Is(err, domain.KindConflict) {
			return fmt.Errorf("seed profile %s: %w", id, err)
		}
	}
	return nil
}

// serveIssuerOnly serves the local OIDC issuer, /dev/token and /dev/outbox
// on the host port when the Functions host itself is Core Tools'.
func (s *System) serveIssuerOnly(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/dev/oidc/", s.Issuer.Handler())
	mux.Handle("POST /dev/token", s.Issuer.TokenHandler())
	mux.HandleFunc("GET /dev/outbox", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Outbox.List(r.URL.Query().Get("to")))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, srv.Close)
	return nil
}
