package scan_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/scan"
	"github.com/profileflow/profileflow/handler/upload"
)

const (
	acct   = "http://127.0.0.1:10000/devstoreaccount1"
	upID   = "0123456789abcdef0123456789abcdef"
	blob   = upID + "/0-deed.pdf"
	landed = acct + "/landing/" + blob
)

// world is a fake of everything a scan touches: one declared upload, one
// request with one pinned document, blobs by container/name with ETags.
type world struct {
	declared  bool
	requestID string
	doc       *scan.Document // nil: the request is not recorded
	blobs     map[string]string
	etags     map[string]string
	scanErr   error
	scanned   [][]byte
	failures  int
	rewrites  int
	calls     []string
}

func newWorld() *world {
	w := &world{declared: true, requestID: "req-1",
		blobs: map[string]string{"landing/" + blob: "%PDF pinned", "incoming/" + blob: "%PDF pinned"},
		etags: map[string]string{"landing/" + blob: "0xL1", "incoming/" + blob: "0xS1"}}
	w.doc = &scan.Document{RequestID: "req-1", Name: "deed.pdf", DeclaredType: "application/pdf", DeclaredSize: 11,
		Pinned: upload.BlobRef{Account: acct, Container: "landing", Name: blob}, PinnedETag: "0xL1",
		Source: upload.BlobRef{Account: acct, Container: "incoming", Name: blob}, SourceETag: "0xS1"}
	return w
}

func (w *world) Declared(_ context.Context, uploadID, name string) (upload.File, string, error) {
	if !w.declared || uploadID != upID || name != blob {
		return upload.File{}, "", domain.E(domain.KindNotFound, "no upload declared it")
	}
	return upload.File{Name: "deed.pdf", ContentType: "application/pdf", Size: 11, BlobName: blob}, w.requestID, nil
}

func (w *world) Document(_ context.Context, requestID, name string) (scan.Document, error) {
	if w.doc == nil || requestID != w.doc.RequestID || name != blob {
		return scan.Document{}, domain.E(domain.KindNotFound, "request not found")
	}
	return *w.doc, nil
}

func (w *world) RecordScan(_ context.Context, _, _ string, r scan.Result) error {
	if w.doc.Verdict != "" && w.doc.Verdict != r.Verdict {
		return domain.E(domain.KindConflict, "other verdict")
	}
	if w.doc.Verdict == r.Verdict {
		w.calls = append(w.calls, "verdict again "+string(r.Verdict))
		return nil
	}
	w.doc.Verdict = r.Verdict
	w.calls = append(w.calls, "verdict "+string(r.Verdict))
	return nil
}

func (w *world) RecordScanFailure(_ context.Context, _, _, _ string, max int) (bool, error) {
	w.failures++
	if w.failures >= max {
		w.doc.Verdict = scan.Error
		w.calls = append(w.calls, "verdict error")
		return true, nil
	}
	return false, nil
}

func (w *world) RecordStored(_ context.Context, _, _, container string) error {
	w.doc.Stored = container
	w.calls = append(w.calls, "stored "+container)
	return nil
}

func (w *world) NoteRewrite(context.Context, string, string) error { w.rewrites++; return nil }

func key(ref upload.BlobRef) string { return ref.Container + "/" + ref.Name }

func (w *world) ReadVersion(_ context.Context, ref upload.BlobRef, etag string, max int64) ([]byte, string, error) {
	b, ok := w.blobs[key(ref)]
	switch {
	case !ok:
		return nil, "", domain.E(domain.KindNotFound, "gone")
	case etag != "" && w.etags[key(ref)] != etag:
		return nil, w.etags[key(ref)], domain.E(domain.KindStale, "other version")
	case int64(len(b)) > max:
		return nil, "", domain.E(domain.KindTooLarge, "too large")
	}
	return []byte(b), w.etags[key(ref)], nil
}

func (w *world) Move(_ context.Context, ref upload.BlobRef, etag, to string) error {
	k := key(ref)
	if _, ok := w.blobs[k]; !ok {
		return domain.E(domain.KindNotFound, "gone")
	}
	if w.etags[k] != etag {
		return domain.E(domain.KindStale, "other version")
	}
	w.blobs[to+"/"+ref.Name] = w.blobs[k]
	delete(w.blobs, k)
	w.calls = append(w.calls, "moved to "+to)
	return nil
}

func (w *world) Delete(_ context.Context, ref upload.BlobRef) error {
	delete(w.blobs, key(ref))
	w.calls = append(w.calls, "deleted "+key(ref))
	return nil
}

func (w *world) Version(_ context.Context, ref upload.BlobRef) (string, error) {
	if _, ok := w.blobs[key(ref)]; !ok {
		return "", nil
	}
	return w.etags[key(ref)], nil
}

// Scan is the pipeline: "EICAR" anywhere is infected, else clean.
func (w *world) Scan(_ context.Context, f scan.File) (scan.Result, error) {
	if w.scanErr != nil {
		return scan.Result{}, w.scanErr
	}
	w.scanned = append(w.scanned, f.Content)
	if slices.Contains([]string{"EICAR"}, string(f.Content)) {
		return scan.Result{Verdict: scan.Infected, Signature: "Custom.EICAR"}, nil
	}
	return scan.Result{Verdict: scan.Clean}, nil
}

func service(w *world) *scan.Service {
	return &scan.Service{Uploads: w, Documents: w, Blobs: w, Scanner: w, Accounts: []string{acct},
		Landing: "landing", Clean: "clean", Quarantine: "quarantine", MaxSize: 100, Log: slog.New(slog.DiscardHandler)}
}

var event = scan.Landed{URI: landed, UploadID: upID, FileName: "0-deed.pdf"}

func TestScanLanded(t *testing.T) {
	transient := domain.E(domain.KindTransient, "clamd unreachable")
	for _, tc := range []struct {
		name     string
		setup    func(w *world)
		ev       scan.Landed
		runs     int
		wantErr  domain.Kind // of the last run; 0 = nil
		calls    []string
		scanned  string // the bytes the pipeline saw ("" = not run)
		rewrites int
	}{
		{name: "clean: verdict stored, then moved to clean", runs: 1,
			calls: []string{"verdict clean", "moved to clean", "stored clean"}, scanned: "%PDF pinned"},
		{name: "infected: quarantined", setup: func(w *world) { w.blobs["landing/"+blob] = "EICAR" }, runs: 1,
			calls: []string{"verdict infected", "moved to quarantine", "stored quarantine"}, scanned: "EICAR"},
		{name: "the same blob delivered twice is scanned once", runs: 2,
			calls: []string{"verdict clean", "moved to clean", "stored clean", "verdict again clean"}, scanned: "%PDF pinned"},
		{name: "a crash after the verdict: recorded again (the workflow step is re-driven) and the move finished, not the scan",
			setup: func(w *world) { w.doc.Verdict = scan.Clean }, runs: 1,
			calls: []string{"verdict again clean", "moved to clean", "stored clean"}},
		{name: "stray blob no upload declared: quarantined, nothing recorded", setup: func(w *world) { w.declared = false }, runs: 1,
			calls: []string{"moved to quarantine"}},
		{name: "copy of an upload never submitted: deleted", setup: func(w *world) { w.requestID = "" }, runs: 1,
			calls: []string{"deleted landing/" + blob}},
		{name: "request not recorded yet: retried", setup: func(w *world) { w.doc = nil }, runs: 1, wantErr: domain.KindTransient},
		{name: "rewrite through the SAS after acceptance: recorded, the pinned bytes scanned",
			setup: func(w *world) { w.blobs["incoming/"+blob], w.etags["incoming/"+blob] = "<html>swapped", "0xS2" }, runs: 1,
			calls: []string{"verdict clean", "moved to clean", "stored clean"}, scanned: "%PDF pinned", rewrites: 1},
		{name: "larger than the limit: rejected without reading",
			setup: func(w *world) { w.blobs["landing/"+blob] = string(make([]byte, 101)) }, runs: 1,
			calls: []string{"verdict rejected", "moved to quarantine", "stored quarantine"}},
		{name: "landing copy is not the pinned version: rejected",
			setup: func(w *world) { w.etags["landing/"+blob] = "0xL2" }, runs: 1,
			calls: []string{"verdict rejected"}},
		{name: "engine down: non-2xx until the 5th attempt", setup: func(w *world) { w.scanErr = transient }, runs: 4, wantErr: domain.KindTransient},
		{name: "engine down 5 times: verdict error, quarantined, 2xx", setup: func(w *world) { w.scanErr = transient }, runs: 5,
			calls: []string{"verdict error", "moved to quarantine", "stored quarantine"}},
		{name: "a blob outside the landing container is ignored", ev: scan.Landed{URI: acct + "/clean/" + blob, UploadID: upID, FileName: "0-deed.pdf"}, runs: 1},
		{name: "tokens that disagree with the Uri are ignored", ev: scan.Landed{URI: landed, UploadID: upID, FileName: "1-other.pdf"}, runs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.setup != nil {
				tc.setup(w)
			}
			ev := tc.ev
			if ev.URI == "" {
				ev = event
			}
			var err error
			for range tc.runs {
				err = service(w).ScanLanded(context.Background(), ev)
			}
			if tc.wantErr == 0 && err != nil || tc.wantErr != 0 && domain.KindOf(err) != tc.wantErr {
				t.Fatalf("err = %v, want kind %v", err, tc.wantErr)
			}
			if !slices.Equal(w.calls, tc.calls) {
				t.Errorf("calls = %q\nwant    %q", w.calls, tc.calls)
			}
			switch {
			case tc.scanned == "" && len(w.scanned) > 0 && tc.wantErr == 0:
				t.Errorf("pipeline ran on %q; want not run", w.scanned)
			case tc.scanned != "" && (len(w.scanned) != 1 || string(w.scanned[0]) != tc.scanned):
				t.Errorf("pipeline saw %q, want once %q", w.scanned, tc.scanned)
			}
			if w.rewrites != tc.rewrites {
				t.Errorf("rewrites recorded %d, want %d", w.rewrites, tc.rewrites)
			}
		})
	}
}

func TestScanLandedNeverCleanWhenUnreadable(t *testing.T) {
	w := newWorld()
	delete(w.blobs, "landing/"+blob)
	if err := service(w).ScanLanded(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	if w.doc.Verdict != scan.Error {
		t.Fatalf("verdict %q for a pinned copy that vanished; want error", w.doc.Verdict)
	}
}
