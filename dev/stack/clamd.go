package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClamdPackages are the Debian packages that provide clamd (clamav-daemon)
// and its engine and tools (clamav).
const ClamdPackages = "clamav-daemon clamav"

// clamdFallbacks are looked at when clamd is not on PATH: Debian installs it
// in /usr/sbin, which is not on the PATH of every user.
var clamdFallbacks = []string{"/usr/sbin/clamd"}

// Defaults of ClamdOptions.
const (
	DefaultClamdStreamMaxLength = 100 << 20 // bytes
	DefaultClamdMaxFileSize     = 100 << 20 // bytes
	DefaultClamdMaxScanSize     = 400 << 20 // bytes
	clamdReadTimeout            = 60        // seconds clamd waits for the next INSTREAM chunk
	clamdPortAttempts           = 3         // free ports tried when Port is 0
)

// ClamdOptions configures StartClamd. Sizes are in bytes; clamd.conf takes
// them in whole KiB (rounded up).
type ClamdOptions struct {
	Port   int    // TCP port on 127.0.0.1; 0 = a free port
	LogDir string // directory of clamd.log; "" = the temporary directory removed by Stop

	// StreamMaxLength caps one INSTREAM stream; longer streams get the reply
	// "INSTREAM size limit exceeded. ERROR". 0 = DefaultClamdStreamMaxLength.
	StreamMaxLength int64
	// MaxFileSize and MaxScanSize cap one file and all content extracted from
	// one stream (archive members, PDF streams). With AlertExceedsMax, which
	// is always on, content over them is reported as
	// "Heuristics.Limits.Exceeded.*" FOUND, never OK. 0 = the defaults.
	MaxFileSize int64
	MaxScanSize int64
	// DisableCache stops clamd from remembering the hashes of clean streams
	// (a repeated stream is then really scanned again); for benchmarks.
	DisableCache bool
	// Binary is the clamd executable; "" = clamd on PATH, else /usr/sbin/clamd.
	Binary string
}

// Clamd is a running clamd that loads only the project's test signatures
// (dev/clamav: EICAR as .ndb and .hdb), listens on 127.0.0.1 over TCP and
// runs in the foreground as the user who started it.
type Clamd struct {
	Addr    string // 127.0.0.1:PORT
	Port    int
	PID     int
	Version string // the zVERSION reply, e.g. "ClamAV 1.4.6"
	Config  string // path of the generated clamd.conf
	LogPath string

	p       *process
	workDir string // config, database copy and scan temporary files; removed by Stop
}

// FindClamd returns the path of the clamd executable: binary when it is
// set, else clamd on PATH, else /usr/sbin/clamd. The error names what was
// looked for and the Debian packages to install.
func FindClamd(binary string) (string, error) {
	return findClamd(binary, clamdFallbacks)
}

func findClamd(binary string, fallbacks []string) (string, error) {
	missing := func(looked string) error {
		return fmt.Errorf("stack: clamd (the ClamAV daemon) is not installed: looked for %s; install the Debian packages %s (apt-get install -y %s)",
			looked, ClamdPackages, ClamdPackages)
	}
	if binary != "" {
		if p, err := exec.LookPath(binary); err == nil {
			return p, nil
		}
		return "", missing(binary)
	}
	if p, err := exec.LookPath("clamd"); err == nil {
		return p, nil
	}
	for _, f := range fallbacks {
		if p, err := exec.LookPath(f); err == nil {
			return p, nil
		}
	}
	return "", missing(strings.Join(append([]string{"clamd on PATH"}, fallbacks...), ", "))
}

// StartClamd starts clamd with a generated clamd.conf and returns once it
// answers zPING with PONG (about 0.2 s with the test signatures).
func StartClamd(ctx context.Context, o ClamdOptions) (*Clamd, error) {
	bin, err := FindClamd(o.Binary)
	if err != nil {
		return nil, err
	}
	if o.StreamMaxLength < 0 || o.MaxFileSize < 0 || o.MaxScanSize < 0 {
		return nil, errors.New("stack: clamd sizes must not be negative")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, fmt.Errorf("stack: clamd: free port: %w", err)
			}
		}
		c, err := startClamd(ctx, bin, port, o)
		var inUse *PortInUseError
		if o.Port == 0 && errors.As(err, &inUse) && attempt < clamdPortAttempts {
			continue // another process took the port between FreePort and clamd's bind
		}
		return c, err
	}
}

func startClamd(ctx context.Context, bin string, port int, o ClamdOptions) (*Clamd, error) {
	workDir, err := os.MkdirTemp("", "profileflow-clamd-")
	if err != nil {
		return nil, fmt.Errorf("stack: clamd: work directory: %w", err)
	}
	conf, err := writeClamdFiles(workDir, port, o)
	if err != nil {
		os.RemoveAll(workDir)
		return nil, err
	}
	logDir := o.LogDir
	if logDir == "" {
		logDir = workDir
	}
	p, err := start(ctx, spec{
		name:    "clamd",
		service: "clamd",
		exe:     bin,
		args:    []string{"--config-file=" + conf},
		port:    port,
		check:   func(ctx context.Context, addr string) error { return clamdExpect(ctx, addr, "zPING", "PONG") },
		logDir:  logDir,
	})
	if err != nil {
		os.RemoveAll(workDir)
		return nil, err
	}
	c := &Clamd{Addr: p.addr(), Port: port, PID: p.PID(), Config: conf, LogPath: p.LogPath(), p: p, workDir: workDir}
	if c.Version, err = clamdCommand(ctx, c.Addr, "zVERSION"); err != nil {
		c.Stop()
		return nil, fmt.Errorf("stack: clamd: VERSION: %w", err)
	}
	return c, nil
}

// writeClamdFiles copies the test signatures into workDir/db and writes
// workDir/clamd.conf; it returns the config's path. The directives are those
// of clamd.conf(5) of ClamAV 1.4. There is no User line: clamd keeps the
// identity of whoever started it (root in CI), and never switches to the
// "clamav" user of Debian's packaged config.
func writeClamdFiles(workDir string, port int, o ClamdOptions) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "dev", "clamav")
	db, tmp := filepath.Join(workDir, "db"), filepath.Join(workDir, "tmp")
	for _, d := range []string{db, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return "", fmt.Errorf("stack: clamd: %w", err)
		}
	}
	for _, name := range []string{"custom.ndb", "custom.hdb"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("stack: clamd: test signatures: %w", err)
		}
		if err := os.WriteFile(filepath.Join(db, name), b, 0o600); err != nil {
			return "", fmt.Errorf("stack: clamd: %w", err)
		}
	}
	orDefault := func(v, d int64) int64 {
		if v == 0 {
			return d
		}
		return v
	}
	kib := func(v int64) string { return strconv.FormatInt((v+1023)/1024, 10) + "K" }
	cache := "no"
	if o.DisableCache {
		cache = "yes"
	}
	lines := []string{
		"DatabaseDirectory " + db,
		"TemporaryDirectory " + tmp,
		"TCPAddr 127.0.0.1",
		"TCPSocket " + strconv.Itoa(port),
		"Foreground yes", // stay the child the supervisor started, so its PID is clamd's
		"LogTime yes",    // clamd logs to stdout in the foreground; the supervisor writes clamd.log
		"StreamMaxLength " + kib(orDefault(o.StreamMaxLength, DefaultClamdStreamMaxLength)),
		"MaxFileSize " + kib(orDefault(o.MaxFileSize, DefaultClamdMaxFileSize)),
		"MaxScanSize " + kib(orDefault(o.MaxScanSize, DefaultClamdMaxScanSize)),
		"AlertExceedsMax yes", // fail closed: content over a limit is FOUND, not OK
		"ReadTimeout " + strconv.Itoa(clamdReadTimeout),
		"CommandReadTimeout 30",
		"SelfCheck 0", // the test signatures never change while it runs
		"DisableCache " + cache,
	}
	conf := filepath.Join(workDir, "clamd.conf")
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("stack: clamd: %w", err)
	}
	return conf, nil
}

// clamdCommand sends a z-prefixed command (clamd(8): "zCOMMAND\0", reply
// ends with NUL) on a new connection and returns the reply.
func clamdCommand(ctx context.Context, addr, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	if _, err := io.WriteString(conn, cmd+"\x00"); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(io.LimitReader(conn, 1024)).ReadString(0)
	if err != nil {
		return "", fmt.Errorf("%s: reply: %w", cmd, err)
	}
	return strings.TrimSuffix(reply, "\x00"), nil
}

// clamdExpect sends cmd and fails unless the reply is want.
func clamdExpect(ctx context.Context, addr, cmd, want string) error {
	reply, err := clamdCommand(ctx, addr, cmd)
	if err != nil {
		return err
	}
	if reply != want {
		return fmt.Errorf("%s: reply %q, want %q", cmd, reply, want)
	}
	return nil
}

// Ping sends zPING and fails unless clamd answers PONG.
func (c *Clamd) Ping(ctx context.Context) error { return clamdExpect(ctx, c.Addr, "zPING", "PONG") }

// LogTail returns the end of clamd's log (for failure messages).
func (c *Clamd) LogTail() string { return c.p.logTail() }

// Stop terminates clamd by PID (SIGTERM, then SIGKILL), waits until its port
// is free and removes its temporary files. It is safe to call more than once.
func (c *Clamd) Stop() error {
	err := c.p.shutdown()
	if rmErr := os.RemoveAll(c.workDir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("stack: clamd: %w", rmErr))
	}
	return err
}
