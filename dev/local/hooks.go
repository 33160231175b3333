package local

import (
	"net/http"

	"github.com/profileflow/profileflow/dev/host"
)

// staticHandler serves the web UI (a later issue); nil = 404.
func staticHandler(root string) http.Handler { return nil }

// sources are the trigger sources (blob poller, Service Bus receiver) added
// by later issues.
func sources(sys *System, env map[string]string) []host.TriggerSource { return nil }
