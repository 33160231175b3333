package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// objStmPDF is onePage(catalogExtra, "") whose further objects (numbered
// from 6) are stored compressed in one object stream, with an xref stream:
// their bytes never appear in the file in clear.
func objStmPDF(t testing.TB, catalogExtra string, compressed ...string) []byte {
	t.Helper()
	d := onePage(catalogExtra, "")
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(d.objs))
	for i, body := range d.objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	first := len(d.objs) + 1
	var head, objs bytes.Buffer
	for i, o := range compressed {
		fmt.Fprintf(&head, "%d %d ", first+i, objs.Len())
		objs.WriteString(o + "\n" + strings.Repeat(" ", 200)) // compressible: deflate then stores no raw literals
	}
	stmNr := first + len(compressed)
	stmOff := b.Len()
	data := deflate(t, append(head.Bytes(), objs.Bytes()...))
	fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", stmNr, pdfStream(fmt.Sprintf("/Type /ObjStm /N %d /First %d /Filter /FlateDecode ", len(compressed), head.Len()), data))
	xrefNr := stmNr + 1
	xrefOff := b.Len()
	var rows bytes.Buffer
	row := func(typ byte, f2 uint32, f3 uint16) {
		rows.WriteByte(typ)
		binary.Write(&rows, binary.BigEndian, f2)
		binary.Write(&rows, binary.BigEndian, f3)
	}
	row(0, 0, 65535)
	for _, o := range offs {
		row(1, uint32(o), 0)
	}
	for i := range compressed {
		row(2, uint32(stmNr), uint16(i))
	}
	row(1, uint32(stmOff), 0)
	row(1, uint32(xrefOff), 0)
	fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefNr,
		pdfStream(fmt.Sprintf("/Type /XRef /Size %d /W [1 4 2] /Root 1 0 R ", xrefNr+1), rows.Bytes()), xrefOff)
	return b.Bytes()
}

func TestCheckPDF(t *testing.T) {
	hiddenJS := objStmPDF(t, "/OpenAction 6 0 R ", "<< /S /JavaScript /JS (app.alert\\(1\\)) >>")
	if bytes.Contains(hiddenJS, []byte("JavaScript")) {
		t.Fatal("fixture: the JavaScript action should be compressed")
	}
	truncated := cleanPDF()
	truncated = truncated[:len(truncated)/2]
	brokenObj := onePage("", "").bytes()
	brokenObj = bytes.Replace(brokenObj, []byte("5 0 obj\n<<"), []byte("5 0 obj\n<]>"), 1)

	tests := []struct {
		name string
		pdf  []byte
		want string // substring of the reason; "" = accepted
	}{
		{"clean one page", cleanPDF(), ""},
		{"clean, rewritten by pdfcpu (object and xref streams)", rewritePDF(t, cleanPDF()), ""},
		{"clean, objects in an object stream", objStmPDF(t, "/PageMode 6 0 R ", "/UseNone"), ""},
		{"EICAR inside a FlateDecode stream is structurally clean", eicarPDF(t), ""},
		{"a URI link is not active content", onePage("/OpenAction << /S /URI /URI (https://example.org/) >> ", "").bytes(), ""},

		{"OpenAction JavaScript", pdfWithJSOpenAction(), "JavaScript (at /Root/OpenAction/JS)"},
		{"OpenAction JavaScript, indirect", func() []byte {
			d := onePage("/OpenAction 6 0 R ", "")
			d.add("<< /Type /Action /S /JavaScript /JS 7 0 R >>")
			d.add(pdfStream("", []byte("app.launchURL('x')")))
			return d.bytes()
		}(), "JavaScript (at /Root/OpenAction/JS)"},
		{"JavaScript action without /JS key", onePage("/OpenAction << /S /JavaScript >> ", "").bytes(), "JavaScript (at /Root/OpenAction/S)"},
		{"page additional action", onePage("", "/AA << /O << /S /JavaScript /JS (x) >> >> ").bytes(), "JavaScript (at /Root/Pages/Kids[0]/AA/O/JS)"},
		{"document-level JavaScript name tree", onePage("/Names << /JavaScript << /Names [(init) << /S /JavaScript /JS (x) >>] >> >> ", "").bytes(), "JavaScript (at /Root/Names/JavaScript)"},
		{"hex-escaped names", onePage("/OpenAction << /S /J#61vaScript /J#53 (x) >> ", "").bytes(), "JavaScript (at /Root/OpenAction/JS)"},
		{"JavaScript hidden in a compressed object stream", hiddenJS, "JavaScript (at /Root/OpenAction/JS)"},
		{"Launch named through an indirect name in an object stream", objStmPDF(t, "/OpenAction << /S 6 0 R /F (calc.exe) >> ", "/Launch"), "a Launch action (at /Root/OpenAction/S)"},
		{"JavaScript in an unreferenced object", func() []byte {
			d := onePage("", "")
			d.add("<< /S /JavaScript /JS (x) >>")
			return d.bytes()
		}(), "JavaScript (at object 6/JS)"},
		{"OpenAction Launch", pdfWithLaunch(), "a Launch action (at /Root/OpenAction/S)"},
		{"Launch in a link annotation", func() []byte {
			d := onePage("", "/Annots [6 0 R] ")
			d.add("<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /Launch /Win << /F (calc.exe) >> >> >>")
			return d.bytes()
		}(), "a Launch action (at /Root/Pages/Kids[0]/Annots[0]/A/S)"},
		{"EmbeddedFiles name tree", pdfWithEmbeddedFiles(), "embedded files (at /Root/Names/EmbeddedFiles)"},
		{"file attachment annotation", func() []byte {
			d := onePage("", "/Annots [6 0 R] ")
			d.add("<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 10 10] /FS (note.txt) >>")
			return d.bytes()
		}(), "a file attachment annotation (at /Root/Pages/Kids[0]/Annots[0]/Subtype)"},
		{"file specification with an embedded file", func() []byte {
			d := onePage("/AF [6 0 R] ", "")
			d.add("<< /Type /Filespec /F (data.xml) /EF << /F 7 0 R >> >>")
			d.add(pdfStream("", []byte("<data/>")))
			return d.bytes()
		}(), "an embedded file (at /Root/AF[0]/EF)"},
		{"embedded file stream alone", func() []byte {
			d := onePage("", "")
			d.add(pdfStream("/Type /EmbeddedFile ", []byte("payload")))
			return d.bytes()
		}(), "an embedded file (at object 6/Type)"},
		{"encrypted, user password", encryptedPDF(t, "user-secret"), "encrypted or password-protected"},
		{"encrypted, empty user password", encryptedPDF(t, ""), "encrypted or password-protected"},
		{"direct Encrypt dictionary in the trailer", func() []byte {
			d := onePage("", "")
			d.trailerExtra = "/Encrypt << /Filter /Standard /V 1 /R 2 /O <00> /U <00> /P -4 >> "
			return d.bytes()
		}(), "encrypted or password-protected"},
		{"not a PDF after the header", []byte("%PDF-1.7\nthis is not a pdf at all\n"), "cannot be parsed"},
		{"truncated", truncated, "cannot be parsed"},
		{"an object that cannot be parsed", brokenObj, "cannot be parsed (object 5)"},
		{"too many trailers", bytes.Repeat([]byte("trailer\n"), pdfMaxTrailers+1), "cannot be parsed"},
		{"more objects than accepted", manyObjects(pdfMaxObjects + 10), "at most 50000 are accepted"},
		{"many cross-reference entries at one offset", sameOffset(200), "too complex to check (too many objects to inspect: objects read 17 times from byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := checkPDF(context.Background(), `"f.pdf"`, tt.pdf, pdfLimits{maxBytes: 25 << 20, timeout: time.Minute})
			if err != nil {
				t.Fatalf("error %v; want a decision", err)
			}
			switch {
			case tt.want == "" && d != nil:
				t.Fatalf("rejected: %s", d.reason)
			case tt.want != "" && d == nil:
				t.Fatalf("accepted; want a rejection containing %q", tt.want)
			case d != nil && (d.verdict != Rejected || !strings.Contains(d.reason, tt.want) || !strings.HasPrefix(d.reason, `"f.pdf": PDF`)):
				t.Fatalf("got %s %q; want rejected, naming the file, containing %q", d.verdict, d.reason, tt.want)
			}
		})
	}
}

func TestCheckPDFBoundsTime(t *testing.T) {
	d, err := checkPDF(context.Background(), `"f.pdf"`, cleanPDF(), pdfLimits{maxBytes: 25 << 20, timeout: time.Nanosecond})
	if err != nil || d == nil || !strings.Contains(d.reason, "too complex to check within 1ns") {
		t.Fatalf("got %+v, %v; want rejected as too complex", d, err)
	}
}

func TestCheckPDFCallerGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := checkPDF(ctx, `"f.pdf"`, cleanPDF(), pdfLimits{maxBytes: 25 << 20, timeout: time.Minute})
	if d != nil || !domain.Is(err, domain.KindTransient) {
		t.Fatalf("got %+v, %v; want a transient error", d, err)
	}
}

func TestCheckPDFBoundsStreamSize(t *testing.T) {
	d := onePage("", "")
	d.objs[3] = pdfStream("", bytes.Repeat([]byte("0 0 m\n"), 2000))
	got, err := checkPDF(context.Background(), `"f.pdf"`, d.bytes(), pdfLimits{maxBytes: 1000, timeout: time.Minute})
	if err != nil || got == nil || !strings.Contains(got.reason, "cannot be parsed") {
		t.Fatalf("got %+v, %v; want a stream over the limit refused", got, err)
	}
}

func TestBudgetReader(t *testing.T) {
	tests := []struct {
		name string
		size int
		run  func(b *budgetReader) error
		want string // "" = within the budget
	}{
		{"the content read twice", 64 << 10, func(b *budgetReader) error {
			for i := 0; i < 2; i++ {
				if _, err := b.Seek(0, io.SeekStart); err != nil {
					return err
				}
				if _, err := io.ReadAll(b); err != nil {
					return err
				}
			}
			return nil
		}, ""},
		{"4 KiB after each of many seeks", 1 << 20, func(b *budgetReader) error {
			buf := make([]byte, 4<<10)
			for i := 0; i < pdfMaxObjects; i++ {
				if _, err := b.Seek(int64(i*16), io.SeekStart); err != nil {
					return err
				}
				if _, err := io.ReadFull(b, buf); err != nil {
					return err
				}
			}
			return nil
		}, ""},
		{"more seeks than objects", 1 << 20, func(b *budgetReader) error {
			var err error
			for i := 0; i <= pdfMaxReads && err == nil; i++ {
				_, err = b.Seek(int64(i*16), io.SeekStart)
			}
			return err
		}, "more than 50000 objects"},
		{"one offset sought 17 times", 1000, func(b *budgetReader) error {
			var err error
			for i := 0; i <= pdfMaxRereads && err == nil; i++ {
				_, err = b.Seek(500, io.SeekStart)
			}
			return err
		}, "objects read 17 times from byte 500"},
		{"the content read over and over", 64 << 10, func(b *budgetReader) error {
			for i := 0; ; i++ {
				if _, err := b.Seek(int64(i%8), io.SeekStart); err != nil {
					return err
				}
				if _, err := io.ReadAll(b); err != nil {
					return err
				}
			}
		}, "bytes read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(newBudgetReader(make([]byte, tt.size)))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v; want none", err)
			case tt.want != "" && (!errors.Is(err, errTooComplex) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v; want errTooComplex with %q", err, tt.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"corrupt dict\x00\x1b[31m", 40, "corrupt dict??[31m"},
		{"bad \xff byte", 40, "bad ? byte"},
		{"bidi \u202e gpj.exe", 40, "bidi ? gpj.exe"},
		{"ééééé", 3, "é…"},
	}
	for _, tt := range tests {
		if got := shorten(tt.in, tt.n); got != tt.want {
			t.Errorf("shorten(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
