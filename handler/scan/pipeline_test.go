package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

var scanTime = time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))

func pdfFile(name string, content []byte) File {
	return File{Name: name, DeclaredType: "application/pdf", DeclaredSize: int64(len(content)), Content: content}
}

func TestPipelineScan(t *testing.T) {
	png, jpg := cleanPNG(t), cleanJPEG(t)
	eicarStream := eicarPDF(t)
	if bytes.Contains(eicarStream, []byte(eicar)) || !bytes.Contains(eicarStream, []byte("/FlateDecode")) {
		t.Fatal("fixture: EICAR must be inside a FlateDecode stream, not in the file's bytes")
	}
	big := make([]byte, 26<<20)
	copy(big, cleanPDF())

	tests := []struct {
		name       string
		file       File
		verdict    Verdict
		stage      string
		reason     string // substring
		signature  string
		engineRuns bool
	}{
		{"clean pdf", pdfFile("passport.pdf", cleanPDF()), Clean, StageAntivirus, "", "", true},
		{"clean png", File{Name: "id.png", DeclaredType: "image/png", DeclaredSize: int64(len(png)), Content: png}, Clean, StageAntivirus, "", "", true},
		{"clean jpeg", File{Name: "id.JPEG", DeclaredType: "image/jpeg", DeclaredSize: 1 << 20, Content: jpg}, Clean, StageAntivirus, "", "", true},

		{"EICAR inside a compressed PDF stream", pdfFile("eicar.pdf", eicarStream), Infected, StageAntivirus, `"eicar.pdf" is infected: Eicar-Test-Signature`, "Eicar-Test-Signature", true},
		{"EICAR in a PNG text chunk", func() File {
			b := pngWithChunk(t, "tEXt", []byte("Comment\x00"+eicar))
			return File{Name: "id.png", DeclaredType: "image/png", DeclaredSize: int64(len(b)), Content: b}
		}(), Infected, StageAntivirus, "is infected", "Eicar-Test-Signature", true},
		{"EICAR plain, named .pdf", pdfFile("eicar.pdf", []byte(eicar)), Rejected, StageSniff, `"eicar.pdf": content is text/plain`, "", false},
		{"EICAR inside a ZIP, named .pdf", pdfFile("eicar.pdf", zipOf(t, "eicar.com", []byte(eicar))), Rejected, StageSniff, "content is application/zip", "", false},
		{"PDF with JavaScript in an OpenAction", pdfFile("form.pdf", pdfWithJSOpenAction()), Rejected, StageStructure, `"form.pdf": PDF contains JavaScript (at /Root/OpenAction/JS)`, "", false},
		{"PDF with a Launch action", pdfFile("a.pdf", pdfWithLaunch()), Rejected, StageStructure, "Launch action", "", false},
		{"PDF with embedded files", pdfFile("a.pdf", pdfWithEmbeddedFiles()), Rejected, StageStructure, "embedded files", "", false},
		{"encrypted PDF", pdfFile("a.pdf", encryptedPDF(t, "pw")), Rejected, StageStructure, "encrypted", "", false},
		{"HTML file named .pdf", pdfFile("invoice.pdf", []byte("<!doctype html><html><script>alert(1)</script></html>")), Rejected, StageSniff, `"invoice.pdf": content is text/html`, "", false},
		{"PDF declared as image/png", File{Name: "scan.png", DeclaredType: "image/png", DeclaredSize: 1000, Content: cleanPDF()}, Rejected, StageSniff, "content is application/pdf, not the declared image/png", "", false},
		{"truncated PNG", File{Name: "id.png", DeclaredType: "image/png", DeclaredSize: 1000, Content: png[:len(png)/2]}, Rejected, StageStructure, `"id.png": PNG cannot be decoded; it is truncated or corrupt`, "", false},
		{"PNG with a ZIP appended", func() File {
			b := cat(png, zipOf(t, "x.js", []byte("alert(1)")))
			return File{Name: "id.png", DeclaredType: "image/png", DeclaredSize: int64(len(b)), Content: b}
		}(), Rejected, StagePolyglot, "bytes follow the PNG's IEND chunk", "", false},
		{"26 MiB declared as 1 MiB", File{Name: "big.pdf", DeclaredType: "application/pdf", DeclaredSize: 1 << 20, Content: big}, Rejected, StageLimits, `"big.pdf" is 27262976 bytes; the limit is 26214400 bytes (25 MiB)`, "", false},
		{"2 MiB declared as 1 MiB", File{Name: "a.pdf", DeclaredType: "application/pdf", DeclaredSize: 1 << 20, Content: big[:2<<20]}, Rejected, StageLimits, "more than the 1048576 bytes declared", "", false},
		{"empty", pdfFile("a.pdf", nil), Rejected, StageLimits, `"a.pdf" is empty`, "", false},
		{"first failing stage decides: JavaScript and a ZIP", pdfFile("a.pdf", cat(pdfWithJSOpenAction(), zipOf(t, "x", []byte("y")))), Rejected, StageStructure, "JavaScript", "", false},
		{"first failing stage decides: wrong type and too big", File{Name: "a.png", DeclaredType: "image/png", DeclaredSize: 1, Content: cleanPDF()}, Rejected, StageLimits, "declared", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := &fakeEngine{}
			p := New(Options{Engine: engine, EngineName: "FakeAV", Now: func() time.Time { return scanTime }})
			r, err := p.Scan(context.Background(), tt.file)
			if err != nil {
				t.Fatalf("error %v; want a verdict", err)
			}
			sum := sha256.Sum256(tt.file.Content)
			if r.Verdict != tt.verdict || r.Stage != tt.stage || r.Signature != tt.signature || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("got %s at %s (%q, signature %q); want %s at %s (%q, signature %q)", r.Verdict, r.Stage, r.Reason, r.Signature, tt.verdict, tt.stage, tt.reason, tt.signature)
			}
			if tt.verdict == Clean && r.Reason != "" {
				t.Errorf("clean result with reason %q", r.Reason)
			}
			if r.SHA256 != hex.EncodeToString(sum[:]) || r.Size != int64(len(tt.file.Content)) || !r.At.Equal(scanTime) || r.At.Location() != time.UTC {
				t.Errorf("evidence: sha256 %s size %d at %v; want %x, %d, %v in UTC", r.SHA256, r.Size, r.At, sum, len(tt.file.Content), scanTime)
			}
			if runs := engine.calls.Load() == 1; runs != tt.engineRuns {
				t.Errorf("engine ran: %v; want %v", runs, tt.engineRuns)
			}
			wantEngine := "FakeAV"
			if tt.engineRuns {
				wantEngine = "FakeAV 1.0"
				if engine.got.Load() != int64(len(tt.file.Content)) {
					t.Errorf("engine read %d bytes; want all %d", engine.got.Load(), len(tt.file.Content))
				}
			}
			if r.Engine != wantEngine {
				t.Errorf("engine %q; want %q", r.Engine, wantEngine)
			}
		})
	}
}

func TestPipelineWithoutEngine(t *testing.T) {
	r, err := New(Options{}).Scan(context.Background(), pdfFile("a.pdf", eicarPDF(t)))
	if err != nil || r.Verdict != Clean || r.Engine != "none" || r.Stage != StageAntivirus || r.At.IsZero() {
		t.Fatalf("got %+v, %v; want clean with engine none (no antivirus ran)", r, err)
	}
	r, err = New(Options{}).Scan(context.Background(), pdfFile("a.pdf", pdfWithJSOpenAction()))
	if err != nil || r.Verdict != Rejected || r.Engine != "none" {
		t.Fatalf("got %+v, %v; want rejected with engine none", r, err)
	}
}

func TestPipelineEngineFailures(t *testing.T) {
	tests := []struct {
		name      string
		engineErr error
		verdict   Verdict // "" = transient error
		reason    string
	}{
		{"not scanned: size limit", fmt.Errorf("%w: INSTREAM size limit exceeded", ErrNotScanned), Error, `not scanned: "a.pdf": INSTREAM size limit exceeded`},
		{"unreachable", errors.New("dial tcp 127.0.0.1:3310: connect: connection refused"), "", ""},
		{"timeout", context.DeadlineExceeded, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Options{Engine: &fakeEngine{err: tt.engineErr}, EngineName: "FakeAV"})
			r, err := p.Scan(context.Background(), pdfFile("a.pdf", cleanPDF()))
			if tt.verdict == "" {
				if !domain.Is(err, domain.KindTransient) || !errors.Is(err, tt.engineErr) || r.Verdict != "" {
					t.Fatalf("got %+v, %v; want a transient error wrapping %v and no verdict", r, err, tt.engineErr)
				}
				return
			}
			if err != nil || r.Verdict != tt.verdict || r.Stage != StageAntivirus || r.Reason != tt.reason || r.SHA256 == "" {
				t.Fatalf("got %+v, %v; want %s %q", r, err, tt.verdict, tt.reason)
			}
		})
	}
}

func TestPipelineCallerGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	engine := &fakeEngine{}
	for _, f := range []File{pdfFile("a.pdf", cleanPDF()), {Name: "a.png", DeclaredType: "image/png", DeclaredSize: 1 << 20, Content: cleanPNG(t)}} {
		r, err := New(Options{Engine: engine}).Scan(ctx, f)
		if !domain.Is(err, domain.KindTransient) || !errors.Is(err, context.Canceled) || r.Verdict != "" {
			t.Fatalf("%s: got %+v, %v; want a transient error", f.Name, r, err)
		}
	}
	if engine.calls.Load() != 0 {
		t.Fatal("engine ran for an abandoned scan")
	}
}

// TestPipelineIsRepeatable: a trigger may deliver the same blob twice; both
// scans give the same verdict and evidence.
func TestPipelineIsRepeatable(t *testing.T) {
	p := New(Options{Engine: &fakeEngine{}, Now: func() time.Time { return scanTime }})
	for _, f := range []File{pdfFile("a.pdf", cleanPDF()), pdfFile("e.pdf", eicarPDF(t)), pdfFile("j.pdf", pdfWithJSOpenAction())} {
		a, err1 := p.Scan(context.Background(), f)
		b, err2 := p.Scan(context.Background(), f)
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("%s: %+v / %+v (%v, %v); want equal results", f.Name, a, b, err1, err2)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	p := New(Options{})
	if p.maxSize != 25<<20 || p.engineName != "none" || p.maxPixels != DefaultMaxPixels || p.pdfTimeout != DefaultStructureTimeout || p.now == nil {
		t.Fatalf("defaults: %+v", p)
	}
	if q := New(Options{Engine: nopEngine{}}); q.engineName != "unknown" {
		t.Fatalf("engine name %q; want unknown", q.engineName)
	}
}

func TestMaxSizeOption(t *testing.T) {
	p := New(Options{MaxSize: 100})
	r, err := p.Scan(context.Background(), pdfFile("a.pdf", cleanPDF()))
	if err != nil || r.Verdict != Rejected || r.Stage != StageLimits {
		t.Fatalf("got %+v, %v; want rejected by the 100-byte limit", r, err)
	}
}

// TestPipelineConcurrent: one Pipeline scans documents from several
// goroutines with the same results as one at a time (run with -race).
func TestPipelineConcurrent(t *testing.T) {
	p := New(Options{Engine: &fakeEngine{}, Now: func() time.Time { return scanTime }})
	files := []File{
		pdfFile("a.pdf", cleanPDF()), pdfFile("b.pdf", eicarPDF(t)), pdfFile("c.pdf", pdfWithJSOpenAction()),
		pdfFile("d.pdf", objStmPDF(t, "/OpenAction 6 0 R ", "<< /S /Launch >>")), pdfFile("e.pdf", encryptedPDF(t, "")),
		{Name: "f.png", DeclaredType: "image/png", DeclaredSize: 1 << 20, Content: cleanPNG(t)},
	}
	want := make([]Result, len(files))
	for i, f := range files {
		want[i], _ = p.Scan(context.Background(), f)
	}
	errs := make(chan error, 4*len(files))
	for g := 0; g < 4; g++ {
		go func() {
			for i, f := range files {
				got, err := p.Scan(context.Background(), f)
				if err == nil && got != want[i] {
					err = fmt.Errorf("%s: %+v; want %+v", f.Name, got, want[i])
				}
				errs <- err
			}
		}()
	}
	for i := 0; i < 4*len(files); i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
