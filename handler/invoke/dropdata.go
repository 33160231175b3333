package invoke

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// maxKeyBytes is the longest raw member name (quotes and escapes
// included) that can still name Data: four characters written as \uXXXX
// escapes are 26 bytes.
const maxKeyBytes = 64

// readDroppingData reads the JSON text of an invocation from r, at most
// max bytes, and returns it with every string inside the value of a
// top-level member named Data replaced by "" — named as encoding/json
// matches the Request field, ignoring case (bytes.EqualFold). Each string
// replaced is first checked as encoding/json checks strings (no control
// characters, only valid escapes); all other bytes are kept as read. The
// result is therefore valid JSON exactly when the input is, with the same
// values outside Data, and it holds none of Data's strings: a 25 MiB blob
// invocation (≈ 34 MiB of base64 in one string) is read in 64 KiB pieces
// and never held. Errors wrap ErrBadRequest: the body is longer than max,
// cannot be read, or a string inside Data is malformed or unterminated.
func readDroppingData(r io.Reader, max int64) ([]byte, error) {
	f := dataFilter{r: bufio.NewReaderSize(io.LimitReader(r, max+1), 64<<10), max: max}
	if err := f.run(); err != nil {
		return nil, err
	}
	return f.out.Bytes(), nil
}

// dataFilter is the state of readDroppingData.
type dataFilter struct {
	r     *bufio.Reader
	max   int64
	read  int64 // bytes consumed from r
	out   bytes.Buffer
	depth int  // open arrays and objects outside strings
	key   bool // at depth 1, the next string is a member name
	data  bool // in the value of a top-level member named Data
}

func (f *dataFilter) run() error {
	for {
		c, err := f.r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return bad("reading body: %v", err)
		}
		if f.read++; f.read > f.max {
			return bad("body larger than %d bytes", f.max)
		}
		switch c {
		case '"':
			switch {
			case f.key && f.depth == 1:
				f.key = false
				name, err := f.copyString()
				if err != nil {
					return err
				}
				var s string
				f.data = name != nil && json.Unmarshal(name, &s) == nil && bytes.EqualFold([]byte(s), []byte("Data"))
				continue
			case f.data && f.depth >= 1:
				if err := f.skipString(); err != nil {
					return err
				}
				f.out.WriteString(`""`)
				continue
			default:
				if _, err := f.copyString(); err != nil {
					return err
				}
				continue
			}
		case '{':
			f.depth++
			if f.depth == 1 {
				f.key, f.data = true, false
			}
		case '[':
			f.depth++
		case '}', ']':
			f.depth--
			if f.depth <= 0 {
				f.key, f.data = false, false
			}
		case ',':
			if f.depth == 1 {
				f.key, f.data = true, false
			}
		}
		f.out.WriteByte(c)
	}
}

// copyString copies a string whose opening quote was just read to out,
// quotes included. It returns the raw string when it is at most
// maxKeyBytes long (nil otherwise). Malformed content is left for
// encoding/json to refuse; only the end of the input is an error here.
func (f *dataFilter) copyString() ([]byte, error) {
	start := f.out.Len()
	f.out.WriteByte('"')
	err := f.scanString(func(chunk []byte) { f.out.Write(chunk) })
	if err != nil {
		return nil, err
	}
	if f.out.Len()-start > maxKeyBytes {
		return nil, nil
	}
	return f.out.Bytes()[start:], nil
}

// skipString consumes a string whose opening quote was just read,
// checking its content as encoding/json does.
func (f *dataFilter) skipString() error {
	return f.scanString(nil)
}

// scanString consumes the rest of a string, through its closing quote,
// handing each consumed piece to keep when it is not nil. It checks the
// content as encoding/json's scanner does (RFC 8259 §7): no byte below
// 0x20, and after a backslash one of "\/bfnrt or u and four hex digits.
func (f *dataFilter) scanString(keep func([]byte)) error {
	escape := 0 // 0: plain; 1: after '\'; 2…5: hex digits of \u still due
	for {
		if _, err := f.r.Peek(1); err != nil {
			if err == io.EOF {
				return bad("invalid JSON: unterminated string")
			}
			return bad("reading body: %v", err)
		}
		buf, _ := f.r.Peek(f.r.Buffered())
		n, done := 0, false
		for n < len(buf) && !done {
			c := buf[n]
			n++
			switch {
			case escape == 1:
				switch c {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					escape = 0
				case 'u':
					escape = 2
				default:
					return bad("invalid JSON: invalid escape in string")
				}
			case escape >= 2:
				if !isHex(c) {
					return bad("invalid JSON: invalid \\u escape in string")
				}
				if escape++; escape == 6 {
					escape = 0
				}
			case c == '\\':
				escape = 1
			case c == '"':
				done = true
			case c < 0x20:
				return bad("invalid JSON: control character in string")
			}
		}
		if f.read += int64(n); f.read > f.max {
			return bad("body larger than %d bytes", f.max)
		}
		if keep != nil {
			keep(buf[:n])
		}
		if _, err := f.r.Discard(n); err != nil {
			return bad("reading body: %v", err)
		}
		if done {
			return nil
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
