package clamav_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/handler/clamav"
)

// BenchmarkINSTREAM measures clamd's INSTREAM speed (MB/s through
// b.SetBytes) on 25 MiB of random bytes and on a 25 MiB PDF made of many
// FlateDecode streams (about 4× its size once inflated), with clamd's
// clean-result cache off so every iteration is really scanned. The
// baseline, measured in the same run, is a sink that reads the same chunks
// and answers OK without scanning: it is the cost of the client and the
// loopback connection alone. It logs each case's ratio to the baseline.
//
//	go test ./handler/clamav -run '^$' -bench INSTREAM -benchtime 5x
func BenchmarkINSTREAM(b *testing.B) {
	clamd := stack.ClamdT(b, stack.ClamdOptions{DisableCache: true})
	sink := newFakeClamd(b, fakeOpts{instream: func(c net.Conn, r *bufio.Reader) {
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hdr[:])
			if n == 0 {
				io.WriteString(c, "stream: OK\x00")
				return
			}
			if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
				return
			}
		}
	}})
	random := randomBytes(25*mib, 42)
	pdf := benchPDF(b, 25*mib)
	b.Logf("PDF: %d bytes in %d FlateDecode streams", len(pdf), bytes.Count(pdf, []byte("/FlateDecode")))

	perOp := map[string]time.Duration{}
	for _, tt := range []struct {
		name, addr string
		data       []byte
	}{
		{"baseline-sink/random", sink.Addr(), random},
		{"clamd/random", clamd.Addr, random},
		{"clamd/pdf", clamd.Addr, pdf},
	} {
		b.Run(tt.name, func(b *testing.B) {
			c := newClient(b, tt.addr, clamav.Options{})
			if _, err := c.Version(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tt.data)))
			n := 0
			start := time.Now()
			for b.Loop() {
				f, err := c.Scan(context.Background(), bytes.NewReader(tt.data))
				if err != nil || f.Infected {
					b.Fatalf("%+v, %v", f, err)
				}
				n++
			}
			perOp[tt.name] = time.Since(start) / time.Duration(n)
		})
	}
	base := perOp["baseline-sink/random"]
	for _, name := range []string{"clamd/random", "clamd/pdf"} {
		if d := perOp[name]; d > 0 && base > 0 {
			b.Logf("%s: %.1f MB/s, %.1f× the baseline's time per 25 MiB (baseline %.0f MB/s)",
				name, mbps(25*mib, d), float64(d)/float64(base), mbps(25*mib, base))
		}
	}
}

func mbps(n int, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// benchPDF returns a PDF of at least size bytes made of FlateDecode content
// streams of 256 KiB of page text each.
func benchPDF(b *testing.B, size int) []byte {
	var flated [][]byte
	total := 0
	for seed := uint64(1); total < size; seed++ {
		z := deflate(b, textContent(256<<10, seed))
		flated = append(flated, z)
		total += len(z) + 64
	}
	return pdfWithFlated(flated)
}
