package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/artifact"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/proc"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/testlog"
)

var appDir string

func TestMain(m *testing.M) {
	root, err := stack.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmp, err := os.MkdirTemp("", "profileflow-localrun-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	appDir = filepath.Join(tmp, "app")
	if err := artifact.Build(root, appDir, ""); err != nil {
		fmt.Fprintln(os.Stderr, "build app:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// ports are the five fixed ports of a run, each free a moment ago.
type ports struct{ host, azurite, cosmos, twilio, servicebus int }

func freePorts(t *testing.T) ports {
	t.Helper()
	var p [5]int
	for i := range p {
		var err error
		if p[i], err = stack.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	return ports{p[0], p[1], p[2], p[3], p[4]}
}

func (p ports) args(t *testing.T) []string {
	return []string{"-app", appDir, "-logs", t.TempDir(),
		"-port", strconv.Itoa(p.host), "-azurite-port", strconv.Itoa(p.azurite),
		"-cosmos-port", strconv.Itoa(p.cosmos), "-twilio-port", strconv.Itoa(p.twilio),
		"-servicebus-port", strconv.Itoa(p.servicebus)}
}

// startedPIDs returns every "pid" in the JSON log records on stderr: the
// stand-ins and the handler the run started.
func startedPIDs(t *testing.T, stderr string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg     string `json:"msg"`
			Service string `json:"service"`
			PID     int    `json:"pid"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.PID == 0 {
			continue
		}
		name := rec.Service
		if rec.Msg == "handler started" {
			name = "handler"
		}
		pids[name] = rec.PID
	}
	return pids
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// A taken port ends the run with one line naming the service, the address
// and the Makefile variable; exit status 1; every child it had started is
// stopped. The services start in the order host+twilio (reserved first),
// Azurite, Cosmos, Service Bus, so the later cases stop running children.
func TestTakenPortIsNamedAndNothingIsLeftRunning(t *testing.T) {
	for _, tc := range []struct {
		service, makeVar, flag string
		port                   func(ports) int
		wantStarted            []string // children that must have started (and been stopped)
	}{
		{local.ServiceHost, "PORT", "port", func(p ports) int { return p.host }, nil},
		{local.ServiceTwilio, "TWILIO_PORT", "twilio-port", func(p ports) int { return p.twilio }, nil},
		{local.ServiceAzurite, "AZURITE_PORT", "azurite-port", func(p ports) int { return p.azurite }, nil},
		{local.ServiceCosmos, "COSMOS_PORT", "cosmos-port", func(p ports) int { return p.cosmos }, []string{local.ServiceAzurite}},
		{local.ServiceBus, "SERVICEBUS_PORT", "servicebus-port", func(p ports) int { return p.servicebus }, []string{local.ServiceAzurite, local.ServiceCosmos}},
	} {
		t.Run(tc.makeVar, func(t *testing.T) {
			p := freePorts(t)
			busy := tc.port(p)
			addr := "127.0.0.1:" + strconv.Itoa(busy)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()

			var stdout, stderr testlog.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			code := run(ctx, p.args(t), &stdout, &stderr)
			if code != 1 {
				t.Fatalf("exit code %d, want 1\nstderr:\n%s", code, stderr.String())
			}
			want := fmt.Sprintf("profileflow: %s port %s is in use (pick another: make run %s=<port>, or -%s <port>)", tc.service, addr, tc.makeVar, tc.flag)
			if got := lastLine(stderr.String()); got != want {
				t.Errorf("last stderr line\n got %q\nwant %q", got, want)
			}
			if strings.Contains(stderr.String(), "panic") {
				t.Errorf("stderr mentions a panic:\n%s", stderr.String())
			}
			pids := startedPIDs(t, stderr.String())
			for _, name := range tc.wantStarted {
				if pids[name] == 0 {
					t.Errorf("%s was not started before the failure (pids %v): the cleanup path is not exercised", name, pids)
				}
			}
			for name, pid := range pids {
				if proc.Alive(pid) {
					t.Errorf("%s (pid %d) still running after the failed start", name, pid)
				}
			}
			// The busy port's owner is untouched.
			if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
				t.Errorf("the test's own listener on %s no longer answers: %v", addr, err)
			} else {
				c.Close()
			}
		})
	}
}

// The banner names what actually runs, with the chosen ports, and its curl
// line works; Ctrl-C (ctx) stops every child and exits 0.
func TestBannerNamesWhatRuns(t *testing.T) {
	p := freePorts(t)
	logDir, webDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(webDir, "index.html"), []byte("<!doctype html><title>profileflow</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(p.args(t), "-logs", logDir, "-web", webDir)
	var stdout, stderr testlog.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, &stdout, &stderr) }()

	deadline := time.After(2 * time.Minute)
	for !strings.Contains(stdout.String(), "Ctrl-C stops everything") {
		select {
		case code := <-done:
			t.Fatalf("run ended with %d before printing the banner\nstderr:\n%s", code, stderr.String())
		case <-deadline:
			t.Fatalf("no banner after 2 minutes\nstderr:\n%s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	out := stdout.String()
	pids := startedPIDs(t, stderr.String())
	host := fmt.Sprintf("http://127.0.0.1:%d", p.host)
	for _, want := range []string{
		host + "/api/v1/",
		host + "/dev/token", host + "/dev/outbox", host + "/dev/oidc/.well-known/openid-configuration",
		fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1  (pid %d)", p.azurite, pids[local.ServiceAzurite]),
		fmt.Sprintf("http://127.0.0.1:%d/  (pid %d)", p.cosmos, pids[local.ServiceCosmos]),
		fmt.Sprintf("Service Bus        sb://127.0.0.1:%d  (pid %d;", p.servicebus, pids[local.ServiceBus]),
		fmt.Sprintf("fake Twilio API    http://127.0.0.1:%d", p.twilio),
		fmt.Sprintf(", pid %d)", pids["handler"]),
		"logs               " + logDir,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	// Every dev endpoint and the handler address printed answer (no 404).
	checked := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "dev endpoints") && !strings.Contains(line, "(development host; handler ") {
			continue
		}
		for _, u := range regexp.MustCompile(`http://127\.0\.0\.1:\d+/dev/\S+|handler (http://127\.0\.0\.1:\d+)`).FindAllStringSubmatch(line, -1) {
			target := u[0]
			if u[1] != "" {
				target = u[1] + "/"
			}
			checked++
			resp, err := http.Get(target)
			if err != nil {
				t.Errorf("banner address %s: %v", target, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				t.Errorf("banner address %s answers 404", target)
			}
		}
	}
	if checked != 4 {
		t.Errorf("checked %d banner addresses, want 4 (3 dev endpoints + the handler)", checked)
	}
	// The printed curl line answers 200 with profile 1000.
	m := regexp.MustCompile(`Bearer ([^"]+)" (\S+/api/v1/profile/1000)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no curl line in the banner:\n%s", out)
	}
	// The web UI line names the site, which answers with its page and policy.
	if !strings.Contains(out, "web UI             "+host+"/  (sign in as user-1000") {
		t.Errorf("banner lacks the web UI:\n%s", out)
	}
	if resp, err := http.Get(host + "/"); err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("web UI at %s/: %v %v", host, resp, err)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", m[2], nil)
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("banner's curl line: %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code after Ctrl-C = %d, want 0\nstderr:\n%s", code, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not stop after Ctrl-C")
	}
	if len(pids) < 4 {
		t.Fatalf("started pids %v, want Azurite, Cosmos, the Service Bus peer and the handler", pids)
	}
	for name, pid := range pids {
		if proc.Alive(pid) {
			t.Errorf("%s (pid %d) still running after Ctrl-C", name, pid)
		}
	}
}
