// Command localrun is `make run`: it starts Azurite, the Cosmos DB stand-in,
// the fake Twilio API and the development host with the handler, seeds sample
// profiles, prints how to call the API, and stops everything on Ctrl-C.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/profileflow/profileflow/dev/local"
)

func main() {
	o := local.Options{Seed: true}
	flag.StringVar(&o.AppDir, "app", "build/app", "packaged app folder (make package)")
	flag.IntVar(&o.HostPort, "port", 7071, "development host port")
	flag.IntVar(&o.AzuritePort, "azurite-port", 10000, "Azurite blob port")
	flag.IntVar(&o.CosmosPort, "cosmos-port", 8081, "Cosmos DB stand-in port")
	flag.IntVar(&o.TwilioPort, "twilio-port", 7073, "fake Twilio API port")
	flag.StringVar(&o.LogDir, "logs", ".run/logs", "stand-in log folder")
	flag.BoolVar(&o.NoHost, "standins-only", false, "start the stand-ins, fake Twilio and OIDC issuer only (run build/app under `func start` yourself)")
	flag.Parse()
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sys, err := local.Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(1)
	}
	if o.NoHost {
		printSettings(sys)
		<-ctx.Done()
		fmt.Println("stopping…")
		sys.Close()
		return
	}
	tok, err := sys.Token("user-1000", nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "localrun:", err)
		sys.Close()
		os.Exit(1)
	}
	fmt.Printf(`
profileflow is running:
  API + UI        %[1]s
  Azurite (blob)  %[2]s  (pid %[3]d)
  Cosmos DB       %[4]s  (pid %[5]d)
  logs            %[6]s

Try:
  curl -s -H "Authorization: Bearer %[7]s" %[1]s/api/v1/profile/1000

Mint a token for another user:
  curl -s -X POST %[1]s/dev/token -d '{"sub":"user-1001","roles":[],"groups":[]}'
SMS sent locally:   curl -s '%[1]s/dev/outbox?to=%%2B15550101000'

Ctrl-C stops everything.
`, sys.URL, sys.Azurite.BlobURL, sys.Azurite.PID, sys.Cosmos.Endpoint, sys.Cosmos.PID, o.LogDir, tok)

	select {
	case <-ctx.Done():
	case err := <-sys.Host.Done():
		fmt.Fprintln(os.Stderr, "localrun: development host stopped:", err)
	}
	fmt.Println("stopping…")
	if err := sys.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "localrun: stop:", err)
		os.Exit(1)
	}
}

// printSettings prints local.settings.json for `func start --script-root build/app`.
func printSettings(sys *local.System) {
	values := map[string]string{"FUNCTIONS_WORKER_RUNTIME": "custom"}
	for k, v := range sys.Env {
		values[k] = v
	}
	b, _ := json.MarshalIndent(map[string]any{"IsEncrypted": false, "Values": values}, "", "  ")
	fmt.Printf("Stand-ins are running. Save this as build/app/local.settings.json, then run\n  func start --script-root build/app --port 7072\n\n%s\n\nCtrl-C stops the stand-ins.\n", b)
}
