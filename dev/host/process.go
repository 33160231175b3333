package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/profileflow/profileflow/dev/proc"
	"github.com/profileflow/profileflow/dev/stack"
)

// handlerProc is the running custom handler process.
type handlerProc struct {
	*proc.Process
	port int
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
	dir := appDir
	if wd := app.Host.WorkingDirectory; wd != "" {
		if filepath.IsAbs(wd) {
			dir = wd
		} else {
			dir = filepath.Join(appDir, wd)
		}
	}
	p := strconv.Itoa(port)
	child, err := proc.Start(proc.Spec{
		Name: "handler",
		Path: exe,
		Args: args,
		Dir:  dir,
		Env: append(append([]string{}, env...),
			"FUNCTIONS_CUSTOMHANDLER_PORT="+p,
			"FUNCTIONS_HTTPWORKER_PORT="+p,
			"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+workerID,
			"FUNCTIONS_HTTPWORKER_ID="+workerID,
			"FUNCTIONS_APP_ROOT_PATH="+appDir,
		),
		Output: out,
	})
	if err != nil {
		return nil, err
	}
	log.Info("handler started", "pid", child.PID(), "path", exe, "port", port, "workerId", workerID)
	return &handlerProc{Process: child, port: port}, nil
}

// waitReady polls GET / every 25 ms until any HTTP answer, like the host's
// IsWorkerReady.
func (p *handlerProc) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/", p.port)
	err := p.WaitReady(ctx, 25*time.Millisecond, proc.HTTPAnswers(url))
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("handler not ready after %v: no HTTP answer on 127.0.0.1:%d (does it listen on FUNCTIONS_CUSTOMHANDLER_PORT?)", timeout, p.port)
	default:
		return err
	}
}

// stop ends the handler by its process group: SIGTERM, then SIGKILL after
// grace (reported as an error).
func (p *handlerProc) stop(grace time.Duration, log *slog.Logger) error {
	err := p.Stop(grace)
	if err != nil {
		log.Error("handler ignored SIGTERM and was killed", "pid", p.PID(), "grace", grace.String())
		return err
	}
	log.Info("handler stopped", "pid", p.PID(), "exit", p.ExitErr().Error())
	return nil
}
