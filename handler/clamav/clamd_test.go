package clamav_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/clamav"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
)

const (
	mib        = 1 << 20
	limitBytes = 1 * mib // StreamMaxLength of the "limited" engines
	// guard bounds how long a test waits for a call that must end by its own
	// Timeout; it only keeps a broken client from hanging the run.
	guard = 30 * time.Second
)

func newClient(t testing.TB, addr string, o clamav.Options) *clamav.Client {
	t.Helper()
	c, err := clamav.New(addr, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scanBytes(t testing.TB, c *clamav.Client, b []byte) (scan.Finding, error) {
	t.Helper()
	return c.Scan(context.Background(), bytes.NewReader(b))
}

func mustClean(t *testing.T, c *clamav.Client, b []byte) {
	t.Helper()
	f, err := scanBytes(t, c, b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Infected || f.Signature != "" || !strings.HasPrefix(f.Engine, "ClamAV ") {
		t.Fatalf("finding %+v, want clean with engine ClamAV …", f)
	}
}

func mustInfected(t *testing.T, c *clamav.Client, b []byte) scan.Finding {
	t.Helper()
	f, err := scanBytes(t, c, b)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Infected || !strings.HasPrefix(f.Engine, "ClamAV ") {
		t.Fatalf("finding %+v, want infected with engine ClamAV …", f)
	}
	return f
}

// engine is one clamd, real or fake, for the contract suite: addr has the
// default limits, limited refuses streams over limitBytes.
type engine struct {
	name, addr, limited string
}

// TestContract runs the same expectations against the fake and the real
// clamd (started with the project's test signatures).
func TestContract(t *testing.T) {
	fake := newFakeClamd(t, fakeOpts{})
	fakeLimited := newFakeClamd(t, fakeOpts{maxStream: limitBytes})
	real := stack.ClamdT(t)
	realLimited := stack.ClamdT(t, stack.ClamdOptions{StreamMaxLength: limitBytes})
	for _, e := range []engine{
		{"fake", fake.Addr(), fakeLimited.Addr()},
		{"clamd", real.Addr, realLimited.Addr},
	} {
		t.Run(e.name, func(t *testing.T) { contract(t, e) })
	}
}

func contract(t *testing.T, e engine) {
	ctx := context.Background()
	c := newClient(t, e.addr, clamav.Options{})

	t.Run("ping and version", func(t *testing.T) {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		v, err := c.Version(ctx)
		if err != nil || !strings.HasPrefix(v, "ClamAV 1.") {
			t.Fatalf("Version = %q, %v", v, err)
		}
	})
	t.Run("clean bytes", func(t *testing.T) {
		mustClean(t, c, []byte("a perfectly ordinary document\n"))
	})
	t.Run("empty stream", func(t *testing.T) {
		mustClean(t, c, nil)
	})
	t.Run("EICAR plain", func(t *testing.T) {
		f := mustInfected(t, c, []byte(eicar))
		if !strings.HasPrefix(f.Signature, "Custom.EICAR.") {
			t.Errorf("signature %q, want one of the project's Custom.EICAR.* signatures", f.Signature)
		}
		v, _ := c.Version(ctx)
		if f.Engine != v {
			t.Errorf("Engine %q, want the version %q", f.Engine, v)
		}
	})
	t.Run("EICAR across a chunk boundary", func(t *testing.T) {
		const chunk = 64 << 10
		small := newClient(t, e.addr, clamav.Options{ChunkSize: chunk})
		data := randomBytes(3*mib, 1)
		copy(data[5*chunk-10:], eicarMarker) // split over chunks 5 and 6
		mustInfected(t, small, data)
		data = randomBytes(3*mib, 1)
		mustClean(t, small, data)
	})
	t.Run("stream over StreamMaxLength is not scanned", func(t *testing.T) {
		lim := newClient(t, e.limited, clamav.Options{ChunkSize: 256 << 10})
		mustClean(t, lim, randomBytes(limitBytes/2, 2)) // under the limit it scans
		for _, size := range []int{limitBytes + 256<<10, 8 * mib} {
			f, err := scanBytes(t, lim, randomBytes(size, 3))
			if !errors.Is(err, scan.ErrNotScanned) || domain.Is(err, domain.KindTransient) || f.Infected {
				t.Errorf("%d bytes: %+v, %v; want ErrNotScanned (not transient)", size, f, err)
			}
		}
		// The refusal is permanent for the stream, not for the engine.
		mustInfected(t, lim, []byte(eicar))
	})
}

// Content only a real engine unpacks: archives, compressed PDF streams,
// large files, and the fail-closed limits of the generated clamd.conf.
func TestRealClamd(t *testing.T) {
	clamd := stack.ClamdT(t)
	c := newClient(t, clamd.Addr, clamav.Options{})

	t.Run("version has no database part", func(t *testing.T) {
		// Only the project's signatures are loaded, so there is no "/dbver/date".
		v, err := c.Version(context.Background())
		if err != nil || v != clamd.Version || strings.Contains(v, "/") {
			t.Fatalf("Version = %q, %v; stack saw %q", v, err, clamd.Version)
		}
	})
	t.Run("EICAR inside a ZIP", func(t *testing.T) {
		z := zipWith(t, "docs/readme.txt", append([]byte("hello\n"), eicar...))
		if bytes.Contains(z, []byte(eicarMarker)) {
			t.Fatal("the marker is visible in the archive bytes; the test would not show unpacking")
		}
		f := mustInfected(t, c, z)
		if f.Signature != "Custom.EICAR.NDB.UNOFFICIAL" {
			t.Errorf("signature %q", f.Signature)
		}
	})
	t.Run("EICAR inside a FlateDecode PDF stream", func(t *testing.T) {
		content := append(textContent(32<<10, 1), "BT /F1 12 Tf 72 700 Td ("+eicarMarker+") Tj ET\n"...)
		pdf := pdfWithStreams(t, [][]byte{textContent(16<<10, 2), content})
		if bytes.Contains(pdf, []byte(eicarMarker)) {
			t.Fatal("the marker is visible in the PDF bytes; the test would not show inflating")
		}
		f := mustInfected(t, c, pdf)
		if f.Signature != "Custom.EICAR.NDB.UNOFFICIAL" {
			t.Errorf("signature %q", f.Signature)
		}
	})
	t.Run("clean PDF and ZIP", func(t *testing.T) {
		mustClean(t, c, pdfWithStreams(t, [][]byte{textContent(64<<10, 3)}))
		mustClean(t, c, zipWith(t, "a.txt", textContent(64<<10, 4)))
	})
	t.Run("random 25 MiB is clean", func(t *testing.T) {
		mustClean(t, c, randomBytes(25*mib, 5))
	})
	t.Run("an altered EICAR matches nothing", func(t *testing.T) {
		// One byte of the marker changed: neither the .ndb (content) nor
		// the .hdb (MD5 of the exact file) matches.
		altered := strings.Replace(eicar, "EICAR-STANDARD", "EICAR-STANDARX", 1)
		mustClean(t, c, []byte(altered))
	})
}

// AlertExceedsMax: a stream over MaxFileSize, and a PDF whose inflated
// streams exceed the limits, are reported as found, never as clean, so a
// file clamd did not fully scan is never shown. (clamd 1.4.6 does not flag a
// deflated ZIP member over MaxFileSize: it scans its first MaxFileSize
// bytes and answers OK. ZIPs are not accepted uploads.)
func TestRealClamdFailsClosedOverLimits(t *testing.T) {
	clamd := stack.ClamdT(t, stack.ClamdOptions{MaxFileSize: mib, MaxScanSize: 4 * mib})
	c := newClient(t, clamd.Addr, clamav.Options{})
	line := []byte("BT /F1 12 Tf 72 700 Td (hello) Tj ET\n")
	mustClean(t, c, randomBytes(mib/2, 6))
	mustClean(t, c, pdfWithStreams(t, [][]byte{bytes.Repeat(line, mib/2/len(line))}))
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"stream over MaxFileSize", randomBytes(2*mib, 7)},
		{"PDF stream inflating over the limits", pdfWithStreams(t, [][]byte{bytes.Repeat(line, 8*mib/len(line))})},
	} {
		f, err := scanBytes(t, c, tt.data)
		if err != nil || !f.Infected || !strings.HasPrefix(f.Signature, "Heuristics.Limits.Exceeded.") {
			t.Errorf("%s (%d bytes): %+v, %v; want FOUND Heuristics.Limits.Exceeded.*", tt.name, len(tt.data), f, err)
		}
	}
}

// A closed port: a transient error, never "not scanned".
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, addr, clamav.Options{Timeout: 5 * time.Second})
	f, err := scanBytes(t, c, []byte("x"))
	if err == nil || errors.Is(err, scan.ErrNotScanned) || !domain.Is(err, domain.KindTransient) || f.Infected {
		t.Fatalf("Scan: %+v, %v; want a transient error", f, err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address", err)
	}
	if err := c.Ping(context.Background()); !domain.Is(err, domain.KindTransient) {
		t.Errorf("Ping: %v, want transient", err)
	}
}

// callWithin runs call and fails the test if it does not return within
// guard (the call is expected to end by the client's own Timeout).
func callWithin(t *testing.T, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(guard):
		t.Fatalf("call still running after %v", guard)
		return nil
	}
}

// A server that accepts and never answers: the scan ends with a transient
// timeout error (errors.Is context.DeadlineExceeded), whether the server
// reads the stream or not, and whether it hangs before or after it.
func TestTimeout(t *testing.T) {
	for _, tt := range []struct {
		name     string
		instream func(hang <-chan struct{}) func(c net.Conn, r *bufio.Reader)
		size     int
	}{
		{"reads the stream, never answers", func(hang <-chan struct{}) func(c net.Conn, r *bufio.Reader) {
			return func(c net.Conn, r *bufio.Reader) {
				readInstream(r, 0, nil)
				<-hang
			}
		}, 2 * mib},
		{"never reads the stream", func(hang <-chan struct{}) func(c net.Conn, r *bufio.Reader) {
			return func(c net.Conn, r *bufio.Reader) { <-hang }
		}, 25 * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hang := make(chan struct{})
			fake := newFakeClamd(t, fakeOpts{instream: tt.instream(hang)})
			t.Cleanup(func() { close(hang) }) // before the fake's cleanup, which waits for its handlers
			c := newClient(t, fake.Addr(), clamav.Options{Timeout: 300 * time.Millisecond})
			data := randomBytes(tt.size, 8)
			err := callWithin(t, func() error {
				_, err := scanBytes(t, c, data)
				return err
			})
			if !errors.Is(err, context.DeadlineExceeded) || !domain.Is(err, domain.KindTransient) || errors.Is(err, scan.ErrNotScanned) {
				t.Fatalf("err = %v; want a transient timeout", err)
			}
			if !strings.Contains(err.Error(), "did not answer in time") {
				t.Errorf("message %q", err)
			}
		})
	}
	t.Run("version never answers", func(t *testing.T) {
		hang := make(chan struct{})
		defer close(hang)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { <-hang; c.Close() }()
			}
		}()
		c := newClient(t, ln.Addr().String(), clamav.Options{Timeout: 300 * time.Millisecond})
		err = callWithin(t, func() error {
			_, err := scanBytes(t, c, []byte("x"))
			return err
		})
		if !errors.Is(err, context.DeadlineExceeded) || !domain.Is(err, domain.KindTransient) {
			t.Fatalf("err = %v; want a transient timeout", err)
		}
	})
}

// A cancelled context ends the scan with a transient error wrapping
// context.Canceled: before the call, and while clamd holds the stream.
func TestContextCancelled(t *testing.T) {
	hang := make(chan struct{})
	fake := newFakeClamd(t, fakeOpts{instream: func(c net.Conn, r *bufio.Reader) {
		readInstream(r, 0, nil)
		<-hang
	}})
	t.Cleanup(func() { close(hang) }) // before the fake's cleanup, which waits for its handlers
	c := newClient(t, fake.Addr(), clamav.Options{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Scan(ctx, strings.NewReader("x")); !errors.Is(err, context.Canceled) || !domain.Is(err, domain.KindTransient) {
		t.Fatalf("already cancelled: err = %v", err)
	}

	if _, err := c.Version(context.Background()); err != nil { // cache it: the next call opens one connection
		t.Fatal(err)
	}
	for len(fake.accepted) > 0 {
		<-fake.accepted
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		<-fake.accepted
		cancel()
	}()
	err := callWithin(t, func() error {
		_, err := c.Scan(ctx, bytes.NewReader(randomBytes(mib, 9)))
		return err
	})
	if !errors.Is(err, context.Canceled) || !domain.Is(err, domain.KindTransient) || errors.Is(err, scan.ErrNotScanned) {
		t.Fatalf("cancelled mid-scan: err = %v", err)
	}
	if !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("message %q", err)
	}
}

// What the fake clamd answers to zINSTREAM, byte for byte, and how the
// client classifies it.
func TestReplies(t *testing.T) {
	type want int
	const (
		clean want = iota
		infected
		notScanned
		transient
	)
	afterStream := func(raw string) func(c net.Conn, r *bufio.Reader) {
		return func(c net.Conn, r *bufio.Reader) {
			readInstream(r, 0, nil)
			io.WriteString(c, raw)
		}
	}
	// early answers at once and closes without reading the stream, as clamd
	// does when it refuses a stream.
	early := func(raw string) func(c net.Conn, r *bufio.Reader) {
		return func(c net.Conn, r *bufio.Reader) { io.WriteString(c, raw) }
	}
	for _, tt := range []struct {
		name     string
		instream func(c net.Conn, r *bufio.Reader)
		want     want
		sig      string
	}{
		{"OK", afterStream("stream: OK\x00"), clean, ""},
		{"FOUND", afterStream("stream: Win.Test.EICAR_HDB-1 FOUND\x00"), infected, "Win.Test.EICAR_HDB-1"},
		{"size limit after the stream", afterStream("INSTREAM size limit exceeded. ERROR\x00"), notScanned, ""},
		{"size limit early, connection closed", early("INSTREAM size limit exceeded. ERROR\x00"), notScanned, ""},
		{"FOUND early", early("stream: Early.Sig FOUND\x00"), infected, "Early.Sig"},
		{"OK early is not clean", early("stream: OK\x00"), transient, ""},
		{"other ERROR", afterStream("stream: Can't allocate memory ERROR\x00"), transient, ""},
		{"OK without NUL, then closed", afterStream("stream: OK"), transient, ""},
		{"newline-terminated OK", afterStream("stream: OK\n"), transient, ""},
		{"closed without a reply", afterStream(""), transient, ""},
		{"garbage", afterStream("\x7fELF\x02\x01\x00"), transient, ""},
		{"unknown command", afterStream("UNKNOWN COMMAND\x00"), transient, ""},
		{"endless reply", afterStream(strings.Repeat("stream: ", 1000) + "\x00"), transient, ""},
		{"FOUND without a name", afterStream("stream:  FOUND\x00"), transient, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFakeClamd(t, fakeOpts{instream: tt.instream})
			c := newClient(t, fake.Addr(), clamav.Options{Timeout: 10 * time.Second, ChunkSize: 256 << 10})
			f, err := scanBytes(t, c, randomBytes(25*mib, 10))
			switch tt.want {
			case clean:
				if err != nil || f.Infected || f.Engine != "ClamAV 1.4.6" {
					t.Errorf("%+v, %v; want clean", f, err)
				}
			case infected:
				if err != nil || !f.Infected || f.Signature != tt.sig || f.Engine != "ClamAV 1.4.6" {
					t.Errorf("%+v, %v; want infected with %q", f, err, tt.sig)
				}
			case notScanned:
				if !errors.Is(err, scan.ErrNotScanned) || domain.Is(err, domain.KindTransient) {
					t.Errorf("%+v, %v; want ErrNotScanned", f, err)
				}
			case transient:
				if !domain.Is(err, domain.KindTransient) || errors.Is(err, scan.ErrNotScanned) || f.Infected {
					t.Errorf("%+v, %v; want a transient error", f, err)
				}
			}
		})
	}
}

// The wire format: z-prefixed NUL-terminated commands, chunks of
// ChunkSize with big-endian lengths, a zero-length terminator; the version is
// asked once per Client.
func TestWireFormat(t *testing.T) {
	fake := newFakeClamd(t, fakeOpts{})
	c := newClient(t, fake.Addr(), clamav.Options{ChunkSize: 4096})
	for range 3 {
		mustClean(t, c, randomBytes(10000, 11))
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"zVERSION", "zINSTREAM", "zINSTREAM", "zINSTREAM", "zPING"}
	if got := fake.Commands(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("commands %q, want %q", got, want)
	}
	chunks := fake.Chunks()
	wantChunks := []int{4096, 4096, 1808, 0}
	if len(chunks) != 3*len(wantChunks) {
		t.Fatalf("chunks %v", chunks)
	}
	for i, n := range chunks {
		if n != wantChunks[i%len(wantChunks)] {
			t.Fatalf("chunks %v, want %v three times", chunks, wantChunks)
		}
	}
}

// A malformed VERSION reply fails the scan (transient): the engine is not
// the one the verdict would name.
func TestBadVersion(t *testing.T) {
	fake := newFakeClamd(t, fakeOpts{version: "SomethingElse 2.0"})
	c := newClient(t, fake.Addr(), clamav.Options{})
	if _, err := scanBytes(t, c, []byte("x")); !domain.Is(err, domain.KindTransient) {
		t.Fatalf("err = %v; want transient", err)
	}
	if n := len(fake.Commands()); n != 1 {
		t.Errorf("%d commands, want only zVERSION", n)
	}
}

// A reader that fails: its own error comes back, and nothing is reported
// as scanned.
func TestReaderError(t *testing.T) {
	fake := newFakeClamd(t, fakeOpts{})
	c := newClient(t, fake.Addr(), clamav.Options{ChunkSize: 1024})
	boom := errors.New("blob read failed")
	r := io.MultiReader(bytes.NewReader(make([]byte, 5000)), iotest.ErrReader(boom))
	f, err := c.Scan(context.Background(), r)
	if !errors.Is(err, boom) || f.Infected {
		t.Fatalf("%+v, %v; want the reader's error", f, err)
	}
	if _, err := c.Scan(context.Background(), nil); !domain.Is(err, domain.KindInvalid) {
		t.Errorf("nil reader: %v, want KindInvalid", err)
	}
}
