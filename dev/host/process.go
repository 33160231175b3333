package host

import (
	"github.com/profileflow/profileflow/dev/stack"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// handlerProc is the running custom handler process.
type handlerProc struct {
	cmd    *exec.Cmd
	port   int
	exited chan struct{} // closed when the process has exited
	err    error         // exit error; read after exited is closed

	mu       sync.Mutex
	stopping bool
}

// environ is os.Environ() followed by extra entries; later entries win.
type environ []string

func (e environ) get(key string) string {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := cut(e[i]); ok && k == key {
			return v
		}
	}
	return ""
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

var percentVarRE = regexp.MustCompile(`%([A-Za-z_][A-Za-z0-9_]*)%`)

// resolveExecutable finds defaultExecutablePath like the host: relative to
// the app dir if that file exists, else as a command on PATH.
func resolveExecutable(appDir, p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	local := filepath.Join(appDir, p)
	if st, err := os.Stat(local); err == nil && !st.IsDir() {
		return local, nil
	}
	found, err := exec.LookPath(p)
	if err != nil {
		return "", fmt.Errorf("host.json: customHandler.description.defaultExecutablePath: %q is neither a file in %s nor a command on PATH", p, appDir)
	}
	return found, nil
}

// startHandler starts the custom handler as the Functions host does.
func startHandler(app *App, env environ, out io.Writer, log *slog.Logger) (*handlerProc, error) {
	appDir, err := filepath.Abs(app.Dir)
	if err != nil {
		return nil, err
	}
	exe, err := resolveExecutable(appDir, app.Host.ExecutablePath)
	if err != nil {
		return nil, err
	}
	port, err := stack.FreePort()
	if err != nil {
		return nil, fmt.Errorf("find a free port for the handler: %w", err)
	}
	workerID := newUUID()
	args := make([]string, len(app.Host.Arguments))
	for i, a := range app.Host.Arguments { // %VAR% expansion, as the host does
		args[i] = percentVarRE.ReplaceAllStringFunc(a, func(m string) string {
			if v := env.get(m[1 : len(m)-1]); v != "" {
				return v
			}
			return m
		})
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = appDir
	if wd := app.Host.WorkingDirectory; wd != "" {
		if filepath.IsAbs(wd) {
			cmd.Dir = wd
		} else {
			cmd.Dir = filepath.Join(appDir, wd)
		}
	}
	p := strconv.Itoa(port)
	cmd.Env = append(append([]string{}, env...),
		"FUNCTIONS_CUSTOMHANDLER_PORT="+p,
		"FUNCTIONS_HTTPWORKER_PORT="+p,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+workerID,
		"FUNCTIONS_HTTPWORKER_ID="+workerID,
		"FUNCTIONS_APP_ROOT_PATH="+appDir,
	)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second // don't hang on output pipes held by grandchildren
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start handler %s: %w", exe, err)
	}
	hp := &handlerProc{cmd: cmd, port: port, exited: make(chan struct{})}
	log.Info("handler started", "pid", cmd.Process.Pid, "path", exe, "port", port, "workerId", workerID)
	go func() {
		hp.err = cmd.Wait()
		close(hp.exited)
	}()
	return hp, nil
}

// exitErr describes how the process ended.
func (p *handlerProc) exitErr() error {
	if p.err != nil {
		return p.err
	}
	return errors.New("exit status 0")
}

// waitReady polls GET / every 25 ms until any HTTP answer, like the host's
// IsWorkerReady.
func (p *handlerProc) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://127.0.0.1:%d/", p.port)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("handler exited before it was ready (pid %d): %v", p.cmd.Process.Pid, p.exitErr())
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("handler not ready after %v: no HTTP answer on 127.0.0.1:%d (does it listen on FUNCTIONS_CUSTOMHANDLER_PORT?)", timeout, p.port)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM to the handler's PID, waits up to grace, then SIGKILLs.
func (p *handlerProc) stop(grace time.Duration, log *slog.Logger) error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	select {
	case <-p.exited:
		return nil
	default:
	}
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		log.Warn("SIGTERM to handler failed", "pid", pid, "error", err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		log.Info("handler stopped", "pid", pid, "exit", p.exitErr().Error())
		return nil
	case <-t.C:
	}
	log.Error("handler ignored SIGTERM; killing it", "pid", pid, "grace", grace.String())
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("handler (pid %d) did not stop within %v of SIGTERM and was killed", pid, grace)
}

func (p *handlerProc) isStopping() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopping
}
