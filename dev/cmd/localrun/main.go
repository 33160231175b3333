// Command localrun is `make run`: it starts Azurite, the Cosmos DB stand-in,
// the Service Bus peer, the fake Twilio API and the development host with
// the handler, seeds sample profiles, prints what runs where, and stops
// everything on Ctrl-C.
//
// A port that is taken ends it at once with one line naming the service, the
// address and the Makefile variable that moves it, e.g.
//
//	profileflow: Azurite blob port 127.0.0.1:10000 is in use (pick another: make run AZURITE_PORT=<port>)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// portSettings maps each service with a fixed port to its flag and to the
// Makefile variable that feeds the flag.
var portSettings = map[string]struct{ flag, makeVar string }{
	local.ServiceHost:    {"port", "PORT"},
	local.ServiceAzurite: {"azurite-port", "AZURITE_PORT"},
	local.ServiceCosmos:  {"cosmos-port", "COSMOS_PORT"},
	local.ServiceTwilio:  {"twilio-port", "TWILIO_PORT"},
	local.ServiceClamd:   {"clamd-port", "CLAMD_PORT"},
	local.ServiceBus:     {"servicebus-port", "SERVICEBUS_PORT"},
}

// run is main without the process: it returns the exit code (0 after a
// clean stop, 1 when the system cannot start or stop, 2 on bad flags) and
// stops when ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := local.Options{Seed: true, HandlerOutput: stderr, Logger: slog.New(slog.NewJSONHandler(stderr, nil))}
	fs := flag.NewFlagSet("localrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.AppDir, "app", "build/app", "packaged app folder (make package)")
	fs.IntVar(&o.HostPort, portSettings[local.ServiceHost].flag, 7071, "development host port (API and dev endpoints)")
	fs.IntVar(&o.AzuritePort, portSettings[local.ServiceAzurite].flag, 10000, "Azurite blob port")
	fs.IntVar(&o.CosmosPort, portSettings[local.ServiceCosmos].flag, 8081, "Cosmos DB stand-in port")
	fs.IntVar(&o.TwilioPort, portSettings[local.ServiceTwilio].flag, 7073, "fake Twilio API port")
	fs.IntVar(&o.ClamdPort, portSettings[local.ServiceClamd].flag, 3310, "clamd port (antivirus of the document scan)")
	fs.IntVar(&o.ServiceBusPort, portSettings[local.ServiceBus].flag, 5672, "Service Bus peer port (AMQP)")
	fs.StringVar(&o.LogDir, "logs", ".run/logs", "stand-in log folder")
	fs.StringVar(&o.WebDir, "web", "", "built web UI folder served at / (default build/web when `make web` built it)")
	fs.BoolVar(&o.NoHost, "standins-only", false, "start the stand-ins, fake Twilio and OIDC issuer only (run build/app under `func start` yourself)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		fmt.Fprintln(stderr, "profileflow:", err)
		return 1
	}

	sys, err := local.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "profileflow:", describe(err))
		return 1
	}
	if o.NoHost {
		printSettings(stdout, sys)
		<-ctx.Done()
	} else {
		tok, err := sys.Token("user-1000", nil, nil)
		if err != nil {
			fmt.Fprintln(stderr, "profileflow:", err)
			sys.Close()
			return 1
		}
		fmt.Fprint(stdout, banner(sys, o.LogDir, tok))
		select {
		case <-ctx.Done():
		case err := <-sys.Host.Done():
			fmt.Fprintln(stderr, "profileflow: development host stopped:", err)
		}
	}
	fmt.Fprintln(stdout, "stopping…")
	if err := sys.Close(); err != nil {
		fmt.Fprintln(stderr, "profileflow: stop:", err)
		return 1
	}
	return 0
}

// describe renders a start error; a taken port becomes one line that says
// how to choose another.
func describe(err error) string {
	var pe *stack.PortInUseError
	if errors.As(err, &pe) {
		if s, ok := portSettings[pe.Service]; ok {
			return fmt.Sprintf("%s (pick another: make run %s=<port>, or -%s <port>)", pe, s.makeVar, s.flag)
		}
		return pe.Error()
	}
	return err.Error()
}

// banner says what runs where, and how to call it.
func banner(sys *local.System, logDir, token string) string {
	var b strings.Builder
	u := sys.URL
	fmt.Fprintf(&b, "\nprofileflow is running:\n")
	if sys.WebUI {
		fmt.Fprintf(&b, "  web UI             %s/  (sign in as user-1000 … user-1009; tick \"Approver\" for the inbox)\n", u)
	} else {
		fmt.Fprintf(&b, "  web UI             not built (make web)\n")
	}
	fmt.Fprintf(&b, "  API                %s/api/v1/…            (development host; handler %s, pid %d)\n", u, sys.Host.HandlerURL(), sys.Host.HandlerPID())
	fmt.Fprintf(&b, "  dev endpoints      %s/dev/token  %s/dev/outbox  %s/dev/oidc/.well-known/openid-configuration\n", u, u, u)
	fmt.Fprintf(&b, "  Azurite (blob)     %s  (pid %d)\n", sys.Azurite.BlobURL, sys.Azurite.PID)
	fmt.Fprintf(&b, "  Cosmos DB          %s  (pid %d)\n", sys.Cosmos.Endpoint, sys.Cosmos.PID)
	fmt.Fprintf(&b, "  Service Bus        %s  (pid %d; queues workflow, notifications)\n", sys.ServiceBus.Endpoint, sys.ServiceBus.PID)
	fmt.Fprintf(&b, "  fake Twilio API    %s  (SMS land in /dev/outbox)\n", sys.TwilioURL)
	if sys.Clamd != nil {
		fmt.Fprintf(&b, "  clamd              %s  (pid %d, %s, test signatures only)\n", sys.Clamd.Addr, sys.Clamd.PID, sys.Clamd.Version)
	} else {
		fmt.Fprintf(&b, "  clamd              NOT INSTALLED: documents are scanned without antivirus (install clamav-daemon clamav)\n")
	}
	fmt.Fprintf(&b, "  logs               %s (stand-ins); handler and host log to this terminal\n", logDir)
	fmt.Fprintf(&b, "\nTry (token for user-1000, valid 1 h):\n")
	fmt.Fprintf(&b, "  curl -s -H \"Authorization: Bearer %s\" %s/api/v1/profile/1000\n", token, u)
	fmt.Fprintf(&b, "\nMint a token for another user:\n")
	fmt.Fprintf(&b, "  curl -s -X POST %s/dev/token -d '{\"sub\":\"user-1001\",\"roles\":[],\"groups\":[]}'\n", u)
	fmt.Fprintf(&b, "SMS sent locally:\n  curl -s '%s/dev/outbox?to=%%2B15550101000'\n", u)
	fmt.Fprintf(&b, "\nCtrl-C stops everything.\n")
	return b.String()
}

// printSettings prints local.settings.json for `func start --script-root build/app`.
func printSettings(w io.Writer, sys *local.System) {
	values := map[string]string{"FUNCTIONS_WORKER_RUNTIME": "custom"}
	for k, v := range sys.Env {
		values[k] = v
	}
	b, _ := json.MarshalIndent(map[string]any{"IsEncrypted": false, "Values": values}, "", "  ")
	fmt.Fprintf(w, "Stand-ins are running. Save this as build/app/local.settings.json, then run\n  func start --script-root build/app --port 7072\n\n%s\n\nCtrl-C stops the stand-ins.\n", b)
}
