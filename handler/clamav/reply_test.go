package clamav

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
)

func TestParseScanReply(t *testing.T) {
	type want int
	const (
		clean want = iota
		infected
		notScanned
		transient
	)
	for _, tt := range []struct {
		reply string
		want  want
		sig   string
	}{
		{"stream: OK", clean, ""},
		{"stream: Custom.EICAR.NDB.UNOFFICIAL FOUND", infected, "Custom.EICAR.NDB.UNOFFICIAL"},
		{"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", infected, "Heuristics.Limits.Exceeded.MaxFileSize"},
		{"stream: Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68) FOUND", infected, "Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68)"},
		{"INSTREAM size limit exceeded. ERROR", notScanned, ""},
		{"stream: Can't allocate memory ERROR", transient, ""},
		{"INSTREAM: Can't write to temporary file. ERROR", transient, ""},
		{"COMMAND READ TIMED OUT", transient, ""},
		{"UNKNOWN COMMAND", transient, ""},
		{"", transient, ""},
		{"stream: OK\n", transient, ""},
		{"stream:OK", transient, ""},
		{"STREAM: OK", transient, ""},
		{"stream: ok", transient, ""},
		{" stream: OK", transient, ""},
		{"stream: FOUND", transient, ""},
		{"stream:  FOUND", transient, ""},
		{"stream: Two Words FOUND", transient, ""},
		{"stream: Bad\x01Name FOUND", transient, ""},
		{"stream: \xff\xfe FOUND", transient, ""},
		{"stream: " + strings.Repeat("A", maxSignatureLen+1) + " FOUND", transient, ""},
		{"stream: " + strings.Repeat("A", maxSignatureLen) + " FOUND", infected, strings.Repeat("A", maxSignatureLen)},
		{"stream: Eicar FOUND trailing", transient, ""},
		{"INSTREAM size limit exceeded ERROR", transient, ""},
		{"PONG", transient, ""},
	} {
		f, err := parseScanReply(tt.reply)
		switch tt.want {
		case clean:
			if err != nil || f.Infected || f.Signature != "" {
				t.Errorf("%q: got %+v, %v; want clean", tt.reply, f, err)
			}
		case infected:
			if err != nil || !f.Infected || f.Signature != tt.sig {
				t.Errorf("%q: got %+v, %v; want infected with %q", tt.reply, f, err, tt.sig)
			}
		case notScanned:
			if !errors.Is(err, scan.ErrNotScanned) || domain.Is(err, domain.KindTransient) {
				t.Errorf("%q: err = %v; want ErrNotScanned (not transient)", tt.reply, err)
			}
		case transient:
			if !domain.Is(err, domain.KindTransient) || errors.Is(err, scan.ErrNotScanned) || f.Infected {
				t.Errorf("%q: got %+v, %v; want a transient error", tt.reply, f, err)
			}
		}
	}
}

func TestReadReply(t *testing.T) {
	for _, tt := range []struct {
		name, raw, want, errHas string
	}{
		{"terminated", "stream: OK\x00", "stream: OK", ""},
		{"only the first reply", "PONG\x00PONG\x00", "PONG", ""},
		{"empty reply", "\x00", "", ""},
		{"closed without reply", "", "", "without a reply"},
		{"closed mid-reply", "stream: O", "", "in the middle of the reply"},
		{"longest", strings.Repeat("x", maxReplyLen) + "\x00", strings.Repeat("x", maxReplyLen), ""},
		{"too long", strings.Repeat("x", maxReplyLen+1) + "\x00", "", "longer than"},
	} {
		got, err := readReply(strings.NewReader(tt.raw))
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%s: got %q, %v; want an error with %q", tt.name, got, err, tt.errHas)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		addr string
		opts Options
		ok   bool
	}{
		{"127.0.0.1:3310", Options{}, true},
		{"clamav.internal:3310", Options{Timeout: time.Second, ChunkSize: 4096}, true},
		{"[::1]:3310", Options{ChunkSize: MaxChunkSize}, true},
		{"127.0.0.1", Options{}, false},
		{":3310", Options{}, false},
		{"127.0.0.1:0", Options{}, false},
		{"127.0.0.1:65536", Options{}, false},
		{"127.0.0.1:clamd", Options{}, false},
		{"", Options{}, false},
		{"127.0.0.1:3310", Options{Timeout: -time.Second}, false},
		{"127.0.0.1:3310", Options{ChunkSize: -1}, false},
		{"127.0.0.1:3310", Options{ChunkSize: MaxChunkSize + 1}, false},
	} {
		c, err := New(tt.addr, tt.opts)
		if tt.ok {
			if err != nil {
				t.Errorf("New(%q, %+v): %v", tt.addr, tt.opts, err)
			}
			continue
		}
		if !domain.Is(err, domain.KindInvalid) || c != nil {
			t.Errorf("New(%q, %+v) = %v, %v; want a KindInvalid error", tt.addr, tt.opts, c, err)
		}
	}
	c, err := New("127.0.0.1:3310", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.opts.Timeout != DefaultTimeout || c.opts.ChunkSize != DefaultChunkSize || c.Addr() != "127.0.0.1:3310" {
		t.Errorf("defaults: %+v addr %q", c.opts, c.Addr())
	}
}

// FuzzParseScanReply: any reply is classified exactly one way, and only the
// exact clean reply is ever clean.
func FuzzParseScanReply(f *testing.F) {
	for _, s := range []string{
		"stream: OK", "stream: Custom.EICAR.NDB.UNOFFICIAL FOUND", "INSTREAM size limit exceeded. ERROR",
		"stream: Can't allocate memory ERROR", "stream: FOUND", "stream: OK FOUND", "stream: a b FOUND", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		fd, err := parseScanReply(reply)
		switch {
		case err == nil && !fd.Infected:
			if reply != "stream: OK" || fd.Signature != "" {
				t.Fatalf("%q parsed as clean (%+v)", reply, fd)
			}
		case err == nil:
			if reply != "stream: "+fd.Signature+" FOUND" || !validSignature(fd.Signature) {
				t.Fatalf("%q parsed as infected with %q", reply, fd.Signature)
			}
		case errors.Is(err, scan.ErrNotScanned):
			if reply != sizeLimitReply+" ERROR" || domain.Is(err, domain.KindTransient) {
				t.Fatalf("%q parsed as not scanned: %v", reply, err)
			}
		default:
			if !domain.Is(err, domain.KindTransient) || fd != (scan.Finding{}) {
				t.Fatalf("%q: %+v, %v; want a transient error and no finding", reply, fd, err)
			}
		}
	})
}

// FuzzReadReply: a reply is what precedes the first NUL, never longer than
// maxReplyLen; anything else is an error.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"stream: OK\x00", "PONG\x00junk", "", "no terminator", "\x00\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := readReply(bytes.NewReader(raw))
		i := bytes.IndexByte(raw, 0)
		if err != nil {
			if i >= 0 && i <= maxReplyLen {
				t.Fatalf("%q: %v; want %q", raw, err, raw[:i])
			}
			return
		}
		if i < 0 || got != string(raw[:i]) || len(got) > maxReplyLen {
			t.Fatalf("%q: got %q", raw, got)
		}
	})
}
