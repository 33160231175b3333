// Package stack starts profileflow's local stand-ins for Azure services
// (Azurite for Blob Storage, dev/cosmos-emu.js for Cosmos DB) as child
// processes on 127.0.0.1, for tests and for `make run`. It is development
// tooling and never part of the Azure deployment.
//
// Each server is started with `node <script>` directly (never npx, whose PID
// is not the server's) and stopped by its PID. With Port 0 the server binds a
// free port itself and reports it on stdout, so there is no window in which
// another process can take the port.
//
// Tests use AzuriteT / CosmosT, which fail the test (never skip) when a
// stand-in cannot start. To share one instance across a package's tests,
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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
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

// process is one running stand-in.
type process struct {
	name    string
	cmd     *exec.Cmd
	port    int
	logPath string
	logFile *os.File
	ownDir  string // temporary log directory removed by stop ("" if the caller's)

	done    chan struct{} // closed when the process has exited
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// spec describes how to start a stand-in.
type spec struct {
	name   string
	script string // path relative to the repository root
	args   []string
	port   int            // requested port (0: the server picks and reports it)
	ready  *regexp.Regexp // matches the stdout line announcing readiness; group 1 is the port
	logDir string
}

// start runs the stand-in and waits until it has announced readiness on
// stdout and its port accepts connections.
func start(ctx context.Context, s spec) (*process, error) {
	script, err := nodeScript(s.script)
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("stack: node is not installed (Node 20 or later is needed): %w", err)
	}
	p := &process{name: s.name, done: make(chan struct{})}
	logDir := s.logDir
	if logDir == "" {
		if logDir, err = os.MkdirTemp("", "profileflow-"+s.name+"-"); err != nil {
			return nil, fmt.Errorf("stack: %s: log directory: %w", s.name, err)
		}
		p.ownDir = logDir
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("stack: %s: log directory: %w", s.name, err)
	}
	p.logPath = filepath.Join(logDir, s.name+".log")
	if p.logFile, err = os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		p.cleanupFiles()
		return nil, fmt.Errorf("stack: %s: log file: %w", s.name, err)
	}

	readyCh := make(chan int, 1)
	w := &readyWatcher{out: p.logFile, re: s.ready, ch: readyCh}
	p.cmd = exec.Command(node, append([]string{script}, s.args...)...)
	p.cmd.Dir = logDir // the servers write nothing in memory mode; if they do, it lands here
	p.cmd.Env = os.Environ()
	p.cmd.Stdout = w
	p.cmd.Stderr = p.logFile
	p.cmd.SysProcAttr = sysProcAttr()
	p.cmd.WaitDelay = 2 * time.Second
	started := time.Now()
	if err := p.cmd.Start(); err != nil {
		p.logFile.Close()
		p.cleanupFiles()
		return nil, fmt.Errorf("stack: %s: start node: %w", s.name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		p.logFile.Close()
		close(p.done)
	}()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	fail := func(format string, args ...any) (*process, error) {
		msg := fmt.Sprintf(format, args...)
		_ = p.stop()
		tail := p.logTail()
		p.cleanupFiles()
		return nil, fmt.Errorf("stack: %s did not start: %s\n--- %s (tail) ---\n%s", s.name, msg, p.logPath, tail)
	}
	select {
	case port := <-readyCh:
		p.port = port
	case <-p.done:
		return fail("process exited (%v) before it was ready", p.waitErr)
	case <-ctx.Done():
		return fail("not ready after %v: %v", time.Since(started).Round(time.Millisecond), ctx.Err())
	}
	if s.port != 0 && p.port != s.port {
		return fail("listening on port %d, not the requested %d", p.port, s.port)
	}
	// The announcement comes from inside the listen callback, so the port
	// should answer at once; check anyway.
	for {
		c, err := net.DialTimeout("tcp", p.addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-p.done:
			return fail("process exited (%v) before it was ready", p.waitErr)
		case <-ctx.Done():
			return fail("port %d does not answer: %v", p.port, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p, nil
}

func (p *process) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// stop ends the process by PID (SIGTERM, then SIGKILL after a grace period)
// and waits until its port is free. It is idempotent.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(termGrace):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if p.port == 0 {
			return
		}
		deadline := time.Now().Add(portFreeTimeout)
		for {
			c, err := net.DialTimeout("tcp", p.addr(), 200*time.Millisecond)
			if err != nil {
				return
			}
			c.Close()
			if time.Now().After(deadline) {
				p.stopErr = fmt.Errorf("stack: %s (pid %d) exited but port %d still answers", p.name, p.cmd.Process.Pid, p.port)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return p.stopErr
}

// shutdown stops the process and removes a temporary log directory.
func (p *process) shutdown() error {
	err := p.stop()
	p.cleanupFiles()
	return err
}

// cleanupFiles removes the temporary log directory, if this package made it.
// The log file must be closed (the process has exited).
func (p *process) cleanupFiles() {
	if p.ownDir != "" {
		_ = os.RemoveAll(p.ownDir)
	}
}

// logTail returns the last few KiB of the log.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return string(b)
}

// readyWatcher copies the child's stdout to the log and reports the port of
// the first line matching re.
type readyWatcher struct {
	out  io.Writer
	re   *regexp.Regexp
	ch   chan<- int
	mu   sync.Mutex
	buf  []byte
	done bool
}

func (w *readyWatcher) Write(b []byte) (int, error) {
	n, err := w.out.Write(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return n, err
	}
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i]
		w.buf = w.buf[i+1:]
		if m := w.re.FindSubmatch(line); m != nil {
			if port, perr := strconv.Atoi(string(m[1])); perr == nil {
				w.ch <- port
				w.done, w.buf = true, nil
				break
			}
		}
	}
	if len(w.buf) > 64<<10 { // a runaway line without newline
		w.buf = nil
	}
	return n, err
}
