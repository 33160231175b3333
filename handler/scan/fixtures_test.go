package scan

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// eicar is the EICAR anti-virus test string.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// pdfDoc builds a PDF by hand: objects numbered from 1 in order, a classic
// cross-reference table with exact offsets, and a trailer naming object 1
// as the catalog plus trailerExtra.
type pdfDoc struct {
	objs         []string
	trailerExtra string
}

// add appends an object body and returns its number.
func (d *pdfDoc) add(body string) int {
	d.objs = append(d.objs, body)
	return len(d.objs)
}

func (d *pdfDoc) bytes() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(d.objs))
	for i, body := range d.objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, body)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(d.objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(d.objs)+1, d.trailerExtra, xref)
	return b.Bytes()
}

// pdfStream renders a stream object with dict entries extra and data.
func pdfStream(extra string, data []byte) string {
	return fmt.Sprintf("<< /Length %d %s>>\nstream\n%s\nendstream", len(data), extra, data)
}

func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// onePage returns a clean one-page document: catalog (1) with
// catalogExtra, pages (2), page (3) with pageExtra, content stream (4),
// font (5). More objects can be added.
func onePage(catalogExtra, pageExtra string) *pdfDoc {
	d := &pdfDoc{}
	d.add("<< /Type /Catalog /Pages 2 0 R " + catalogExtra + ">>")
	d.add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	d.add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> " + pageExtra + ">>")
	d.add(pdfStream("", []byte("BT /F1 24 Tf 72 720 Td (Passport scan) Tj ET")))
	d.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	return d
}

func cleanPDF() []byte { return onePage("", "").bytes() }

// eicarPDF is a structurally clean PDF whose content stream holds the EICAR
// string compressed with FlateDecode (padded so that deflate codes it
// rather than storing it): the string does not appear in the file's bytes.
func eicarPDF(t testing.TB) []byte {
	d := onePage("", "")
	d.objs[3] = pdfStream("/Filter /FlateDecode ", deflate(t, []byte("BT /F1 12 Tf 72 720 Td (Passport scan) Tj ET\n% "+eicar+"\n"+strings.Repeat("q Q\n", 100))))
	return d.bytes()
}

// pdfWithJSOpenAction runs JavaScript when opened.
func pdfWithJSOpenAction() []byte {
	return onePage("/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> ", "").bytes()
}

func pdfWithLaunch() []byte {
	d := onePage("/OpenAction 6 0 R ", "")
	d.add("<< /Type /Action /S /Launch /F (cmd.exe) >>")
	return d.bytes()
}

func pdfWithEmbeddedFiles() []byte {
	d := onePage("/Names << /EmbeddedFiles << /Names [(invoice.exe) 6 0 R] >> >> ", "")
	d.add("<< /Type /Filespec /F (invoice.exe) /EF << /F 7 0 R >> >>")
	d.add(pdfStream("/Type /EmbeddedFile ", []byte("MZ not really a program")))
	return d.bytes()
}

// pdfConf is a pdfcpu configuration for writing test documents, built
// here so that pdfcpu's per-user configuration directory is not touched.
func pdfConf() *model.Configuration {
	return &model.Configuration{
		Reader15:          true,
		ValidationMode:    model.ValidationRelaxed,
		Offline:           true,
		Eol:               types.EolLF,
		WriteObjectStream: true,
		WriteXRefStream:   true,
		EncryptUsingAES:   true,
		EncryptKeyLength:  256,
		Permissions:       model.PermissionsPrint,
		Limits:            model.DefaultResourceLimits(),
	}
}

// encryptedPDF encrypts cleanPDF with pdfcpu (AES-256); userPW "" gives a
// document any viewer opens without asking.
func encryptedPDF(t testing.TB, userPW string) []byte {
	t.Helper()
	conf := pdfConf()
	conf.UserPW, conf.OwnerPW = userPW, "owner-secret"
	var out bytes.Buffer
	if err := api.Encrypt(bytes.NewReader(cleanPDF()), &out, conf); err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	return out.Bytes()
}

// rewritePDF reads doc and writes it back with pdfcpu, which puts objects
// into compressed object streams and uses an xref stream.
func rewritePDF(t testing.TB, doc []byte) []byte {
	t.Helper()
	conf := pdfConf()
	ctx, err := api.ReadContext(bytes.NewReader(doc), conf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var out bytes.Buffer
	if err := api.WriteContext(ctx, &out); err != nil {
		t.Fatalf("write: %v", err)
	}
	return out.Bytes()
}

// bigPDF is a PDF of pages pages, each with a content stream of
// FlateDecode-compressed random bytes, padded to about size bytes.
func bigPDF(t testing.TB, size int) []byte {
	t.Helper()
	const pages = 25
	rng := rand.New(rand.NewPCG(1, 2))
	d := &pdfDoc{}
	d.add("<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, pages)
	for i := range kids {
		kids[i] = fmt.Sprintf("%d 0 R", 3+2*i)
	}
	d.add(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), pages))
	per := (size - 8192) / pages
	for i := 0; i < pages; i++ {
		d.add(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>", 4+2*i))
		raw := make([]byte, per-per/200) // deflate of random data grows by ~0.03%
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		d.add(pdfStream("/Filter /FlateDecode ", deflate(t, raw)))
	}
	b := d.bytes()
	if len(b) > size {
		t.Fatalf("big PDF is %d bytes, more than %d", len(b), size)
	}
	return b
}

// manyObjects is a one-page PDF plus n small objects.
func manyObjects(n int) []byte {
	d := onePage("", "")
	for i := 0; i < n; i++ {
		d.add(fmt.Sprintf("<< /K [%d 0 R] /V (%030d) >>", i+1, i))
	}
	return d.bytes()
}

// denseDict is a one-page PDF plus one dictionary of about size bytes of
// distinct small keys.
func denseDict(size int) []byte {
	d := onePage("", "")
	var b strings.Builder
	b.WriteString("<< ")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "/k%d %d ", i, i)
	}
	b.WriteString(">>")
	d.add(b.String())
	return d.bytes()
}

// sameOffset is a one-page PDF whose cross-reference table has n more
// entries, all at the offset of one object.
func sameOffset(n int) []byte {
	d := onePage("", "")
	d.add("<< /A 1 >>")
	b := d.bytes()
	off := bytes.Index(b, []byte("6 0 obj"))
	x := bytes.Index(b, []byte("xref\n"))
	var out bytes.Buffer
	out.Write(b[:x])
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", n+1)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", n+1, x)
	return out.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func smallImage() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 12))
	for y := 0; y < 12; y++ {
		for x := 0; x < 16; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 16), uint8(y * 20), 128, 255})
		}
	}
	return img
}

func cleanPNG(t testing.TB) []byte { return encodePNG(t, smallImage()) }

func cleanJPEG(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, smallImage(), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bigPNG is an opaque RGB image of random pixels (incompressible), just
// under size bytes.
func bigPNG(t testing.TB, size int) []byte {
	t.Helper()
	const w = 2896
	h := (size - 64<<10) / (3*w + 1)
	rng := rand.New(rand.NewPCG(3, 4))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		if i%4 == 3 {
			img.Pix[i] = 255
		} else {
			img.Pix[i] = byte(rng.Uint32())
		}
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	var b bytes.Buffer
	if err := enc.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if b.Len() > size {
		t.Fatalf("big PNG is %d bytes, more than %d", b.Len(), size)
	}
	return b.Bytes()
}

// pngHeader is a PNG signature and IHDR chunk declaring w×h RGBA pixels,
// followed by an IEND chunk: enough for DecodeConfig, nothing to decode.
func pngHeader(t testing.TB, w, h uint32) []byte {
	t.Helper()
	src := encodePNG(t, image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	// Signature (8) + IHDR length/type (8): width and height follow.
	b := bytes.Clone(src)
	b[16], b[17], b[18], b[19] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	b[20], b[21], b[22], b[23] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	fixCRC(b[8:33])
	return b
}

// zipOf returns a ZIP archive holding one file.
func zipOf(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngWithChunk inserts a chunk of type typ with data before IEND.
func pngWithChunk(t testing.TB, typ string, data []byte) []byte {
	t.Helper()
	src := cleanPNG(t)
	iend := len(src) - 12
	chunk := make([]byte, 12+len(data))
	chunk[0], chunk[1], chunk[2], chunk[3] = byte(len(data)>>24), byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	copy(chunk[4:], typ)
	copy(chunk[8:], data)
	fixCRC(chunk)
	return append(append(append([]byte{}, src[:iend]...), chunk...), src[iend:]...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// fixCRC sets the CRC of a PNG chunk (length, type, data, CRC).
func fixCRC(chunk []byte) {
	n := len(chunk)
	binary.BigEndian.PutUint32(chunk[n-4:], crc32.ChecksumIEEE(chunk[4:n-4]))
}

// fakeEngine is an antivirus engine for tests. It reads the whole stream
// and, like clamd, looks for the EICAR string in the raw bytes and inside
// every FlateDecode stream of a PDF. err, when set, is returned instead.
type fakeEngine struct {
	err   error
	calls atomic.Int32
	got   atomic.Int64 // bytes read by the last call
}

func (e *fakeEngine) Scan(ctx context.Context, r io.Reader) (Finding, error) {
	e.calls.Add(1)
	data, err := io.ReadAll(r)
	if err != nil {
		return Finding{}, err
	}
	e.got.Store(int64(len(data)))
	if e.err != nil {
		return Finding{}, e.err
	}
	f := Finding{Engine: "FakeAV 1.0"}
	if bytes.Contains(data, []byte(eicar)) || inflatedContains(data, []byte(eicar)) {
		f.Infected, f.Signature = true, "Eicar-Test-Signature"
	}
	return f, nil
}

// inflatedContains inflates each "stream … endstream" body of a PDF and
// reports whether one contains needle.
func inflatedContains(data, needle []byte) bool {
	for rest := data; ; {
		i := bytes.Index(rest, []byte("stream"))
		if i < 0 {
			return false
		}
		body := rest[i+len("stream"):]
		body = bytes.TrimPrefix(bytes.TrimPrefix(body, []byte("\r")), []byte("\n"))
		if j := bytes.Index(body, []byte("endstream")); j >= 0 {
			if zr, err := zlib.NewReader(bytes.NewReader(body[:j])); err == nil {
				plain, _ := io.ReadAll(io.LimitReader(zr, 64<<20))
				if bytes.Contains(plain, needle) {
					return true
				}
			}
		}
		rest = rest[i+len("stream"):]
	}
}

// nopEngine finds nothing and reads nothing: the pipeline's own cost.
type nopEngine struct{}

func (nopEngine) Scan(context.Context, io.Reader) (Finding, error) {
	return Finding{Engine: "nop"}, nil
}
