package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// ServiceBusOptions configures StartServiceBus.
type ServiceBusOptions struct {
	Port   int    // port on 127.0.0.1; 0 = a free port chosen by the peer
	LogDir string // directory of servicebus.log; "" = a temporary directory removed by Stop
	// Topology is the queue file the peer serves (see dev/sbpeer/README.md),
	// relative to the repository root or absolute; "" = dev/sbpeer/topology.json.
	Topology string
	// StateFile, when set, makes the peer persist its queues there (a JSON
	// snapshot rewritten after every change) and load them at start, so
	// messages survive Restart and Stop. "" = in memory: a restart loses
	// every message.
	StateFile string
}

// ServiceBus is a running local Service Bus peer (dev/sbpeer/peer.js): an
// AMQP 1.0 server on plain TCP that azservicebus reaches through
// ConnectionString. It serves the queues of its topology file only;
// README.md in dev/sbpeer lists what of Service Bus it does not do.
type ServiceBus struct {
	Port     int
	Endpoint string // sb://127.0.0.1:PORT
	LogPath  string
	PID      int

	opts ServiceBusOptions
	p    *process
}

var serviceBusReady = regexp.MustCompile(`^sbpeer ready amqp://[^\s]*:(\d+)`)

// DefaultServiceBusTopology is the project's queue file, relative to the
// repository root.
const DefaultServiceBusTopology = "dev/sbpeer/topology.json"

// StartServiceBus starts `node dev/sbpeer/peer.js` on 127.0.0.1 and returns
// once it accepts connections. A fixed Port that is taken fails with a
// *PortInUseError; a bad topology fails with the peer's message.
func StartServiceBus(ctx context.Context, o ServiceBusOptions) (*ServiceBus, error) {
	if _, err := nodeScript("node_modules/rhea/lib/container.js"); err != nil {
		return nil, err
	}
	if o.Topology == "" {
		o.Topology = DefaultServiceBusTopology
	}
	if !filepath.IsAbs(o.Topology) {
		root, err := RepoRoot()
		if err != nil {
			return nil, err
		}
		o.Topology = filepath.Join(root, filepath.FromSlash(o.Topology))
	}
	if _, err := os.Stat(o.Topology); err != nil {
		return nil, fmt.Errorf("stack: Service Bus topology: %w", err)
	}
	if o.StateFile != "" {
		abs, err := filepath.Abs(o.StateFile)
		if err != nil {
			return nil, fmt.Errorf("stack: Service Bus state file: %w", err)
		}
		o.StateFile = abs
	}
	s := &ServiceBus{opts: o}
	if err := s.start(ctx, o.Port, o.LogDir); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *ServiceBus) start(ctx context.Context, port int, logDir string) error {
	args := []string{"--port", strconv.Itoa(port), "--topology", s.opts.Topology}
	if s.opts.StateFile != "" {
		args = append(args, "--state", s.opts.StateFile)
	}
	p, err := start(ctx, spec{
		name:    "servicebus",
		service: "Service Bus peer",
		script:  "dev/sbpeer/peer.js",
		args:    args,
		port:    port,
		ready:   serviceBusReady,
		logDir:  logDir,
	})
	if err != nil {
		return err
	}
	s.p = p
	s.Port = p.port
	s.Endpoint = fmt.Sprintf("sb://127.0.0.1:%d", p.port)
	s.LogPath = p.LogPath()
	s.PID = p.PID()
	return nil
}

// ConnectionString returns the connection string azservicebus takes for
// the peer: plain AMQP on the peer's port (UseDevelopmentEmulator=true) and
// the development key of Microsoft's emulator (the peer checks no token).
func (s *ServiceBus) ConnectionString() string {
	return fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true", s.Port)
}

// Restart stops the peer by PID and starts it again on the same port with
// the same options; clients connected to it see their connection drop and
// reconnect. Messages survive only with StateFile set.
func (s *ServiceBus) Restart(ctx context.Context) error {
	if s.p == nil {
		return errors.New("stack: Service Bus peer was never started")
	}
	old := s.p
	if err := old.stop(); err != nil {
		return err
	}
	// Keep writing the same log; the old process' temporary directory
	// passes to the new one.
	logDir := filepath.Dir(old.LogPath())
	if err := s.start(ctx, s.Port, logDir); err != nil {
		return err
	}
	s.p.ownDir, old.ownDir = old.ownDir, ""
	return nil
}

// LogTail returns the end of the peer's log (for failure messages).
func (s *ServiceBus) LogTail() string { return s.p.logTail() }

// Stop terminates the peer by PID and waits until its port is free. It is
// safe to call more than once.
func (s *ServiceBus) Stop() error { return s.p.shutdown() }
