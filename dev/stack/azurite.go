package stack

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
)

// Well-known Azurite development account (public, documented by Microsoft).
const (
	AzuriteAccountName = "devstoreaccount1"
	AzuriteAccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzuriteOptions configures StartAzurite.
type AzuriteOptions struct {
	Port   int    // blob port on 127.0.0.1; 0 = a free port chosen by the server
	LogDir string // directory of azurite.log; "" = a temporary directory removed by Stop
}

// Azurite is a running Azurite blob service (in memory; nothing on disk).
// Only the blob service runs; a queue service (dist/src/queue/main.js) can be
// added here when something needs it.
type Azurite struct {
	Port        int
	BlobURL     string // http://127.0.0.1:PORT/devstoreaccount1
	AccountName string
	AccountKey  string
	LogPath     string
	PID         int

	p *process
}

var azuriteReady = regexp.MustCompile(`Azurite Blob service successfully listens on https?://[^\s]*:(\d+)`)

// StartAzurite starts `node node_modules/azurite/dist/src/blob/main.js` on
// 127.0.0.1 and returns once it accepts connections.
func StartAzurite(ctx context.Context, o AzuriteOptions) (*Azurite, error) {
	p, err := start(ctx, spec{
		name:    "azurite",
		service: "Azurite blob",
		script:  "node_modules/azurite/dist/src/blob/main.js",
		args: []string{
			"--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(o.Port),
			"--inMemoryPersistence",
			"--skipApiVersionCheck", // azblob 1.8 sends an x-ms-version newer than Azurite knows
			"--disableTelemetry",
			"--silent",
		},
		port:   o.Port,
		ready:  azuriteReady,
		logDir: o.LogDir,
	})
	if err != nil {
		return nil, err
	}
	return &Azurite{
		Port:        p.port,
		BlobURL:     fmt.Sprintf("http://127.0.0.1:%d/%s", p.port, AzuriteAccountName),
		AccountName: AzuriteAccountName,
		AccountKey:  AzuriteAccountKey,
		LogPath:     p.LogPath(),
		PID:         p.PID(),
		p:           p,
	}, nil
}

// ConnectionString returns a storage connection string for the account.
func (a *Azurite) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		a.AccountName, a.AccountKey, a.BlobURL)
}

// LogTail returns the end of the server's log (for failure messages).
func (a *Azurite) LogTail() string { return a.p.logTail() }

// Stop terminates the server by PID and waits until its port is free.
// It is safe to call more than once.
func (a *Azurite) Stop() error { return a.p.shutdown() }
