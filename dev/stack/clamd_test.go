package stack

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestClamdStartStop(t *testing.T) {
	t0 := time.Now()
	c, err := StartClamd(context.Background(), ClamdOptions{LogDir: t.TempDir(), StreamMaxLength: 3 << 20, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clamd ready on %s after %v", c.Addr, time.Since(t0).Round(time.Millisecond))
	defer c.Stop()

	if c.Addr != "127.0.0.1:"+strconv.Itoa(c.Port) || !portAnswers(c.Port) {
		t.Fatalf("Addr %q / port %d does not answer", c.Addr, c.Port)
	}
	if !strings.HasPrefix(c.Version, "ClamAV 1.") {
		t.Errorf("Version = %q", c.Version)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Error(err)
	}
	conf, err := os.ReadFile(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nTCPAddr 127.0.0.1\n", "\nTCPSocket " + strconv.Itoa(c.Port) + "\n", "\nForeground yes\n",
		"\nStreamMaxLength 3072K\n", "\nMaxFileSize 102400K\n", "\nMaxScanSize 409600K\n", "\nAlertExceedsMax yes\n", "\nDisableCache yes\n"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("clamd.conf lacks %q:\n%s", strings.TrimSpace(want), conf)
		}
	}
	if strings.Contains(string(conf), "\nUser ") {
		t.Errorf("clamd.conf has a User line:\n%s", conf)
	}
	// clamd read the config: it says so for AlertExceedsMax and SelfCheck 0.
	for _, want := range []string{"Heuristic alerting enabled for scans that exceed set maximums.", "Self checking disabled."} {
		if !strings.Contains(c.LogTail(), want) {
			t.Errorf("clamd log lacks %q:\n%s", want, c.LogTail())
		}
	}
	for _, name := range []string{"custom.ndb", "custom.hdb"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(c.Config), "db", name)); err != nil {
			t.Errorf("signature copy: %v", err)
		}
	}
	work := filepath.Dir(c.Config)

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if portAnswers(c.Port) {
		t.Errorf("port %d still answers after Stop", c.Port)
	}
	if pidAlive(c.PID) {
		t.Errorf("pid %d still alive after Stop", c.PID)
	}
	if _, err := os.Stat(work); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work directory %s left behind (%v)", work, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestClamdFixedPort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := StartClamd(context.Background(), ClamdOptions{Port: port})
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

// A missing clamd is named, with the Debian packages that provide it.
func TestClamdMissing(t *testing.T) {
	for _, tt := range []struct {
		name, binary string
		fallbacks    []string
		want         []string
	}{
		{"explicit binary", "/nonexistent/clamd", nil, []string{"/nonexistent/clamd"}},
		{"PATH and fallbacks", "", []string{"/nonexistent/sbin/clamd"}, []string{"clamd on PATH", "/nonexistent/sbin/clamd"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir())
			_, err := findClamd(tt.binary, tt.fallbacks)
			if err == nil {
				t.Fatal("found a clamd that does not exist")
			}
			for _, want := range append(tt.want, "clamd (the ClamAV daemon) is not installed", "apt-get install -y clamav-daemon clamav") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
	_, err := StartClamd(context.Background(), ClamdOptions{Binary: "/nonexistent/clamd"})
	if err == nil || !strings.Contains(err.Error(), "clamav-daemon clamav") {
		t.Errorf("StartClamd: %v", err)
	}
	// Found on PATH or in /usr/sbin, as installed by the Debian packages.
	if _, err := FindClamd(""); err != nil {
		t.Error(err)
	}
}

// The project's signatures are what dev/clamav/README.md says: the MD5 and
// size of the 68-byte EICAR file, and the hex of its marker string.
func TestClamdSignatureFiles(t *testing.T) {
	const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join(root, "dev", "clamav", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), ":")
	}
	sum := md5.Sum([]byte(eicar))
	if got := read("custom.hdb"); len(got) != 3 || got[0] != hex.EncodeToString(sum[:]) || got[1] != strconv.Itoa(len(eicar)) || got[2] != "Custom.EICAR.MD5" {
		t.Errorf("custom.hdb = %q", got)
	}
	got := read("custom.ndb")
	if len(got) != 4 || got[0] != "Custom.EICAR.NDB" || got[1] != "0" || got[2] != "*" {
		t.Fatalf("custom.ndb = %q", got)
	}
	marker, err := hex.DecodeString(got[3])
	if err != nil || string(marker) != "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" || !strings.Contains(eicar, string(marker)) {
		t.Errorf("custom.ndb matches %q (%v)", marker, err)
	}
}

// A port taken under clamd is a *PortInUseError, and nothing is left
// behind; clamd's own bind failure is recognised in its log.
func TestClamdTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "profileflow-clamd-*"))
	_, err = startClamd(context.Background(), mustFindClamd(t), port, ClamdOptions{})
	var pe *PortInUseError
	if !errors.As(err, &pe) || pe.Service != "clamd" || pe.Addr != l.Addr().String() {
		t.Fatalf("start on a taken port: %v, want a *PortInUseError", err)
	}
	if after, _ := filepath.Glob(filepath.Join(os.TempDir(), "profileflow-clamd-*")); len(after) > len(before) {
		t.Errorf("work directories left behind: %v", after)
	}
	if !portTaken("ERROR: TCP: Cannot bind to [127.0.0.1]:3310: Address already in use") || !portTaken("Error: listen EADDRINUSE: address already in use 127.0.0.1:10000") {
		t.Error("portTaken misses a bind failure")
	}
	if portTaken("ERROR: Can't open file or directory") {
		t.Error("portTaken matches another failure")
	}
}

func mustFindClamd(t *testing.T) string {
	t.Helper()
	p, err := FindClamd("")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClamdTRegistersCleanup(t *testing.T) {
	var c *Clamd
	t.Run("inner", func(t *testing.T) {
		c = ClamdT(t)
		if !portAnswers(c.Port) {
			t.Fatalf("port %d does not answer", c.Port)
		}
	})
	if c == nil || portAnswers(c.Port) || pidAlive(c.PID) {
		t.Errorf("ClamdT instance not stopped after its test")
	}
}
