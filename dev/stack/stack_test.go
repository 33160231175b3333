package stack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/profileflow/profileflow/dev/proc"
	"time"
)

func portAnswers(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func pidAlive(pid int) bool { return proc.Alive(pid) }

func httpGet(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, b
}

func TestAzuriteStartStop(t *testing.T) {
	t0 := time.Now()
	a, err := StartAzurite(context.Background(), AzuriteOptions{LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("azurite ready on :%d after %v", a.Port, time.Since(t0).Round(time.Millisecond))
	defer a.Stop()

	if a.Port == 0 || !portAnswers(a.Port) {
		t.Fatalf("port %d does not answer", a.Port)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(a.Port) + "/devstoreaccount1"; a.BlobURL != want {
		t.Errorf("BlobURL = %q, want %q", a.BlobURL, want)
	}
	for _, part := range []string{"AccountName=devstoreaccount1", "AccountKey=" + AzuriteAccountKey, "BlobEndpoint=" + a.BlobURL} {
		if !strings.Contains(a.ConnectionString(), part) {
			t.Errorf("ConnectionString %q lacks %q", a.ConnectionString(), part)
		}
	}
	// It is Azurite answering (not some other server on the port).
	resp, _ := httpGet(t, a.BlobURL+"?comp=list")
	if srv := resp.Header.Get("Server"); !strings.Contains(srv, "Azurite") {
		t.Errorf("Server header %q, want Azurite", srv)
	}

	t1 := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("azurite stopped in %v", time.Since(t1).Round(time.Millisecond))
	if portAnswers(a.Port) {
		t.Errorf("port %d still answers after Stop", a.Port)
	}
	if pidAlive(a.PID) {
		t.Errorf("pid %d still alive after Stop", a.PID)
	}
	if err := a.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestCosmosStartStop(t *testing.T) {
	t0 := time.Now()
	c, err := StartCosmos(context.Background(), CosmosOptions{LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cosmos ready on :%d after %v", c.Port, time.Since(t0).Round(time.Millisecond))
	defer c.Stop()

	if c.Port == 0 || !portAnswers(c.Port) {
		t.Fatalf("port %d does not answer", c.Port)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(c.Port) + "/"; c.Endpoint != want {
		t.Errorf("Endpoint = %q, want %q", c.Endpoint, want)
	}
	if c.Key == "" {
		t.Error("empty Key")
	}
	// The account metadata names the http endpoint (the launcher's fix).
	_, body := httpGet(t, c.Endpoint)
	var meta struct {
		WritableLocations []struct {
			DatabaseAccountEndpoint string `json:"databaseAccountEndpoint"`
		} `json:"writableLocations"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		t.Fatalf("account metadata: %v: %s", err, body)
	}
	if len(meta.WritableLocations) != 1 || meta.WritableLocations[0].DatabaseAccountEndpoint != c.Endpoint {
		t.Errorf("writableLocations = %+v, want [%s]", meta.WritableLocations, c.Endpoint)
	}

	t1 := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("cosmos stopped in %v", time.Since(t1).Round(time.Millisecond))
	if portAnswers(c.Port) {
		t.Errorf("port %d still answers after Stop", c.Port)
	}
	if pidAlive(c.PID) {
		t.Errorf("pid %d still alive after Stop", c.PID)
	}
}

func TestCosmosFixedPort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartCosmos(context.Background(), CosmosOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != port || !portAnswers(port) {
		t.Errorf("Port = %d (answers %v), want %d", c.Port, portAnswers(port), port)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if portAnswers(port) {
		t.Errorf("port %d still answers after Stop", port)
	}
}

// A fixed port that is taken is refused before anything starts, with an
// error naming the service and the address, and no child left running.
func TestBusyFixedPortIsNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	addr := "127.0.0.1:" + strconv.Itoa(busy)

	for _, tt := range []struct {
		service string
		start   func() error
	}{
		{"Cosmos DB stand-in", func() error {
			_, err := StartCosmos(context.Background(), CosmosOptions{Port: busy})
			return err
		}},
		{"Azurite blob", func() error {
			_, err := StartAzurite(context.Background(), AzuriteOptions{Port: busy})
			return err
		}},
		{"Service Bus peer", func() error {
			_, err := StartServiceBus(context.Background(), ServiceBusOptions{Port: busy})
			return err
		}},
		{"clamd", func() error {
			_, err := StartClamd(context.Background(), ClamdOptions{Port: busy})
			return err
		}},
	} {
		t.Run(tt.service, func(t *testing.T) {
			err := tt.start()
			var pe *PortInUseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PortInUseError", err)
			}
			if pe.Service != tt.service || pe.Addr != addr {
				t.Errorf("PortInUseError = %+v, want service %q addr %s", pe, tt.service, addr)
			}
			if want := tt.service + " port " + addr + " is in use"; err.Error() != want {
				t.Errorf("message = %q, want %q", err, want)
			}
		})
	}
}

// A stand-in that exits before it is ready fails with the cause and the
// tail of its log.
func TestStartFailureIncludesLogTail(t *testing.T) {
	_, err := start(context.Background(), spec{
		name: "cosmos", service: "Cosmos DB stand-in", script: "dev/cosmos-emu.js",
		args: []string{"--no-such-flag"}, ready: cosmosReady,
	})
	if err == nil {
		t.Fatal("started with an unknown flag")
	}
	for _, want := range []string{"cosmos did not start", "exit status 2", `unknown argument "--no-such-flag"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestMissingScriptSaysNpmCi(t *testing.T) {
	_, err := nodeScript("node_modules/does-not-exist/main.js")
	if err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Fatalf("err = %v, want a hint to run npm ci", err)
	}
}

// The Service Bus peer on a fixed port: its connection string names that
// port, Restart brings up a new process on the same port writing the same
// log, and Stop frees the port.
func TestServiceBusFixedPortRestart(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := StartServiceBus(context.Background(), ServiceBusOptions{Port: port, LogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	want := "Endpoint=sb://127.0.0.1:" + strconv.Itoa(port) +
		";SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true"
	if s.ConnectionString() != want {
		t.Errorf("ConnectionString() = %q, want %q", s.ConnectionString(), want)
	}
	pid, logPath := s.PID, s.LogPath
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Port != port || s.PID == pid || s.LogPath != logPath || !portAnswers(port) {
		t.Errorf("after Restart: port %d pid %d log %s (answers %v), want port %d, a new pid, log %s",
			s.Port, s.PID, s.LogPath, portAnswers(port), port, logPath)
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "sbpeer ready"); n != 2 {
		t.Errorf("log has %d ready lines, want 2 (both runs):\n%s", n, raw)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if portAnswers(port) {
		t.Errorf("port %d still answers after Stop", port)
	}
}

func TestHelpersRegisterCleanup(t *testing.T) {
	var port int
	t.Run("inner", func(t *testing.T) {
		c := CosmosT(t)
		port = c.Port
		if !portAnswers(port) {
			t.Fatalf("port %d does not answer", port)
		}
	})
	if port == 0 || portAnswers(port) {
		t.Errorf("CosmosT instance on port %d not stopped after its test", port)
	}
	t.Run("servicebus", func(t *testing.T) {
		port = ServiceBusT(t).Port
		if !portAnswers(port) {
			t.Fatalf("port %d does not answer", port)
		}
	})
	if port == 0 || portAnswers(port) {
		t.Errorf("ServiceBusT instance on port %d not stopped after its test", port)
	}
}
