// Package local starts the whole system on loopback: the stand-ins (Azurite,
// the Cosmos DB server, the Service Bus peer), the fake Twilio API, the local
// OIDC issuer, and the development host running the packaged app
// (build/app) with the handler.
// `make run` and the end-to-end tests both use it, so what the tests exercise
// is what a developer runs. It starts the local system and nothing else;
// building the app folder is dev/artifact's job. Nothing here is deployed.
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
	"strings"
	"time"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/host"
	"github.com/profileflow/profileflow/dev/oidc"
	"github.com/profileflow/profileflow/dev/outbox"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/webui"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/stores"
)

// Service names, as errors (e.g. *stack.PortInUseError) and logs name them.
const (
	ServiceHost    = "development host"
	ServiceAzurite = "Azurite blob"
	ServiceCosmos  = "Cosmos DB stand-in"
	ServiceTwilio  = "fake Twilio API"
	ServiceClamd   = "clamd"
	ServiceBus     = "Service Bus peer"
)

// Options choose ports (0 = a free port) and where logs go.
type Options struct {
	AppDir         string // packaged app; default <repo>/build/app
	HostPort       int    // development host; 7071 for make run, 0 in tests
	AzuritePort    int
	CosmosPort     int
	TwilioPort     int
	ClamdPort      int
	ServiceBusPort int
	// RequireAntivirus fails Start when clamd cannot run (tests; CI=true
	// implies it). Without it a machine lacking clamd runs with
	// SCAN_ENGINE=none, said loudly in the log.
	RequireAntivirus bool
	LogDir           string    // stand-in logs; "" = temporary
	HandlerOutput    io.Writer // handler logs; default os.Stderr
	// Logger receives start-up events, among them one "started" record
	// (service, pid) per child process, and the development host's logs.
	Logger *slog.Logger
	Seed   bool // seed sample profiles 1000…1009
	// Settings are applied over local.settings.sample.json (e.g. a test
	// that needs the production MFA limits); endpoints are set by Start.
	Settings map[string]string
	// NoHost starts the stand-ins and the local OIDC issuer only (on
	// HostPort), for running build/app under Functions Core Tools instead.
	NoHost bool
	// ServiceBusTopology is the Service Bus peer's queue file; "" =
	// dev/sbpeer/topology.json (a test may shorten lock durations).
	ServiceBusTopology string
	// WebDir is the built web UI the development host serves at "/"
	// (webui.Build's output); "" = <repo>/build/web when `make web` built
	// it, else no UI.
	WebDir string
	// ServiceBusStateFile, when set, makes the Service Bus peer keep its
	// queues in that file, so messages survive a restart of the peer
	// (ServiceBus.Restart drops every connection).
	ServiceBusStateFile string
}

// System is a running local stack.
type System struct {
	URL       string // http://127.0.0.1:PORT of the development host
	TwilioURL string // base URL of the fake Twilio API
	Env       map[string]string
	Issuer    *oidc.Issuer
	Outbox    *outbox.Box
	Azurite   *stack.Azurite
	Cosmos    *stack.Cosmos
	Clamd     *stack.Clamd // nil when clamd is not installed and not required
	// ServiceBus is the local Service Bus peer (the queues of
	// dev/sbpeer/topology.json, in memory).
	ServiceBus *stack.ServiceBus
	Host       *host.Host // nil with NoHost
	// WebUI is true when the development host serves the built web UI at "/".
	WebUI    bool
	Profiles domain.ProfileStore

	twilio  *faketwilio.Server
	log     *slog.Logger
	opts    Options
	closers []func() error
}

// Audience is the API audience used locally.
const Audience = "api://profileflow"

// SampleProfiles are the ids seeded by Seed.
var SampleProfiles = []string{"1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009"}

// Start brings the system up, step by step in the order below. A fixed port
// that is taken fails with a *stack.PortInUseError naming the service and
// the address. On any error everything already started is stopped again
// before Start returns.
func Start(ctx context.Context, o Options) (*System, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	sys := &System{Outbox: &outbox.Box{}, log: o.Logger, opts: o}
	if err := sys.start(ctx, o); err != nil {
		if cerr := sys.Close(); cerr != nil {
			o.Logger.Error("stopping after a failed start", "error", cerr)
		}
		return nil, err
	}
	return sys, nil
}

func (s *System) start(ctx context.Context, o Options) error {
	root, err := stack.RepoRoot()
	if err != nil {
		return err
	}
	if o.AppDir == "" {
		o.AppDir = filepath.Join(root, "build", "app")
	}

	// 1. Settings: the documented local values, then the caller's.
	env, err := sampleSettings(root)
	if err != nil {
		return err
	}
	for k, v := range o.Settings {
		env[k] = v
	}

	// 2. Reserve the ports this process serves itself, so a taken one
	//    fails before any child process starts.
	hostLn, err := s.listen(ServiceHost, o.HostPort)
	if err != nil {
		return err
	}
	twilioLn, err := s.listen(ServiceTwilio, o.TwilioPort)
	if err != nil {
		return err
	}
	s.URL = "http://" + hostLn.Addr().String()

	// 3. Azurite (blob) and 4. the Cosmos DB stand-in, as child processes.
	if s.Azurite, err = stack.StartAzurite(ctx, stack.AzuriteOptions{Port: o.AzuritePort, LogDir: o.LogDir}); err != nil {
		return err
	}
	s.closers = append(s.closers, s.Azurite.Stop)
	s.log.Info("started", "service", ServiceAzurite, "pid", s.Azurite.PID, "url", s.Azurite.BlobURL, "log", s.Azurite.LogPath)
	if s.Cosmos, err = stack.StartCosmos(ctx, stack.CosmosOptions{Port: o.CosmosPort, LogDir: o.LogDir}); err != nil {
		return err
	}
	s.closers = append(s.closers, s.Cosmos.Stop)
	s.log.Info("started", "service", ServiceCosmos, "pid", s.Cosmos.PID, "url", s.Cosmos.Endpoint, "log", s.Cosmos.LogPath)

	// 4b. clamd with the project's test signatures, the scan's antivirus.
	if err := s.startClamd(ctx, o, env); err != nil {
		return err
	}

	// 5. The Service Bus peer, serving the workflow and notifications
	//    queues (and their dead-letter queues).
	if s.ServiceBus, err = stack.StartServiceBus(ctx, stack.ServiceBusOptions{Port: o.ServiceBusPort, LogDir: o.LogDir, Topology: o.ServiceBusTopology, StateFile: o.ServiceBusStateFile}); err != nil {
		return err
	}
	s.closers = append(s.closers, s.ServiceBus.Stop)
	s.log.Info("started", "service", ServiceBus, "pid", s.ServiceBus.PID, "url", s.ServiceBus.Endpoint, "log", s.ServiceBus.LogPath)

	// 6. The fake Twilio API on its reserved port; its SMS land in Outbox.
	s.startFakeTwilio(twilioLn, env)

	// 7. Point the handler's settings at what actually runs.
	env["OIDC_ISSUER_URL"] = s.URL + "/dev/oidc"
	env["OIDC_AUDIENCE"] = Audience
	env["COSMOS_ENDPOINT"] = s.Cosmos.Endpoint
	env["COSMOS_KEY"] = s.Cosmos.Key
	env["UPLOAD_ACCOUNTS"] = s.Azurite.BlobURL
	env["UPLOAD_ACCOUNT_KEY"] = s.Azurite.AccountKey
	env["AzureWebJobsStorage"] = s.Azurite.ConnectionString()
	env["UploadStorage"] = s.Azurite.ConnectionString()
	env["ServiceBusConnection"] = s.ServiceBus.ConnectionString()
	s.Env = env

	// 8. Cosmos database, containers and (optionally) sample profiles.
	if err := s.prepareCosmos(ctx, env, o.Seed); err != nil {
		return err
	}

	// 9. Blob containers and the CORS rule for the served origin.
	if err := s.prepareBlobs(ctx, env); err != nil {
		return err
	}

	// 10. The local OIDC issuer (served by the development host at /dev/oidc).
	if s.Issuer, err = oidc.NewIssuer(env["OIDC_ISSUER_URL"], Audience); err != nil {
		return err
	}

	// 11. The development host with the handler, on its reserved port (or,
	//     with NoHost, only the issuer and the dev endpoints there).
	if o.NoHost {
		s.serveIssuerOnly(hostLn)
		return nil
	}
	return s.startHost(ctx, o, hostLn, env)
}

// listen opens 127.0.0.1:port for a service this process serves and
// registers its closing; a taken port is a *stack.PortInUseError.
func (s *System) listen(service string, port int) (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, stack.ListenError(service, addr, err)
	}
	s.closers = append(s.closers, func() error {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	})
	return ln, nil
}

func (s *System) startHost(ctx context.Context, o Options, ln net.Listener, env map[string]string) error {
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)
	static, err := s.webUI(o)
	if err != nil {
		return err
	}
	h, err := host.Start(ctx, host.Options{
		AppDir:        o.AppDir,
		Listener:      ln,
		Env:           envList,
		Logger:        o.Logger,
		HandlerOutput: o.HandlerOutput,
		DevOIDC:       s.Issuer.Handler(),
		DevToken:      s.Issuer.TokenHandler(),
		Outbox:        s.Outbox,
		Static:        static,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", ServiceHost, err)
	}
	s.Host = h
	s.WebUI = static != nil
	s.closers = append(s.closers, h.Close)
	return nil
}

// webUI is the handler of the built web UI (o.WebDir, else build/web when
// it exists), allowed to connect to Azurite; nil when there is none.
func (s *System) webUI(o Options) (http.Handler, error) {
	dir := o.WebDir
	if dir == "" {
		root, err := stack.RepoRoot()
		if err != nil {
			return nil, err
		}
		if dir, err = webui.DefaultDir(root); err != nil {
			return nil, nil
		}
	}
	blobOrigin, err := webui.Origin(s.Azurite.BlobURL)
	if err != nil {
		return nil, err
	}
	return webui.Handler(dir, blobOrigin)
}

// RestartHost stops the development host and its handler and starts them
// again on the same address with the same settings, as the Functions host
// restarts a worker that died. Service Bus messages the stopped host held
// are abandoned, or return when their locks expire.
func (s *System) RestartHost(ctx context.Context) error {
	if s.Host == nil {
		return errors.New("local: the system runs no development host")
	}
	if err := s.Host.Close(); err != nil {
		s.log.Warn("stopping the development host", "error", err)
	}
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return err
	}
	ln, err := s.listen(ServiceHost, n)
	if err != nil {
		return err
	}
	o := s.opts
	if o.AppDir == "" {
		root, err := stack.RepoRoot()
		if err != nil {
			return err
		}
		o.AppDir = filepath.Join(root, "build", "app")
	}
	return s.startHost(ctx, o, ln, s.Env)
}

// Close stops everything in reverse order of start. It is safe on a
// partly started system and when called twice.
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
	if err := c.EnsureSchema(ctx, env["COSMOS_DATABASE"], CosmosContainers(env)); err != nil {
		return fmt.Errorf("cosmos schema: %w", err)
	}
	store := stores.NewProfiles(c.Container(env["COSMOS_DATABASE"], env["COSMOS_CONTAINER_PROFILES"]))
	s.Profiles = store
	if !seed {
		return nil
	}
	return SeedProfiles(ctx, store)
}

// CosmosContainers is the container schema of the local run, by setting
// (env holds the settings, e.g. local.settings.sample.json's values): the
// containers the handler opens, with TTL on (-1, per-document "ttl") where
// its stores write expiring documents. The Bicep deployment declares the
// same containers; a test in dev/infracheck compares them.
func CosmosContainers(env map[string]string) []cosmosdb.ContainerSpec {
	ttl := int32(-1)
	return []cosmosdb.ContainerSpec{
		{Name: env["COSMOS_CONTAINER_PROFILES"]},
		{Name: env["COSMOS_CONTAINER_REQUESTS"]},
		{Name: env["COSMOS_CONTAINER_UPLOADS"], DefaultTTL: &ttl},
		{Name: env["COSMOS_CONTAINER_MFA"], DefaultTTL: &ttl},
		{Name: env["COSMOS_CONTAINER_IDEMPOTENCY"], DefaultTTL: &ttl},
	}
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
func (s *System) serveIssuerOnly(ln net.Listener) {
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
}

// startClamd starts clamd and points the handler at it. Where clamd is not
// installed it fails if antivirus is required (o.RequireAntivirus, or
// CI=true); otherwise the handler runs with SCAN_ENGINE=none and that is
// logged as an error, and every verdict records engine "none".
func (s *System) startClamd(ctx context.Context, o Options, env map[string]string) error {
	if _, err := stack.FindClamd(""); err != nil {
		if o.RequireAntivirus || os.Getenv("CI") == "true" {
			return err
		}
		s.log.Error("clamd is not installed: documents are scanned WITHOUT antivirus (SCAN_ENGINE=none, engine \"none\" in every verdict); install clamav-daemon clamav to scan for malware", "err", err.Error())
		env["SCAN_ENGINE"] = "none"
		return nil
	}
	c, err := stack.StartClamd(ctx, stack.ClamdOptions{Port: o.ClamdPort, LogDir: o.LogDir})
	if err != nil {
		return err
	}
	s.Clamd = c
	s.closers = append(s.closers, c.Stop)
	s.log.Info("started", "service", ServiceClamd, "pid", c.PID, "addr", c.Addr, "version", c.Version, "log", c.LogPath)
	env["SCAN_ENGINE"] = "clamav"
	env["CLAMAV_ADDRESS"] = c.Addr
	return nil
}
