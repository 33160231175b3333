package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child: PROC_TEST_CHILD selects a behaviour.
func TestMain(m *testing.M) {
	switch os.Getenv("PROC_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "announce":
		fmt.Println("starting")
		fmt.Println("listening on 4242")
		time.Sleep(time.Minute)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("listening on 1")
		time.Sleep(time.Minute)
	case "grandchild":
		// A grandchild in the same process group; print its pid.
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			os.Exit(5)
		}
		fmt.Printf("grandchild %d\n", c.Process.Pid)
		time.Sleep(time.Minute)
	case "exit3":
		fmt.Fprintln(os.Stderr, "boom")
		os.Exit(3)
	}
	os.Exit(0)
}

func child(t *testing.T, mode string, announce *regexp.Regexp) *Process {
	t.Helper()
	p, err := Start(Spec{
		Name:     mode,
		Path:     os.Args[0],
		Env:      append(os.Environ(), "PROC_TEST_CHILD="+mode),
		LogPath:  filepath.Join(t.TempDir(), mode+".log"),
		Announce: announce,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	return p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestAnnounceThenStopByPID(t *testing.T) {
	p := child(t, "announce", regexp.MustCompile(`^listening on (\d+)$`))
	m, err := p.Announced(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "4242" {
		t.Fatalf("announced %q, want port 4242", m)
	}
	if !Alive(p.PID()) {
		t.Fatal("child not alive after announcing")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if Alive(p.PID()) {
		t.Fatalf("pid %d still alive after Stop", p.PID())
	}
	if !p.Stopping() {
		t.Error("Stopping() = false after Stop")
	}
	if log := p.LogTail(4096); !strings.Contains(log, "starting\nlistening on 4242\n") {
		t.Errorf("log file = %q, want the child's stdout", log)
	}
}

func TestStopKillsTheWholeProcessGroup(t *testing.T) {
	p := child(t, "grandchild", regexp.MustCompile(`^grandchild (\d+)$`))
	m, err := p.Announced(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	gpid, _ := strconv.Atoi(m[1])
	if !Alive(gpid) {
		t.Fatalf("grandchild %d not running", gpid)
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The grandchild is not ours to reap; it is gone or a zombie of init
	// for a moment. Wait briefly for it to disappear.
	deadline := time.Now().Add(5 * time.Second)
	for alive(gpid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(gpid) {
		t.Fatalf("grandchild %d survived Stop of its group", gpid)
	}
}

// alive is Alive, not counting zombies (a reparented grandchild is reaped by
// init at its own pace).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Alive(pid)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func TestStopKillsAChildIgnoringSIGTERM(t *testing.T) {
	p := child(t, "ignore-term", regexp.MustCompile(`^listening on (\d+)$`))
	if _, err := p.Announced(ctx(t)); err != nil {
		t.Fatal(err)
	}
	err := p.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "was killed") || !strings.Contains(err.Error(), strconv.Itoa(p.PID())) {
		t.Fatalf("Stop = %v; want a 'was killed' error naming pid %d", err, p.PID())
	}
	if Alive(p.PID()) {
		t.Fatal("child alive after SIGKILL")
	}
	if err2 := p.Stop(time.Second); err2 != err {
		t.Errorf("second Stop = %v, want the first result %v", err2, err)
	}
}

func TestWaitReadyReportsAnEarlyExit(t *testing.T) {
	p := child(t, "exit3", nil)
	err := p.WaitReady(ctx(t), 10*time.Millisecond, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("WaitReady = %v", err)
	}
	if tail := p.LogTail(4096); tail != "boom\n" {
		t.Errorf("log = %q, want the child's stderr", tail)
	}
}

func TestWaitReadyReturnsWhenTheCheckPasses(t *testing.T) {
	p := child(t, "announce", nil)
	n := 0
	err := p.WaitReady(ctx(t), 5*time.Millisecond, func(context.Context) error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("WaitReady = %v after %d checks, want nil after 3", err, n)
	}
}

func TestAnnouncedFailsWhenTheChildExits(t *testing.T) {
	p := child(t, "exit3", regexp.MustCompile(`never`))
	if _, err := p.Announced(ctx(t)); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Announced = %v, want the exit status", err)
	}
}

func TestLineWatcher(t *testing.T) {
	re := regexp.MustCompile(`^server ready http://[^\s]*:(\d+)/`)
	tests := []struct {
		name   string
		chunks []string
		want   string // "" = no match
	}{
		{"one line", []string{"server ready http://127.0.0.1:4321/\n"}, "4321"},
		{"split", []string{"noise\nserver rea", "dy http://127.0.0.1:77/\n"}, "77"},
		{"no newline yet", []string{"server ready http://127.0.0.1:77/"}, ""},
		{"other text", []string{"Ready to accept HTTP connections at 127.0.0.1:9\n"}, ""},
		{"first match wins", []string{"server ready http://h:1/\nserver ready http://h:2/\n"}, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan []string, 1)
			var sb strings.Builder
			w := &lineWatcher{out: &sb, re: re, ch: ch}
			for _, c := range tt.chunks {
				if _, err := w.Write([]byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			got := ""
			select {
			case m := <-ch:
				got = m[1]
			default:
			}
			if got != tt.want {
				t.Errorf("port = %q, want %q", got, tt.want)
			}
			if sb.String() != strings.Join(tt.chunks, "") {
				t.Errorf("log copy = %q", sb.String())
			}
		})
	}
}
