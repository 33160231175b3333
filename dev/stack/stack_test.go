package stack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
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

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

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

// A start failure names the cause and carries the log tail.
func TestStartFailureIncludesLogTail(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port

	for name, startFn := range map[string]func() error{
		"cosmos": func() error {
			_, err := StartCosmos(context.Background(), CosmosOptions{Port: busy})
			return err
		},
		"azurite": func() error {
			_, err := StartAzurite(context.Background(), AzuriteOptions{Port: busy})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := startFn()
			if err == nil {
				t.Fatalf("started on busy port %d", busy)
			}
			for _, want := range []string{"did not start", "EADDRINUSE"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestMissingScriptSaysNpmCi(t *testing.T) {
	_, err := nodeScript("node_modules/does-not-exist/main.js")
	if err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Fatalf("err = %v, want a hint to run npm ci", err)
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
}

func TestReadyWatcher(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   int // 0 = no match
	}{
		{"one line", []string{"cosmos-emu ready http://127.0.0.1:4321/\n"}, 4321},
		{"split", []string{"noise\ncosmos-emu rea", "dy http://127.0.0.1:77/\n"}, 77},
		{"no newline yet", []string{"cosmos-emu ready http://127.0.0.1:77/"}, 0},
		{"other text", []string{"Ready to accept HTTP connections at 127.0.0.1:9\n"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan int, 1)
			var sb strings.Builder
			w := &readyWatcher{out: &sb, re: cosmosReady, ch: ch}
			for _, c := range tt.chunks {
				if _, err := w.Write([]byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			got := 0
			select {
			case got = <-ch:
			default:
			}
			if got != tt.want {
				t.Errorf("port = %d, want %d", got, tt.want)
			}
			if sb.String() != strings.Join(tt.chunks, "") {
				t.Errorf("log copy = %q", sb.String())
			}
		})
	}
}
