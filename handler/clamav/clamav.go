// Package clamav is the antivirus adapter: a client of ClamAV's clamd over
// TCP that implements scan.Engine. It speaks the clamd protocol as the clamd
// manual describes it (clamd(8), "COMMANDS", ClamAV 1.4):
//
//   - Commands are sent z-prefixed and NUL-terminated ("zPING\0"); clamd then
//     ends its reply with a NUL byte instead of a newline.
//   - zINSTREAM streams the content in chunks, each "<length><data>" with the
//     length as an unsigned 32-bit integer in network (big-endian) byte order,
//     ended by a zero-length chunk. clamd answers "stream: OK",
//     "stream: <signature> FOUND", or "<message> ERROR"; a stream longer than
//     its StreamMaxLength gets "INSTREAM size limit exceeded. ERROR" and the
//     connection is closed.
//   - zVERSION answers "ClamAV <version>[/<db version>/<db date>]" (without
//     the official databases there is no "/…" part); zPING answers "PONG".
//
// Each call uses its own connection, so a Client is safe for concurrent use.
package clamav

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
)

// Defaults and bounds of Options.
const (
	DefaultTimeout   = 60 * time.Second
	DefaultChunkSize = 1 << 20  // bytes
	MaxChunkSize     = 64 << 20 // bytes; clamd's chunk length is 32-bit, and a chunk is held in memory
	maxReplyLen      = 4096     // bytes of one reply before it counts as malformed
	maxSignatureLen  = 512      // bytes of a signature name
)

// sizeLimitReply is clamd's reply (before " ERROR") when a stream exceeds
// its StreamMaxLength: clamd(8), INSTREAM: "clamd will reply with INSTREAM
// size limit exceeded and close the connection"; the exact text is clamd
// 1.4.6's.
const sizeLimitReply = "INSTREAM size limit exceeded."

// Options configures a Client.
type Options struct {
	// Timeout bounds one whole call (connect, stream, and clamd's answer);
	// 0 = DefaultTimeout. The earlier of it and the context's deadline wins.
	Timeout time.Duration
	// ChunkSize is the size in bytes of each INSTREAM chunk, 1…MaxChunkSize;
	// 0 = DefaultChunkSize. It must be below clamd's StreamMaxLength.
	ChunkSize int
}

// Client talks to one clamd at a TCP address.
type Client struct {
	addr   string
	opts   Options
	dialer net.Dialer

	mu      sync.Mutex
	version string // cached zVERSION reply; "" until fetched
}

var _ scan.Engine = (*Client)(nil)

// New returns a client of the clamd listening at addr ("host:port"). It does
// not connect. A malformed address or option is a KindInvalid error.
func New(addr string, opts Options) (*Client, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, domain.Wrap(domain.KindInvalid, err, "clamd address %q must be host:port", addr)
	}
	if p, err := strconv.Atoi(port); host == "" || err != nil || p < 1 || p > 65535 {
		return nil, domain.E(domain.KindInvalid, "clamd address %q must be host:port with a port 1-65535", addr)
	}
	switch {
	case opts.Timeout < 0:
		return nil, domain.E(domain.KindInvalid, "clamd timeout %v must not be negative", opts.Timeout)
	case opts.Timeout == 0:
		opts.Timeout = DefaultTimeout
	}
	switch {
	case opts.ChunkSize < 0 || opts.ChunkSize > MaxChunkSize:
		return nil, domain.E(domain.KindInvalid, "clamd chunk size %d must be 1-%d bytes", opts.ChunkSize, MaxChunkSize)
	case opts.ChunkSize == 0:
		opts.ChunkSize = DefaultChunkSize
	}
	return &Client{addr: addr, opts: opts}, nil
}

// Addr is the clamd address the client talks to.
func (c *Client) Addr() string { return c.addr }

// Scan streams r to clamd with zINSTREAM and returns its finding, with
// Engine set to the clamd version (see Version). Errors:
//   - wrapping scan.ErrNotScanned when clamd refused the stream for good
//     ("INSTREAM size limit exceeded"): retrying the same bytes cannot help;
//   - KindTransient when clamd could not be reached, failed, answered
//     something malformed, did not answer within Options.Timeout, or ctx
//     ended (wrapping ctx.Err()): the caller retries later;
//   - the error of r itself when reading r fails; KindInvalid when r is nil.
//
// A clean answer that arrives before the whole stream was sent is an error,
// never a clean finding (fail closed).
func (c *Client) Scan(ctx context.Context, r io.Reader) (scan.Finding, error) {
	if r == nil {
		return scan.Finding{}, domain.E(domain.KindInvalid, "antivirus: nothing to scan (nil reader)")
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	engine, err := c.Version(ctx)
	if err != nil {
		return scan.Finding{}, err
	}
	reply, complete, err := c.roundTrip(ctx, "zINSTREAM", r)
	if err != nil {
		return scan.Finding{}, err
	}
	f, err := parseScanReply(reply)
	if err != nil {
		return scan.Finding{}, err
	}
	if !complete && !f.Infected {
		return scan.Finding{}, domain.E(domain.KindTransient, "antivirus: clamd answered %q before the end of the stream", reply)
	}
	f.Engine = engine
	return f, nil
}

// Version returns clamd's zVERSION reply, e.g. "ClamAV 1.4.6" (with the
// official databases "ClamAV 1.4.6/27480/Mon Nov 24 08:00:00 2026"). It is
// fetched once and cached for the life of the Client. Errors are
// KindTransient.
func (c *Client) Version(ctx context.Context) (string, error) {
	c.mu.Lock()
	v := c.version
	c.mu.Unlock()
	if v != "" {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	reply, _, err := c.roundTrip(ctx, "zVERSION", nil)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(reply, "ClamAV ") || !printable(reply) {
		return "", domain.E(domain.KindTransient, "antivirus: malformed clamd VERSION reply %q", reply)
	}
	c.mu.Lock()
	c.version = reply
	c.mu.Unlock()
	return reply, nil
}

// Ping checks that clamd answers zPING with PONG. Errors are KindTransient.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	reply, _, err := c.roundTrip(ctx, "zPING", nil)
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return domain.E(domain.KindTransient, "antivirus: clamd answered PING with %q", reply)
	}
	return nil
}

// longAgo is a deadline in the past: setting it interrupts blocked I/O.
var longAgo = time.Unix(1, 0)

// roundTrip sends cmd on a new connection, then, when body is not nil,
// streams body as INSTREAM chunks and the terminating zero-length chunk, and
// returns clamd's NUL-terminated reply. complete reports whether the whole
// body was sent before the reply arrived (clamd answers early only to refuse
// the stream). ctx bounds the whole exchange.
func (c *Client) roundTrip(ctx context.Context, cmd string, body io.Reader) (reply string, complete bool, err error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return "", false, c.netErr(ctx, "unreachable", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(longAgo) })
	defer stop()

	type result struct {
		reply string
		err   error
	}
	replies := make(chan result, 1)
	go func() {
		r, err := readReply(conn)
		replies <- result{r, err}
	}()
	got := func(res result) (string, error) {
		if res.err != nil {
			return "", c.netErr(ctx, "no answer", res.err)
		}
		return res.reply, nil
	}
	wait := func() (string, error) { return got(<-replies) }

	if _, err := io.WriteString(conn, cmd+"\x00"); err != nil {
		return "", false, c.netErr(ctx, "send failed", err)
	}
	if body == nil {
		r, err := wait()
		return r, true, err
	}
	buf := make([]byte, 4+c.opts.ChunkSize)
	for {
		select {
		case res := <-replies: // clamd answered mid-stream (a refusal) or hung up
			r, err := got(res)
			return r, false, err
		default:
		}
		n, rerr := io.ReadFull(body, buf[4:])
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return "", false, fmt.Errorf("antivirus: reading the stream to scan: %w", rerr)
		}
		binary.BigEndian.PutUint32(buf[:4], uint32(n))
		if _, werr := conn.Write(buf[:4+n]); werr != nil {
			// clamd closes the connection after refusing a stream; its reply
			// is still readable.
			r, err := wait()
			if err != nil {
				return "", false, c.netErr(ctx, "send failed", errors.Join(werr, err))
			}
			return r, false, nil
		}
		if n == 0 { // the zero-length terminator was sent
			r, err := wait()
			return r, true, err
		}
		if rerr != nil { // the last data chunk was sent; send the terminator next
			body = eofReader{}
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// netErr turns a connection failure into a KindTransient error that says
// whether ctx was cancelled, the time ran out, or clamd failed.
func (c *Client) netErr(ctx context.Context, what string, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return domain.Wrap(domain.KindTransient, errors.Join(ctx.Err(), err), "antivirus: scan cancelled")
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return domain.Wrap(domain.KindTransient, errors.Join(context.DeadlineExceeded, err),
			"antivirus: clamd at %s did not answer in time (timeout %v)", c.addr, c.opts.Timeout)
	}
	return domain.Wrap(domain.KindTransient, err, "antivirus: clamd at %s: %s", c.addr, what)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readReply reads one NUL-terminated reply of at most maxReplyLen bytes.
func readReply(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(r, 256)
	var b []byte
	for len(b) <= maxReplyLen {
		ch, err := br.ReadByte()
		if err == io.EOF {
			if len(b) == 0 {
				return "", errors.New("clamd closed the connection without a reply")
			}
			return "", fmt.Errorf("clamd closed the connection in the middle of the reply %q", b)
		}
		if err != nil {
			return "", err
		}
		if ch == 0 {
			return string(b), nil
		}
		b = append(b, ch)
	}
	return "", fmt.Errorf("clamd reply longer than %d bytes", maxReplyLen)
}

// parseScanReply interprets clamd's reply to zINSTREAM (without the NUL):
//   - "stream: OK" → a clean Finding;
//   - "stream: <signature> FOUND" → an infected Finding; the signature is
//     1…512 bytes of printable UTF-8 without spaces;
//   - "INSTREAM size limit exceeded. ERROR" → an error wrapping
//     scan.ErrNotScanned;
//   - any other "… ERROR", and anything else (malformed) → KindTransient.
func parseScanReply(reply string) (scan.Finding, error) {
	const prefix, found = "stream: ", " FOUND"
	switch {
	case reply == prefix+"OK":
		return scan.Finding{}, nil
	case strings.HasSuffix(reply, " ERROR"):
		msg := strings.TrimSuffix(reply, " ERROR")
		if msg == sizeLimitReply {
			return scan.Finding{}, fmt.Errorf("antivirus: clamd refused the stream: %s: %w", msg, scan.ErrNotScanned)
		}
		return scan.Finding{}, domain.E(domain.KindTransient, "antivirus: clamd failed: %q", msg)
	case len(reply) > len(prefix)+len(found) && strings.HasPrefix(reply, prefix) && strings.HasSuffix(reply, found):
		sig := reply[len(prefix) : len(reply)-len(found)]
		if validSignature(sig) {
			return scan.Finding{Infected: true, Signature: sig}, nil
		}
	}
	return scan.Finding{}, domain.E(domain.KindTransient, "antivirus: malformed clamd reply %q", reply)
}

func validSignature(sig string) bool {
	if sig == "" || len(sig) > maxSignatureLen || !printable(sig) {
		return false
	}
	return !strings.ContainsFunc(sig, unicode.IsSpace)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}
