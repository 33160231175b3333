package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"
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
// in memory, so every start is empty). It behaves like Azure where the code
// depends on it: cross-partition queries the gateway cannot serve answer
// 400, partition-scoped queries see one partition, TTL expires items, and
// responses carry session tokens; see the header of dev/cosmos-emu.js.
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

// Fault makes the stand-in answer the next Count matching requests with
// Status instead of serving them (see InjectFaults).
type Fault struct {
	Status     int           // HTTP status, 400–599 (e.g. 429, 503)
	Count      int           // how many requests answer Status
	RetryAfter time.Duration // sent as x-ms-retry-after-ms when > 0
	SubStatus  string        // x-ms-substatus; "" = Azure's default (3200 for 429, none otherwise)
	Match      string        // only requests whose path contains Match; "" = every /dbs/ request
	Method     string        // only requests of this HTTP method (e.g. "PUT", a replace); "" = any
}

// FaultState is the stand-in's fault counter: Remaining requests still to
// fail, Served faults answered since the last InjectFaults.
type FaultState struct {
	Status    int `json:"status"`
	Remaining int `json:"remaining"`
	Served    int `json:"served"`
}

// InjectFaults makes the next f.Count requests (whose path contains
// f.Match, of method f.Method when set) answer f.Status with Azure's error body ({"code","message"}),
// x-ms-retry-after-ms and x-ms-substatus, through the stand-in's test hook
// POST /_test/faults. It replaces any faults still pending.
func (c *Cosmos) InjectFaults(ctx context.Context, f Fault) error {
	body := map[string]any{"status": f.Status, "count": f.Count}
	if f.RetryAfter > 0 {
		body["retryAfterMs"] = f.RetryAfter.Milliseconds()
	}
	if f.SubStatus != "" {
		body["substatus"] = f.SubStatus
	}
	if f.Match != "" {
		body["match"] = f.Match
	}
	if f.Method != "" {
		body["method"] = f.Method
	}
	_, err := c.faultCall(ctx, http.MethodPost, body)
	return err
}

// Faults returns the fault counter.
func (c *Cosmos) Faults(ctx context.Context) (FaultState, error) {
	return c.faultCall(ctx, http.MethodGet, nil)
}

// ClearFaults drops pending faults.
func (c *Cosmos) ClearFaults(ctx context.Context) error {
	_, err := c.faultCall(ctx, http.MethodDelete, nil)
	return err
}

func (c *Cosmos) faultCall(ctx context.Context, method string, body any) (FaultState, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return FaultState{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoint+"_test/faults", rd)
	if err != nil {
		return FaultState{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return FaultState{}, fmt.Errorf("cosmos stand-in faults: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return FaultState{}, fmt.Errorf("cosmos stand-in faults: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return FaultState{}, fmt.Errorf("cosmos stand-in faults: %s: %s", resp.Status, raw)
	}
	var st FaultState
	if err := json.Unmarshal(raw, &st); err != nil {
		return FaultState{}, fmt.Errorf("cosmos stand-in faults: %w", err)
	}
	return st, nil
}

// OpCounts are the document operations of one container the stand-in
// answered (GET /_test/ops): reads found and missing, writes (create,
// replace, upsert, delete) done and refused (4xx), and queries.
type OpCounts struct {
	Read         int `json:"read"`
	ReadMissing  int `json:"readMissing"`
	Write        int `json:"write"`
	WriteRefused int `json:"writeRefused"`
	Query        int `json:"query"`
}

// Ops returns the operation counts by container since the last ResetOps.
func (c *Cosmos) Ops(ctx context.Context) (map[string]OpCounts, error) {
	out := map[string]OpCounts{}
	return out, c.opsCall(ctx, http.MethodGet, &out)
}

// ResetOps sets every operation count to zero.
func (c *Cosmos) ResetOps(ctx context.Context) error {
	return c.opsCall(ctx, http.MethodDelete, nil)
}

func (c *Cosmos) opsCall(ctx context.Context, method string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoint+"_test/ops", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cosmos stand-in ops: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("cosmos stand-in ops: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cosmos stand-in ops: %s: %s", resp.Status, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("cosmos stand-in ops: %w", err)
	}
	return nil
}
