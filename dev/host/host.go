package host

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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/profileflow/profileflow/dev/outbox"
)

// Options configure Start. Only AppDir is required.
type Options struct {
	AppDir string // the app folder, e.g. build/app
	Addr   string // listen address; default 127.0.0.1:7071 (use 127.0.0.1:0 in tests)
	// Listener, when set, is served instead of listening on Addr (a caller
	// that reserved its port early); Close closes it.
	Listener net.Listener
	// Env is added to the handler's environment after os.Environ() (later
	// entries win), like app settings; "KEY=value" entries. It also resolves
	// %Setting% references in timer schedules, Service Bus entity names and
	// handler arguments, and holds the Service Bus connection settings.
	Env           []string
	ReadyTimeout  time.Duration // handler readiness; default 30s
	StopGrace     time.Duration // SIGTERM → SIGKILL; default 10s
	Logger        *slog.Logger  // default: JSON to stderr
	HandlerOutput io.Writer     // handler stdout+stderr; default os.Stderr

	// Dev-only, loopback-only endpoints (nil = 404).
	DevOIDC  http.Handler // mounted at /dev/oidc and /dev/oidc/... (full path, no prefix stripped)
	DevToken http.Handler // POST /dev/token
	Outbox   *outbox.Box  // GET /dev/outbox?to=<E.164>; nil → []
	// Static serves paths outside the route prefix and /dev (the web UI).
	Static http.Handler
	// Blob tunes the built-in blob trigger source, which runs when the app
	// has blobTrigger functions; their connection settings come from Env.
	Blob BlobOptions
	// Sources are extra trigger sources, started after the built-in timer,
	// blob and Service Bus sources, stopped in reverse order.
	Sources []TriggerSource
}

// Host is a running development host.
type Host struct {
	app        *App
	opts       Options
	log        *slog.Logger
	proc       *handlerProc
	handlerURL string
	client     *http.Client // to the handler; never follows redirects
	ln         net.Listener
	srv        *http.Server
	timers     *timerSource
	blobs      *blobSource     // nil when no function has a blob trigger
	sources    []TriggerSource // started, in start order
	cancel     context.CancelFunc

	done      chan error
	failOnce  sync.Once
	closeOnce sync.Once
	closeErr  error
}

// Start loads the app, starts the handler and waits until it answers, then
// starts the HTTP listener and the trigger sources. It returns once serving.
// ctx bounds start-up only; call Close to stop.
func Start(ctx context.Context, opts Options) (*Host, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:7071"
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if opts.HandlerOutput == nil {
		opts.HandlerOutput = os.Stderr
	}
	log := opts.Logger.With("component", "devhost")
	app, err := LoadApp(opts.AppDir)
	if err != nil {
		return nil, err
	}
	env := append(environ(os.Environ()), opts.Env...)
	timers, err := newTimerSource(app, env.get)
	if err != nil {
		return nil, err
	}
	blobs, err := newBlobSource(app, env.get, opts.Blob, openAzureStorage)
	if err != nil {
		return nil, err
	}
	serviceBus, err := newServiceBusSource(app, env.get)
	if err != nil {
		return nil, err
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
		}
	}
	hp, err := startHandler(app, env, opts.HandlerOutput, log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := hp.waitReady(ctx, opts.ReadyTimeout); err != nil {
		ln.Close()
		_ = hp.stop(opts.StopGrace, log)
		log.Error("handler failed to start", "error", err)
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h := &Host{
		app: app, opts: opts, log: log, proc: hp, ln: ln, timers: timers, blobs: blobs, cancel: cancel,
		handlerURL: fmt.Sprintf("http://127.0.0.1:%d", hp.port),
		client: &http.Client{
			Transport: &http.Transport{
				DisableCompression:  true, // pass encodings through untouched
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		done: make(chan error, 1),
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go h.watchHandler()
	go func() {
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	builtin := []TriggerSource{timers}
	if blobs != nil {
		builtin = append(builtin, blobs)
	}
	builtin = append(builtin, serviceBus)
	for _, src := range append(builtin, opts.Sources...) {
		if err := src.Start(runCtx, h); err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("start trigger source %T: %w", src, err)
		}
		h.sources = append(h.sources, src)
	}
	fns := make([]string, 0, len(app.Functions))
	for _, f := range app.Functions {
		fns = append(fns, f.Name+"("+f.Trigger.Type+")")
	}
	log.Info("development host ready", "url", h.URL(), "functions", fns)
	return h, nil
}

// watchHandler reports a handler that exits while the host is running.
func (h *Host) watchHandler() {
	<-h.proc.Done()
	if h.proc.Stopping() {
		return
	}
	err := fmt.Errorf("handler (pid %d) exited unexpectedly: %v", h.proc.PID(), h.proc.ExitErr())
	h.log.Error("handler died", "error", err)
	h.fail(err)
}

func (h *Host) fail(err error) {
	h.failOnce.Do(func() { h.done <- err })
}

// URL is the base URL the host serves, e.g. http://127.0.0.1:7071.
func (h *Host) URL() string { return "http://" + h.ln.Addr().String() }

// App returns the loaded app.
func (h *Host) App() *App { return h.app }

// Logger returns the host's logger.
func (h *Host) Logger() *slog.Logger { return h.log }

// HandlerPID is the process id of the custom handler.
func (h *Host) HandlerPID() int { return h.proc.PID() }

// HandlerURL is the handler's own base URL (http://127.0.0.1:<port>).
func (h *Host) HandlerURL() string { return h.handlerURL }

// Done delivers an error when the host fails while running (the handler died,
// the listener failed); it is closed by Close.
func (h *Host) Done() <-chan error { return h.done }

// InvokeTimer fires a timer-triggered function now, with the TimerInfo
// payload; it returns the invocation's error (non-2xx, bad content type…).
func (h *Host) InvokeTimer(ctx context.Context, name string) error {
	return h.timers.fireNow(ctx, name)
}

// BlobPoisonMessages returns the poison records the blob trigger source has
// written (in the webjobs-blobtrigger-poison container of each watched
// storage account), oldest first; none when the app has no blob triggers.
// Errors are the storage service's (listing or reading a record).
func (h *Host) BlobPoisonMessages(ctx context.Context) ([]PoisonMessage, error) {
	if h.blobs == nil {
		return nil, nil
	}
	return h.blobs.PoisonMessages(ctx)
}

// Close stops the listener (in-flight requests get up to 5 s), the trigger
// sources, and then the handler (SIGTERM, then SIGKILL after StopGrace).
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		var errs []error
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := h.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
		h.cancel()
		for _, s := range slices.Backward(h.sources) {
			if err := s.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop trigger source %T: %w", s, err))
			}
		}
		if err := h.proc.stop(h.opts.StopGrace, h.log); err != nil {
			errs = append(errs, err)
		}
		h.client.CloseIdleConnections()
		close(h.done)
		h.closeErr = errors.Join(errs...)
		h.log.Info("development host stopped")
	})
	return h.closeErr
}

// ServeHTTP dispatches: /dev/... (loopback only), declared HTTP functions
// under the route prefix, then Static, else 404.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/dev" || strings.HasPrefix(p, "/dev/") {
		h.serveDev(w, r)
		return
	}
	if fn, params, ok := h.match(r.Method, p); ok {
		h.serveFunction(w, r, fn, params)
		return
	}
	prefix := h.app.Host.RoutePrefix
	underPrefix := prefix == "" || strings.EqualFold(p, "/"+prefix) || hasPrefixFold(p, "/"+prefix+"/")
	if h.opts.Static != nil && (!underPrefix || prefix == "") {
		h.opts.Static.ServeHTTP(w, r)
		return
	}
	if underPrefix {
		h.log.Info("no declared function matches; 404 as the Functions host", "method", r.Method, "path", p)
	}
	http.NotFound(w, r)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// match finds the HTTP function whose route template and methods match, as
// the host's routing does (most specific template first).
func (h *Host) match(method, path string) (*Function, map[string]string, bool) {
	return matchRoute(h.app, method, path)
}

func matchRoute(app *App, method, path string) (*Function, map[string]string, bool) {
	rest := path
	if prefix := app.Host.RoutePrefix; prefix != "" {
		if !hasPrefixFold(path, "/"+prefix+"/") {
			return nil, nil, false
		}
		rest = path[len(prefix)+1:]
	}
	var best *Function
	var bestVals map[string]string
	for _, f := range app.Functions {
		if f.Route == nil || !f.AllowsMethod(method) {
			continue
		}
		vals, ok := f.Route.Match(rest)
		if !ok {
			continue
		}
		if best == nil || f.Route.less(best.Route) {
			best, bestVals = f, vals
		}
	}
	return best, bestVals, best != nil
}

// --- dev endpoints ---

// isLoopback reports whether a request's RemoteAddr is a loopback address.
func isLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// isLoopbackHost reports whether the Host header names this machine, so a
// web page reached through DNS rebinding (Host: attacker.example) cannot
// read PINs from /dev/outbox or mint tokens.
func isLoopbackHost(hostHeader string) bool {
	host, _, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host = hostHeader
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (h *Host) serveDev(w http.ResponseWriter, r *http.Request) {
	if !isLoopback(r.RemoteAddr) || !isLoopbackHost(r.Host) {
		h.log.Warn("dev endpoint refused for non-loopback client", "path", r.URL.Path, "remote", r.RemoteAddr, "host", r.Host)
		http.Error(w, "dev endpoints are loopback-only", http.StatusForbidden)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/dev/oidc" || strings.HasPrefix(p, "/dev/oidc/"):
		if h.opts.DevOIDC == nil {
			http.NotFound(w, r)
			return
		}
		h.opts.DevOIDC.ServeHTTP(w, r)
	case p == "/dev/token":
		if h.opts.DevToken == nil {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.opts.DevToken.ServeHTTP(w, r)
	case p == "/dev/outbox":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		msgs := h.opts.Outbox.List(r.URL.Query().Get("to")) // nil Box → []
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(msgs)
	default:
		http.NotFound(w, r)
	}
}
