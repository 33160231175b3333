package clamav_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
)

// eicar is the 68-byte EICAR anti-virus test file
// (https://www.eicar.org/download-anti-malware-testfile/).
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// eicarMarker is what the project's .ndb signature matches.
const eicarMarker = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"

// fakeClamd is a clamd stand-in over TCP for the client's wire behaviour. By
// default it answers zPING, zVERSION and zINSTREAM as clamd does, reporting
// plain content containing eicarMarker as Custom.EICAR.NDB.UNOFFICIAL; it
// does not unpack archives or PDF streams. Hooks change what it does.
type fakeClamd struct {
	ln net.Listener
	fakeOpts

	mu       sync.Mutex
	commands []string
	chunks   []int // lengths of the INSTREAM chunks received, terminator included
	conns    sync.WaitGroup
	accepted chan struct{} // receives once per accepted connection (never blocks)
}

type fakeOpts struct {
	maxStream int    // bytes; a longer stream gets clamd's size-limit reply (0: no limit)
	version   string // zVERSION reply; "" = "ClamAV 1.4.6"
	// instream, when set, handles a zINSTREAM connection after the command
	// was read, instead of the default.
	instream func(c net.Conn, r *bufio.Reader)
}

func newFakeClamd(t testing.TB, o fakeOpts) *fakeClamd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.version == "" {
		o.version = "ClamAV 1.4.6"
	}
	f := &fakeClamd{ln: ln, fakeOpts: o, accepted: make(chan struct{}, 64)}
	f.conns.Add(1) // serve holds a count, so its Adds never race with Wait
	go func() {
		defer f.conns.Done()
		f.serve()
	}()
	t.Cleanup(func() {
		ln.Close()
		f.conns.Wait()
	})
	return f
}

func (f *fakeClamd) Addr() string { return f.ln.Addr().String() }

func (f *fakeClamd) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

func (f *fakeClamd) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		select {
		case f.accepted <- struct{}{}:
		default:
		}
		f.conns.Add(1)
		go func() {
			defer f.conns.Done()
			defer c.Close()
			f.handle(c)
		}()
	}
}

func (f *fakeClamd) handle(c net.Conn) {
	r := bufio.NewReader(c)
	cmd, err := r.ReadString(0)
	if err != nil {
		return
	}
	cmd = strings.TrimSuffix(cmd, "\x00")
	f.mu.Lock()
	f.commands = append(f.commands, cmd)
	f.mu.Unlock()
	switch cmd {
	case "zPING":
		io.WriteString(c, "PONG\x00")
	case "zVERSION":
		io.WriteString(c, f.version+"\x00")
	case "zINSTREAM":
		if f.instream != nil {
			f.instream(c, r)
			return
		}
		data, ok := readInstream(r, f.maxStream, func(n int) {
			f.mu.Lock()
			f.chunks = append(f.chunks, n)
			f.mu.Unlock()
		})
		switch {
		case !ok:
			io.WriteString(c, "INSTREAM size limit exceeded. ERROR\x00")
		case bytes.Contains(data, []byte(eicarMarker)):
			io.WriteString(c, "stream: Custom.EICAR.NDB.UNOFFICIAL FOUND\x00")
		default:
			io.WriteString(c, "stream: OK\x00")
		}
	default:
		io.WriteString(c, "UNKNOWN COMMAND\x00")
	}
}

// Chunks returns the lengths of the INSTREAM chunks received so far.
func (f *fakeClamd) Chunks() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.chunks...)
}

// readInstream reads INSTREAM chunks up to the zero-length one, calling
// chunk (if not nil) with each length. It returns ok=false as soon as more
// than max bytes arrived (max 0: no limit).
func readInstream(r io.Reader, max int, chunk func(n int)) (data []byte, ok bool) {
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return data, false
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if chunk != nil {
			chunk(n)
		}
		if n == 0 {
			return data, true
		}
		if max > 0 && len(data)+n > max {
			return data, false
		}
		start := len(data)
		data = append(data, make([]byte, n)...)
		if _, err := io.ReadFull(r, data[start:]); err != nil {
			return data, false
		}
	}
}

// randomBytes returns n pseudo-random bytes (deterministic for a seed).
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// zipWith returns a ZIP archive (deflated) holding one file.
func zipWith(t testing.TB, name string, content []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pdfWithStreams returns a one-page PDF (ISO 32000-1 §7.5: header, objects,
// cross-reference table, trailer) whose page content is the given streams,
// each compressed with FlateDecode (zlib, §7.4.4).
func pdfWithStreams(t testing.TB, streams [][]byte) []byte {
	t.Helper()
	flated := make([][]byte, len(streams))
	for i, s := range streams {
		flated[i] = deflate(t, s)
	}
	return pdfWithFlated(flated)
}

// deflate compresses s with zlib, as FlateDecode expects.
func deflate(t testing.TB, s []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(s)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// pdfWithFlated is pdfWithStreams for streams already compressed.
func pdfWithFlated(streams [][]byte) []byte {
	var out bytes.Buffer
	var offsets []int
	obj := func(body string, stream []byte) {
		offsets = append(offsets, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n%s", len(offsets), body)
		if stream != nil {
			out.WriteString("\nstream\n")
			out.Write(stream)
			out.WriteString("\nendstream")
		}
		out.WriteString("\nendobj\n")
	}
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	refs := make([]string, len(streams))
	for i := range streams {
		refs[i] = fmt.Sprintf("%d 0 R", 4+i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", nil)
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ["+strings.Join(refs, " ")+"] >>", nil)
	for _, z := range streams {
		obj(fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>", len(z)), z)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return out.Bytes()
}

// textContent returns n bytes of page-content operators showing words
// drawn from a small vocabulary (compresses about 3:1, like real text).
func textContent(n int, seed uint64) []byte {
	words := strings.Fields("the profile change request approver document passport address evidence scan clean " +
		"signature review owner field value phone email pending approved rejected quarantine")
	rng := rand.New(rand.NewPCG(seed, 7))
	var b bytes.Buffer
	for b.Len() < n {
		fmt.Fprintf(&b, "BT /F1 %d Tf %d %d Td (", 8+rng.IntN(8), rng.IntN(600), rng.IntN(800))
		for range 4 + rng.IntN(8) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		b.WriteString(") Tj ET\n")
	}
	return b.Bytes()[:n]
}
