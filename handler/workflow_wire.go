package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"

	"github.com/profileflow/profileflow/handler/config"
	"github.com/profileflow/profileflow/handler/cosmosdb"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/servicebus"
	"github.com/profileflow/profileflow/handler/sms"
	"github.com/profileflow/profileflow/handler/stores"
	"github.com/profileflow/profileflow/handler/workflow"
)

// wireServiceBus builds the Service Bus adapter the request service
// dispatches its outbox through: the connection string ServiceBusConnection
// when set (the local peer), otherwise the namespace
// ServiceBusConnection__fullyQualifiedNamespace with the managed identity
// (ServiceBusConnection__clientId, or DefaultAzureCredential). No network
// call happens here.
func wireServiceBus(cfg *config.Config) (*servicebus.Client, error) {
	return servicebus.New(servicebus.Config{
		ConnectionString: cfg.String("ServiceBusConnection"),
		Namespace:        cfg.String("ServiceBusConnection__fullyQualifiedNamespace"),
		ClientID:         cfg.String("ServiceBusConnection__clientId"),
	})
}

// loadWorkflow loads WORKFLOW_DEFINITION together with the earlier versions
// kept in the folder "versions" beside it (see workflow.Registry), so that
// a request finishes on the definition version it started on after the
// file changed and the app restarted. It logs the documentation-only
// elements each version skipped and applies WORKFLOW_TIMER_SCALE to every
// version.
func loadWorkflow(cfg *config.Config, log *slog.Logger) (*workflow.Definition, error) {
	path := cfg.String("WORKFLOW_DEFINITION")
	reg := workflow.NewRegistry()
	if err := reg.LoadArchive(filepath.Join(filepath.Dir(path), "versions")); err != nil {
		return nil, fmt.Errorf("setting WORKFLOW_DEFINITION: archived versions: %w", err)
	}
	def, err := reg.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("setting WORKFLOW_DEFINITION: %w", err)
	}
	for _, v := range reg.Versions() {
		d := reg.Lookup(v)
		for _, ig := range d.Ignored {
			log.Info("workflow definition: documentation element ignored", "process", d.ID, "version", v, "element", ig)
		}
		if err := scaleTimers(cfg, d, log); err != nil {
			return nil, err
		}
	}
	log.Info("workflow definition loaded", "process", def.ID, "version", def.Version, "versions", len(reg.Versions()))
	return def, nil
}

// scaleTimers applies WORKFLOW_TIMER_SCALE to def's boundary timers. The
// setting is for local runs: it is refused unless PROFILEFLOW_DEV_MODE is
// true, and a value that is not a number in (0, 1] stops start-up.
func scaleTimers(cfg *config.Config, def *workflow.Definition, log *slog.Logger) error {
	v := cfg.String("WORKFLOW_TIMER_SCALE")
	if v == "" {
		return nil
	}
	if cfg.String("PROFILEFLOW_DEV_MODE") != "true" {
		return fmt.Errorf("setting WORKFLOW_TIMER_SCALE shortens the workflow's timers for local runs only; it needs PROFILEFLOW_DEV_MODE=true")
	}
	f, err := strconv.ParseFloat(v, 64)
	if err == nil {
		err = def.ScaleTimers(f)
	}
	if err != nil {
		return fmt.Errorf("setting WORKFLOW_TIMER_SCALE: %q must be a number above 0 and at most 1", v)
	}
	log.Warn("workflow timers shortened for a local run", "factor", f)
	return nil
}

// wireNotify builds the Notify use case: SMS through the Twilio client,
// the profile's phone for the requester, NOTIFY_GROUP_PHONES for candidate
// groups, and the sent-notice log in the idempotency container (TTL on).
// An interrupted delivery's intent settles for TWILIO_TIMEOUT plus the
// default margin before Twilio is asked whether its SMS went out, so a
// send still in flight is never taken for a lost one.
func wireNotify(cfg *config.Config, cosmos *cosmosdb.Client, profiles *stores.Profiles, twilio *sms.Client, log *slog.Logger) (*notify.Service, error) {
	groups, err := notify.ParseGroupPhones(cfg.String("NOTIFY_GROUP_PHONES"))
	if err != nil {
		return nil, fmt.Errorf("setting NOTIFY_GROUP_PHONES: %w", err)
	}
	timeout, err := cfg.Duration("TWILIO_TIMEOUT")
	if err != nil {
		return nil, err
	}
	sent := stores.NewNotices(cosmos.Container(cfg.String("COSMOS_DATABASE"), cfg.String("COSMOS_CONTAINER_IDEMPOTENCY")))
	return &notify.Service{Profiles: profiles, Sender: twilio, Sent: sent, GroupPhones: groups, Log: log,
		Settle: timeout + notify.DefaultSettle}, nil
}
