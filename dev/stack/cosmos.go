package stack

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
)

// CosmosKey is the key handed to clients of the stand-in. The server ignores
// authentication; this is the public Cosmos DB emulator key, so SDKs accept
// its format.
const CosmosKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="

// CosmosOptions configures StartCosmos.
type CosmosOptions struct {
	Port   int    // port on 127.0.0.1; 0 = a free port chosen by the server
	LogDir string // directory of cosmos.log; "" = a temporary directory removed by Stop
}

// Cosmos is a running Cosmos DB stand-in (dev/cosmos-emu.js over plain http;
// in memory, so every start is empty).
type Cosmos struct {
	Port     int
	Endpoint string // http://127.0.0.1:PORT/
	Key      string
	LogPath  string
	PID      int

	p *process
}

var cosmosReady = regexp.MustCompile(`^cosmos-emu ready https?://[^\s]*:(\d+)/`)

// StartCosmos starts `node dev/cosmos-emu.js --no-ssl` on 127.0.0.1 and
// returns once it accepts connections.
func StartCosmos(ctx context.Context, o CosmosOptions) (*Cosmos, error) {
	// The launcher loads the package itself; check it here for a clear error.
	if _, err := nodeScript("node_modules/@vercel/cosmosdb-server/lib/index.js"); err != nil {
		return nil, err
	}
	p, err := start(ctx, spec{
		name:    "cosmos",
		service: "Cosmos DB stand-in",
		script:  "dev/cosmos-emu.js",
		args:    []string{"--no-ssl", "--host", "127.0.0.1", "--port", strconv.Itoa(o.Port)},
		port:    o.Port,
		ready:   cosmosReady,
		logDir:  o.LogDir,
	})
	if err != nil {
		return nil, err
	}
	return &Cosmos{
		Port:     p.port,
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d/", p.port),
		Key:      CosmosKey,
		LogPath:  p.LogPath(),
		PID:      p.PID(),
		p:        p,
	}, nil
}

// LogTail returns the end of the server's log (for failure messages).
func (c *Cosmos) LogTail() string { return c.p.logTail() }

// Stop terminates the server by PID and waits until its port is free.
// It is safe to call more than once.
func (c *Cosmos) Stop() error { return c.p.shutdown() }
