package host

import (
	"context"
	"log/slog"
)

// Invoker is what a TriggerSource gets from the host: the loaded app (to
// find its functions, e.g. App().FunctionsByTrigger(TypeBlobTrigger)), a
// logger, and Invoke, which POSTs the {Data, Metadata} envelope to the
// handler and decodes {Outputs, Logs, ReturnValue}. *Host implements it.
type Invoker interface {
	App() *App
	Logger() *slog.Logger
	Invoke(ctx context.Context, function string, data, metadata map[string]any) (*InvokeResult, error)
}

// TriggerSource produces invocations for one kind of trigger (built in:
// timers, blobs and Service Bus; others come through Options.Sources).
// Start is called once the handler is ready and the HTTP listener is up; it
// must not block: run the work in goroutines that end when ctx is cancelled
// or Stop is called. Stop is called once on Close and must wait for those
// goroutines; it should settle or abandon whatever it holds (e.g. Service
// Bus locks). A Start error aborts host start-up.
type TriggerSource interface {
	Start(ctx context.Context, inv Invoker) error
	Stop() error
}
