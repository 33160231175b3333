// Command handler is profileflow's Azure Functions custom handler. The
// Functions host (or the development host) starts it with
// FUNCTIONS_CUSTOMHANDLER_PORT and forwards HTTP requests and trigger
// invocations to it on 127.0.0.1. This file only reads configuration and
// wires adapters to the server.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/profileflow/profileflow/handler/auth"
	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/idempotency"
	"github.com/profileflow/profileflow/handler/obs"
	"github.com/profileflow/profileflow/handler/request"
	"github.com/profileflow/profileflow/handler/server"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "profileflow handler:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load(nil)
	if err != nil {
		return err
	}
	log := newLogger(cfg.String("PROFILEFLOW_LOG_LEVEL"))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	deps, err := wire(ctx, cfg, log)
	if err != nil {
		return err
	}
	srv, err := server.New(deps)
	if err != nil {
		return err
	}

	addr := net.JoinHostPort("127.0.0.1", cfg.Port())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.InfoContext(ctx, "handler listening", "addr", addr)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain in-flight requests before exiting.
	log.InfoContext(ctx, "shutting down; draining in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// wire builds the adapters from configuration. No network call happens
// here, so the handler answers the host's readiness probe at once.
func wire(ctx context.Context, cfg *config.Config, log *slog.Logger) (server.Deps, error) {
	verifier, err := auth.New(ctx, cfg.String("OIDC_ISSUER_URL"), cfg.String("OIDC_AUDIENCE"))
	if err != nil {
		return server.Deps{}, fmt.Errorf("identity: %w", err)
	}
	cosmos, err := cosmosdb.New(cfg.String("COSMOS_ENDPOINT"), cfg.String("COSMOS_KEY"))
	if err != nil {
		return server.Deps{}, fmt.Errorf("cosmos: %w", err)
	}
	db := cfg.String("COSMOS_DATABASE")
	profiles := stores.NewProfiles(cosmos.Container(db, cfg.String("COSMOS_CONTAINER_PROFILES")))

	// MFA: Twilio Verify + mfa container + token key; see mfa_wire.go.
	mfaSvc, twilio, err := wireMFA(cfg, cosmos, log)
	if err != nil {
		return server.Deps{}, fmt.Errorf("mfa: %w", err)
	}

	// Change requests: request records and field locks in the requests
	// container, idempotency keys, the BPMN definition.
	def, err := workflow.ParseFile(cfg.String("WORKFLOW_DEFINITION"))
	if err != nil {
		return server.Deps{}, fmt.Errorf("setting WORKFLOW_DEFINITION: %w", err)
	}
	if err := scaleTimers(cfg, def, log); err != nil {
		return server.Deps{}, err
	}
	// Timers, their cancellation and notices go out through Service Bus;
	// see workflow_wire.go.
	bus, err := wireServiceBus(cfg)
	if err != nil {
		return server.Deps{}, err
	}
	reqStore := stores.NewRequests(cosmos.Container(db, cfg.String("COSMOS_CONTAINER_REQUESTS")))
	requests := &request.Service{Requests: reqStore, Locks: reqStore, Profiles: profiles, Definition: def, Dispatcher: bus, Log: log}
	if err := def.CheckHandlers(requests.Handlers()); err != nil {
		return server.Deps{}, err
	}
	idem := &idempotency.Keys{Store: stores.NewIdempotency(cosmos.Container(db, cfg.String("COSMOS_CONTAINER_IDEMPOTENCY")))}

	// Uploads: SAS uploads to the blob shards; see uploads_wire.go.
	uploads, blobs, err := wireUploads(cfg, cosmos, log)
	if err != nil {
		return server.Deps{}, fmt.Errorf("uploads: %w", err)
	}
	landing := cfg.String("UPLOAD_CONTAINER_LANDING")

	// The PATCH use case over all of them.
	changes, err := request.NewSubmitter(request.SubmitterDeps{
		Profiles:         profiles,
		MFA:              mfaSvc,
		Uploads:          uploads,
		Attachments:      blobs.Attachments(landing),
		Keys:             idem,
		Requests:         requests,
		LandingContainer: landing,
		Now:              time.Now,
		Log:              log,
	})
	if err != nil {
		return server.Deps{}, err
	}

	notices, err := wireNotify(cfg, cosmos, profiles, twilio, log)
	if err != nil {
		return server.Deps{}, err
	}

	return server.Deps{
		Auth:     verifier,
		Profiles: profiles,
		MFA:      mfaSvc,
		Uploads:  uploads,
		Changes:  changes,
		Requests: requests,
		Notices:  notices,
		Log:      log,
	}, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(obs.NewHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l})))
}
