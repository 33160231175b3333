//go:build bench

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/testdocs"
	"github.com/profileflow/profileflow/dev/testlog"
	"github.com/profileflow/profileflow/handler/upload"
)

// MaxPeakPerFile is the target for the memory one scan costs the handler:
// the rise of its peak resident set over its resident set just before, at
// most this many times the document's size.
const MaxPeakPerFile = 3.0

// TestPeakMemory measures the handler process's peak resident memory
// (Linux /proc/<pid>/status: VmHWM, reset to VmRSS by writing 5 to
// /proc/<pid>/clear_refs, proc(5)) while one 25 MiB document is accepted
// (PATCH) and then scanned once by ScanAttachment, which the development
// host invokes with the payload the real host sends (the blob's bytes as
// base64), through clamd, until the document is moved to the clean
// container. The documents (dev/testdocs): a PDF of FlateDecode text
// pages, and a noisy RGBA PNG; each is measured in a local system started
// for it, so nothing an earlier scan left in the handler's heap counts.
//
// It logs, per document, in MiB and as a multiple of the file size: the
// resident set before, the peak while accepting alone, the peak over
// accepting and scanning, and the rise of that peak over before (the
// memory the invocation costs; before holds the handler's fixed cost:
// binary, runtime, SDK clients). It fails when the rise is over
// MaxPeakPerFile × the file size. Built only with the tag bench (`make
// bench`):
//
//	go test -tags bench -run '^TestPeakMemory$' -count=1 -v ./handler/e2e
func TestPeakMemory(t *testing.T) {
	size := int(upload.MaxFileSize)
	pdf, err := testdocs.PDF(size)
	if err != nil {
		t.Fatal(err)
	}
	png, err := testdocs.PNG(size)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []doc{{"statement.pdf", "application/pdf", pdf}, {"photo.png", "image/png", png}} {
		t.Run(d.name, func(t *testing.T) {
			pid := freshSystem(t)
			id, owner, phone := newProfile(t)
			tok := token(t, owner)
			plan := uploadDocs(t, tok, id, d)

			resetPeak(t, pid)
			before := memStatus(t, pid)
			path := submit(t, tok, id, phone, plan.UploadID)
			accepted := memStatus(t, pid)
			resetPeak(t, pid)

			a := attachmentsOf(scanned(t, tok, path))[d.name]
			if a["verdict"] != "clean" || a["sha256"] != sha(d.data) || !strings.HasPrefix(fmt.Sprint(a["engine"]), "ClamAV") {
				t.Fatalf("attachment: %v", a)
			}
			for deadline := time.Now().Add(30 * time.Second); ; { // the move to the clean container ends the invocation
				resp, _ := attachmentLink(t, tok, path, d.name)
				if resp.StatusCode == http.StatusFound {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no read link 30 s after the verdict: %d", resp.StatusCode)
				}
				time.Sleep(100 * time.Millisecond)
			}
			scannedPeak := memStatus(t, pid)

			mib := func(kb int64) float64 { return float64(kb) / 1024 }
			per := func(kb int64) float64 { return float64(kb*1024) / float64(len(d.data)) }
			peak := max(accepted.hwm, scannedPeak.hwm)
			rise := peak - before.rss
			t.Logf("%s: file %.1f MiB; handler RSS before %.1f MiB; peak accepting %.1f MiB; peak accepting and scanning %.1f MiB (%.2f× the file); rise %.1f MiB (%.2f× the file; target under %.0f×)",
				d.name, float64(len(d.data))/(1<<20), mib(before.rss), mib(accepted.hwm), mib(peak), per(peak), mib(rise), per(rise), MaxPeakPerFile)
			// The same figures as a line of the Go benchmark format, for
			// the benchmark table.
			fmt.Printf("BenchmarkPeakMemory/%s 1 %.3f rise-x-file %.1f rise-MiB %.1f peak-MiB\n", d.name, per(rise), mib(rise), mib(peak))
			if per(rise) > MaxPeakPerFile {
				t.Errorf("%s: scanning raised the handler's peak RSS by %.1f MiB, %.2f× the file, over the target of %.0f×",
					d.name, mib(rise), per(rise), MaxPeakPerFile)
			}
		})
	}
}

// freshSystem starts a local system of its own for one measurement, so
// that nothing an earlier scan left in the handler's heap counts, and
// points the helpers (which use sys) at it until the test ends. It returns
// the PID of its handler process.
func freshSystem(t *testing.T) int {
	t.Helper()
	var handlerLog testlog.Buffer
	fresh, err := startSystem(sys.Host.App().Dir, t.TempDir(), &handlerLog)
	if err != nil {
		t.Fatal(err)
	}
	shared := sys
	sys = fresh
	t.Cleanup(func() {
		sys = shared
		if err := fresh.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			out := handlerLog.String()
			t.Logf("handler output (end):\n%s", out[max(0, len(out)-4096):])
		}
	})
	pid := fresh.Host.HandlerPID()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil || filepath.Base(exe) != "handler" {
		t.Fatalf("process %d is %q (%v), not the handler binary", pid, exe, err)
	}
	return pid
}

// mem is a process's resident set now (VmRSS) and its peak (VmHWM), in KiB.
type mem struct{ rss, hwm int64 }

func memStatus(t *testing.T, pid int) mem {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var m mem
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("/proc/%d/status %s: %q", pid, k, v)
		}
		if k == "VmRSS" {
			m.rss = n
		} else {
			m.hwm = n
		}
	}
	if m.rss == 0 || m.hwm == 0 {
		t.Fatalf("/proc/%d/status has no VmRSS and VmHWM", pid)
	}
	return m
}

// resetPeak sets the process's VmHWM to its current VmRSS (proc(5),
// /proc/pid/clear_refs: writing 5).
func resetPeak(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
	if m := memStatus(t, pid); m.hwm > m.rss+8<<10 {
		t.Fatalf("VmHWM not reset: %+v", m)
	}
}
