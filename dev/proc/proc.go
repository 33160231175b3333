// Package proc supervises the child processes of the local system: the
// custom handler started by the development host, and the Node.js stand-ins
// (Azurite, the Cosmos DB server) started by dev/stack. One supervisor starts
// a child in its own process group, sends its output to a log file or
// writer, waits until it is ready, and stops it by its process group id
// (SIGTERM, then SIGKILL after a grace period) — never by name.
//
// It is development tooling and never part of the Azure deployment.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// Spec describes a child process.
type Spec struct {
	Name string   // for messages, e.g. "azurite"
	Path string   // executable (absolute, or looked up on PATH)
	Args []string // arguments after the executable
	Dir  string   // working directory ("" = the caller's)
	Env  []string // full environment ("KEY=value"); nil = os.Environ()

	// LogPath receives stdout and stderr (appended; the file is created).
	// When empty, output goes to Output (nil = discarded).
	LogPath string
	Output  io.Writer

	// Announce, when set, is matched against each stdout line; the first
	// match's submatches are delivered by Announced (e.g. a port the child
	// chose itself).
	Announce *regexp.Regexp
}

// Process is a running (or exited) child.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File

	announced chan []string
	done      chan struct{} // closed when the child has exited
	waitErr   error         // read after done is closed

	mu       sync.Mutex
	stopping bool
	stopOnce sync.Once
	stopErr  error
}

// Start runs the child in its own process group, so a terminal's Ctrl-C
// reaches only the supervising program, which then stops its children in
// order; on Linux the kernel also kills the child if the supervisor dies.
func Start(s Spec) (*Process, error) {
	p := &Process{name: s.Name, logPath: s.LogPath, announced: make(chan []string, 1), done: make(chan struct{})}
	out := s.Output
	if s.LogPath != "" {
		f, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: log file: %w", s.Name, err)
		}
		p.logFile, out = f, f
	}
	if out == nil {
		out = io.Discard
	}
	p.cmd = exec.Command(s.Path, s.Args...)
	p.cmd.Dir = s.Dir
	p.cmd.Env = s.Env
	if p.cmd.Env == nil {
		p.cmd.Env = os.Environ()
	}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if s.Announce != nil {
		p.cmd.Stdout = &lineWatcher{out: out, re: s.Announce, ch: p.announced}
	}
	p.cmd.SysProcAttr = sysProcAttr()
	p.cmd.WaitDelay = 2 * time.Second // don't hang on output pipes held by grandchildren
	if err := p.cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("%s: start %s: %w", s.Name, s.Path, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		p.closeLog()
		close(p.done)
	}()
	return p, nil
}

func (p *Process) closeLog() {
	if p.logFile != nil {
		p.logFile.Close()
	}
}

// Name is the name given in the Spec.
func (p *Process) Name() string { return p.name }

// PID is the child's process id (also its process group id).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath is the log file ("" when output went to a writer).
func (p *Process) LogPath() string { return p.logPath }

// Done is closed when the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitErr describes how the child ended; call it after Done is closed.
func (p *Process) ExitErr() error {
	if p.waitErr != nil {
		return p.waitErr
	}
	return errors.New("exit status 0")
}

// Stopping reports whether Stop has been called (an exit is then expected).
func (p *Process) Stopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}

// Announced waits for the first stdout line matching Spec.Announce and
// returns its submatches. It fails when the child exits first or ctx ends.
func (p *Process) Announced(ctx context.Context) ([]string, error) {
	select {
	case m := <-p.announced:
		return m, nil
	case <-p.done:
		return nil, fmt.Errorf("%s (pid %d) exited before it was ready: %v", p.name, p.PID(), p.ExitErr())
	case <-ctx.Done():
		return nil, fmt.Errorf("%s (pid %d) not ready: %w", p.name, p.PID(), ctx.Err())
	}
}

// WaitReady calls check every interval until it returns nil. It fails when
// the child exits first or ctx ends, with check's last error.
func (p *Process) WaitReady(ctx context.Context, interval time.Duration, check func(context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s (pid %d) exited before it was ready: %v", p.name, p.PID(), p.ExitErr())
		case <-ctx.Done():
			return fmt.Errorf("%s (pid %d) not ready: %w (last check: %v)", p.name, p.PID(), ctx.Err(), err)
		case <-t.C:
		}
	}
}

// HTTPAnswers is a readiness check: any HTTP answer to GET url counts, as
// the Functions host's check of a custom handler does.
func HTTPAnswers(url string) func(context.Context) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

// Accepts is a readiness check: a TCP connection to addr succeeds.
func Accepts(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// Stop sends SIGTERM to the child's process group, waits up to grace for
// the child to exit, then SIGKILLs the group. It returns an error only when
// the child had to be killed. It is safe to call more than once.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		pid := p.PID()
		_ = signalGroup(pid, syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		_ = signalGroup(pid, syscall.SIGKILL)
		<-p.done
		p.stopErr = fmt.Errorf("%s (pid %d) did not stop within %v of SIGTERM and was killed", p.name, pid, grace)
	})
	return p.stopErr
}

// LogTail returns the last max bytes of the log file, from a line start.
func (p *Process) LogTail(max int) string {
	if p.logPath == "" {
		return ""
	}
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// Alive reports whether a process with this id exists (a zombie counts until
// it is reaped). Tests use it to check that nothing was left running.
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lineWatcher copies a child's stdout to out and delivers the submatches of
// the first line matching re.
type lineWatcher struct {
	out  io.Writer
	re   *regexp.Regexp
	ch   chan<- []string
	mu   sync.Mutex
	buf  []byte
	done bool
}

func (w *lineWatcher) Write(b []byte) (int, error) {
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
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if m := w.re.FindStringSubmatch(line); m != nil {
			w.ch <- m
			w.done, w.buf = true, nil
			break
		}
	}
	if len(w.buf) > 64<<10 { // a runaway line without newline
		w.buf = nil
	}
	return n, err
}
