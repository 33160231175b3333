// Package stack starts profileflow's local stand-ins for Azure services
// (Azurite for Blob Storage, dev/cosmos-emu.js for Cosmos DB) and the
// antivirus daemon (ClamAV's clamd) as child processes on 127.0.0.1, for
// tests and for `make run`. It is development tooling and never part of the
// Azure deployment.
//
// Each Node.js server is started with `node <script>` directly (never npx,
// whose PID is not the server's), clamd as /usr/sbin/clamd, under the
// dev/proc supervisor, and stopped by its process group. With Port 0 a Node.js
// server binds a free port itself and reports it on stdout, so there is no
// window in which another process can take the port; clamd cannot report
// one, so it gets a port that was just free and is restarted on another if
// that one is taken meanwhile. A fixed port that is taken fails with a
// *PortInUseError.
//
// Tests use AzuriteT / CosmosT / ClamdT, which fail the test (never skip)
// when a stand-in cannot start. To share one instance across a package's tests,
// start it in TestMain:
//
//	var cosmos *stack.Cosmos
//
//	func TestMain(m *testing.M) {
//		c, err := stack.StartCosmos(context.Background(), stack.CosmosOptions{})
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		c.Stop()
//		os.Exit(code)
//	}
package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/profileflow/profileflow/dev/proc"
)

const (
	defaultStartTimeout = 60 * time.Second
	termGrace           = 8 * time.Second // SIGTERM → SIGKILL
	portFreeTimeout     = 5 * time.Second
	logTailBytes        = 4096
)

// RepoRoot returns the repository root: the nearest directory at or above the
// working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("stack: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: no go.mod found at or above the working directory")
		}
		dir = parent
	}
}

// nodeScript returns the absolute path of a script below the repository
// root, or an error that says to run `npm ci` when it is missing.
func nodeScript(rel string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("stack: %s is missing in %s: run `npm ci` in the repository root (the Makefile does)", rel, root)
	}
	return script, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Prefer
// Port 0 in the options of this package, which is race-free.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PortInUseError reports that a fixed port a service needs is taken.
type PortInUseError struct {
	Service string // e.g. "Azurite blob"
	Addr    string // e.g. 127.0.0.1:10000
}

func (e *PortInUseError) Error() string {
	return e.Service + " port " + e.Addr + " is in use"
}

// CheckPortFree returns a *PortInUseError when addr cannot be listened on
// because it is taken, another error when it cannot be listened on at all,
// and nil when it is free (it is released again at once).
func CheckPortFree(service, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return ListenError(service, addr, err)
	}
	return ln.Close()
}

// ListenError turns a failed listen on addr into a *PortInUseError when the
// address is taken, and otherwise into an error naming the service.
func ListenError(service, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return &PortInUseError{Service: service, Addr: addr}
	}
	return fmt.Errorf("%s: listen on %s: %w", service, addr, err)
}

// process is one running stand-in.
type process struct {
	*proc.Process
	service string // e.g. "Azurite blob", for messages
	port    int
	ownDir  string // temporary log directory removed by shutdown ("" if the caller's)
}

// spec describes how to start a stand-in: a Node.js script (script) or an
// installed executable (exe).
type spec struct {
	name    string // log file name and process name, e.g. "azurite"
	service string // human name, e.g. "Azurite blob"
	script  string // path relative to the repository root, run with node
	exe     string // absolute path of an executable run directly instead of a script
	args    []string
	port    int                                          // requested port (0: the server picks and reports it; needs ready)
	ready   *regexp.Regexp                               // matches the stdout line announcing readiness; group 1 is the port; nil: port is fixed
	check   func(ctx context.Context, addr string) error // readiness probe; nil: the port accepts connections
	logDir  string
}

// start runs the stand-in and waits until it is ready: it has announced
// readiness on stdout (when spec.ready is set) and its readiness probe
// passes. A requested port that is taken fails with a *PortInUseError
// before anything is started, or when the server reports it could not bind.
func start(ctx context.Context, s spec) (*process, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	if s.port != 0 {
		if err := CheckPortFree(s.service, addr); err != nil {
			return nil, err
		}
	} else if s.ready == nil {
		return nil, fmt.Errorf("stack: %s: a server that does not announce its port needs a fixed port", s.name)
	}
	path, args := s.exe, s.args
	if path == "" {
		script, err := nodeScript(s.script)
		if err != nil {
			return nil, err
		}
		node, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("stack: node is not installed (Node 20 or later is needed): %w", err)
		}
		path, args = node, append([]string{script}, s.args...)
	}
	var err error
	p := &process{service: s.service}
	logDir := s.logDir
	if logDir == "" {
		if logDir, err = os.MkdirTemp("", "profileflow-"+s.name+"-"); err != nil {
			return nil, fmt.Errorf("stack: %s: log directory: %w", s.name, err)
		}
		p.ownDir = logDir
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("stack: %s: log directory: %w", s.name, err)
	}
	p.Process, err = proc.Start(proc.Spec{
		Name:     s.name,
		Path:     path,
		Args:     args,
		Dir:      logDir, // the servers write nothing in memory mode; if they do, it lands here
		LogPath:  filepath.Join(logDir, s.name+".log"),
		Announce: s.ready,
	})
	if err != nil {
		p.cleanupFiles()
		return nil, fmt.Errorf("stack: %w", err)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	fail := func(err error) (*process, error) {
		_ = p.Stop(termGrace)
		tail := p.LogTail(logTailBytes)
		p.cleanupFiles()
		if s.port != 0 && portTaken(tail) { // taken after the check above
			return nil, &PortInUseError{Service: s.service, Addr: addr}
		}
		if tail == "" {
			tail = "(empty)"
		}
		return nil, fmt.Errorf("stack: %s did not start: %v\n--- %s (tail) ---\n%s", s.name, err, p.LogPath(), tail)
	}
	p.port = s.port
	if s.ready != nil {
		m, err := p.Announced(ctx)
		if err != nil {
			return fail(err)
		}
		if p.port, err = strconv.Atoi(m[1]); err != nil {
			return fail(fmt.Errorf("announced port %q: %w", m[1], err))
		}
		if s.port != 0 && p.port != s.port {
			return fail(fmt.Errorf("listening on port %d, not the requested %d", p.port, s.port))
		}
	}
	// An announcement comes from inside the listen callback, so the port
	// should answer at once; check anyway.
	check := proc.Accepts(p.addr())
	if s.check != nil {
		probe, a := s.check, p.addr()
		check = func(ctx context.Context) error { return probe(ctx, a) }
	}
	if err := p.WaitReady(ctx, 50*time.Millisecond, check); err != nil {
		return fail(err)
	}
	return p, nil
}

// portTaken reports whether a server's log says its port was taken: Node.js
// prints EADDRINUSE, C servers such as clamd strerror's "Address already in use".
func portTaken(log string) bool {
	return strings.Contains(log, "EADDRINUSE") || strings.Contains(log, "Address already in use")
}

func (p *process) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// stop ends the process by its process group (SIGTERM, then SIGKILL after a
// grace period) and waits until its port is free. It is idempotent.
func (p *process) stop() error {
	err := p.Stop(termGrace)
	if p.port == 0 {
		return err
	}
	deadline := time.Now().Add(portFreeTimeout)
	for {
		c, dialErr := net.DialTimeout("tcp", p.addr(), 200*time.Millisecond)
		if dialErr != nil {
			return err
		}
		c.Close()
		if time.Now().After(deadline) {
			return errors.Join(err, fmt.Errorf("stack: %s (pid %d) exited but port %d still answers", p.Name(), p.PID(), p.port))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shutdown stops the process and removes a temporary log directory.
func (p *process) shutdown() error {
	err := p.stop()
	p.cleanupFiles()
	return err
}

// cleanupFiles removes the temporary log directory, if this package made it.
func (p *process) cleanupFiles() {
	if p.ownDir != "" {
		_ = os.RemoveAll(p.ownDir)
	}
}

// logTail returns the last few KiB of the log.
func (p *process) logTail() string {
	if t := p.LogTail(logTailBytes); t != "" {
		return t
	}
	return "(empty)"
}
