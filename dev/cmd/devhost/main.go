// Command devhost runs the profileflow development host: it plays the Azure
// Functions host for an app folder (default build/app) on
// http://127.0.0.1:7071 until SIGINT/SIGTERM, then stops the handler.
//
//	devhost -app build/app -addr 127.0.0.1:7071 [-settings local.settings.json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/profileflow/profileflow/dev/host"
	"github.com/profileflow/profileflow/dev/outbox"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("devhost failed", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	app := flag.String("app", "build/app", "function app folder (host.json, handler, function folders)")
	addr := flag.String("addr", "127.0.0.1:7071", "listen address")
	settings := flag.String("settings", "", "optional local.settings.json whose Values are added to the handler's environment")
	ready := flag.Duration("ready-timeout", 30*time.Second, "how long to wait for the handler to answer GET /")
	flag.Parse()

	var env []string
	if *settings != "" {
		var err error
		if env, err = readSettings(*settings); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	h, err := host.Start(ctx, host.Options{
		AppDir:       *app,
		Addr:         *addr,
		Env:          env,
		ReadyTimeout: *ready,
		Logger:       log,
		Outbox:       &outbox.Box{},
	})
	if err != nil {
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("signal received; stopping")
	case runErr = <-h.Done():
	}
	return joinErr(runErr, h.Close())
}

// readSettings reads local.settings.json {"Values": {...}} as KEY=value
// entries (non-string values are skipped; they are not valid app settings).
func readSettings(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Values map[string]any `json:"Values"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var env []string
	for k, v := range f.Values {
		if s, ok := v.(string); ok && k != "" && k[0] != '/' {
			env = append(env, k+"="+s)
		}
	}
	return env, nil
}

func joinErr(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; close: %v", a, b)
}
