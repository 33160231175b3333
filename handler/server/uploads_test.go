package server

import (
	"context"
	"encoding/json"
	"github.com/profileflow/profileflow/dev/testlog"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

// uploadBlobs signs fake SAS URLs (with a recognisable signature) and has
// nothing staged.
type uploadBlobs struct{}

const fakeSig = "SIGNATURE-MUST-NOT-BE-LOGGED"

func (uploadBlobs) SignUpload(_ context.Context, ref upload.BlobRef, _ time.Time) (string, error) {
	return ref.Account + "/" + ref.Container + "/" + ref.Name + "?sp=cw&sig=" + fakeSig, nil
}

func (uploadBlobs) BlockList(context.Context, upload.BlobRef) (upload.BlockList, error) {
	return upload.BlockList{}, nil
}

func newUploadServer(t *testing.T) (*Server, *upload.Service, *time.Time, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	e := newEnv(t, logs)
	return e.s, e.uploads, e.uploadNow, logs
}

func TestCreateUpload(t *testing.T) {
	s, _, _, logs := newUploadServer(t)
	rec := postUploadJSON(s, "/api/v1/profile/1000/uploads", "Bearer user-1000",
		strings.NewReader(`{"files":[{"name":"Heiratsurkunde.pdf","contentType":"application/pdf","size":10485760},{"name":"photo.jpg","contentType":"image/jpeg","size":1}]}`))
	if rec.Code != 201 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var plan struct {
		UploadID  string    `json:"uploadId"`
		ExpiresAt time.Time `json:"expiresAt"`
		Files     []struct {
			Name            string            `json:"name"`
			UploadURL       string            `json:"uploadUrl"`
			BlockSize       int64             `json:"blockSize"`
			BlockCount      int               `json:"blockCount"`
			BlockIDs        []string          `json:"blockIds"`
			RequiredHeaders map[string]string `json:"requiredHeaders"`
		} `json:"files"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &plan); err != nil {
		t.Fatal(err)
	}
	if !upload.ValidUploadID(plan.UploadID) || plan.ExpiresAt.IsZero() || len(plan.Files) != 2 {
		t.Fatalf("plan = %s", rec.Body)
	}
	f := plan.Files[0]
	if f.Name != "Heiratsurkunde.pdf" || f.BlockSize != 4<<20 || f.BlockCount != 3 || len(f.BlockIDs) != 3 ||
		!strings.Contains(f.UploadURL, "/landing/"+plan.UploadID+"/0-") || f.RequiredHeaders["x-ms-blob-content-type"] != "application/pdf" {
		t.Errorf("file plan = %+v", f)
	}
	if got := rec.Header().Get("Location"); got != "/api/v1/profile/1000/uploads/"+plan.UploadID {
		t.Errorf("Location %q", got)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Error("SAS answer is cacheable")
	}
	// The state endpoint answers for the owner.
	rec = do(s, "GET", "/api/v1/profile/1000/uploads/"+plan.UploadID, "Bearer user-1000", nil)
	if rec.Code != 200 {
		t.Fatalf("GET state %d: %s", rec.Code, rec.Body)
	}
	var st map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &st)
	files, _ := st["files"].([]any)
	if st["uploadId"] != plan.UploadID || len(files) != 2 {
		t.Fatalf("state = %s", rec.Body)
	}
	f0 := files[0].(map[string]any)
	if f0["committed"] != false || f0["size"] != float64(10485760) || f0["uncommittedBlocks"] == nil {
		t.Errorf("file state = %v", f0)
	}
	if strings.Contains(logs.String(), fakeSig) {
		t.Errorf("a SAS signature reached the logs:\n%s", logs)
	}
}

func TestCreateUploadRefusals(t *testing.T) {
	s, _, _, _ := newUploadServer(t)
	file := func(name, ct string, size int64) string {
		b, _ := json.Marshal(map[string]any{"name": name, "contentType": ct, "size": size})
		return string(b)
	}
	pdf := file("a.pdf", "application/pdf", 100)
	for _, tc := range []struct {
		name, path, auth, body string
		status                 int
		errContains            string
	}{
		{"three files", "", "", `{"files":[` + pdf + `,` + file("b.pdf", "application/pdf", 1) + `,` + file("c.pdf", "application/pdf", 1) + `]}`, 400, "at most 2 files"},
		{"no files", "", "", `{"files":[]}`, 400, "at least one file"},
		{"0 bytes", "", "", `{"files":[` + file("a.pdf", "application/pdf", 0) + `]}`, 400, "at least 1 byte"},
		{"26 MiB", "", "", `{"files":[` + file("a.pdf", "application/pdf", 26<<20) + `]}`, 400, "exceeds the limit"},
		{"text/html", "", "", `{"files":[` + file("a.html", "text/html", 1) + `]}`, 400, "not allowed"},
		{"missing type", "", "", `{"files":[{"name":"a.pdf","size":1}]}`, 400, "contenttype is required"},
		{"path traversal", "", "", `{"files":[` + file("../../etc/passwd", "application/pdf", 1) + `]}`, 400, "path separators"},
		{"device name", "", "", `{"files":[` + file("con.pdf", "application/pdf", 1) + `]}`, 400, "reserved device name"},
		{"NUL", "", "", `{"files":[{"name":"a\u0000.pdf","contentType":"application/pdf","size":1}]}`, 400, "control characters"},
		{"right-to-left override", "", "", `{"files":[{"name":"evil\u202Efdp.png","contentType":"image/png","size":1}]}`, 400, "bidirectional"},
		{"photo.exe as image/png", "", "", `{"files":[` + file("photo.exe", "image/png", 1) + `]}`, 400, "does not match content type"},
		{"malformed JSON", "", "", `{"files":[`, 400, ""},
		{"trailing data", "", "", `{"files":[]} {}`, 400, ""},
		{"unknown field", "", "", `{"files":[` + pdf + `],"admin":true}`, 400, ""},
		{"wrong type", "", "", `{"files":[{"name":"a.pdf","contentType":"application/pdf","size":"big"}]}`, 400, ""},
		{"another user's profile", "/api/v1/profile/1001/uploads", "", `{"files":[` + pdf + `]}`, 403, "another user"},
		{"unknown profile", "/api/v1/profile/9999/uploads", "", `{"files":[` + pdf + `]}`, 404, "not found"},
		{"no token", "", "-", `{"files":[` + pdf + `]}`, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, auth := tc.path, tc.auth
			if path == "" {
				path = "/api/v1/profile/1000/uploads"
			}
			switch auth {
			case "":
				auth = "Bearer user-1000"
			case "-":
				auth = ""
			}
			rec := postUploadJSON(s, path, auth, strings.NewReader(tc.body))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			msg, _ := body["error"].(string)
			if body["Status"] != "Rejected" || msg == "" || !strings.Contains(strings.ToLower(msg), tc.errContains) {
				t.Errorf("error body = %v, want message containing %q", body, tc.errContains)
			}
		})
	}
}

func TestGetUploadAccess(t *testing.T) {
	s, svc, now, _ := newUploadServer(t)
	rec := postUploadJSON(s, "/api/v1/profile/1000/uploads", "Bearer user-1000", strings.NewReader(`{"files":[{"name":"a.pdf","contentType":"application/pdf","size":5}]}`))
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var plan struct{ UploadID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &plan)
	// A second profile's owner with an upload of their own.
	rec = postUploadJSON(s, "/api/v1/profile/1001/uploads", "Bearer user-1001", strings.NewReader(`{"files":[{"name":"b.pdf","contentType":"application/pdf","size":5}]}`))
	if rec.Code != 201 {
		t.Fatalf("create 1001: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, path, auth string
		status           int
	}{
		{"owner", "/api/v1/profile/1000/uploads/" + plan.UploadID, "Bearer user-1000", 200},
		{"another user's profile", "/api/v1/profile/1000/uploads/" + plan.UploadID, "Bearer user-1001", 403},
		{"another user's upload under own profile", "/api/v1/profile/1001/uploads/" + plan.UploadID, "Bearer user-1001", 404},
		{"unknown upload", "/api/v1/profile/1000/uploads/" + upload.NewUploadID(), "Bearer user-1000", 404},
		{"malformed upload id", "/api/v1/profile/1000/uploads/not-an-id", "Bearer user-1000", 404},
		{"no token", "/api/v1/profile/1000/uploads/" + plan.UploadID, "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := do(s, "GET", tc.path, tc.auth, nil); rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		*now = now.Add(31 * time.Minute)
		rec := do(s, "GET", "/api/v1/profile/1000/uploads/"+plan.UploadID, "Bearer user-1000", nil)
		if rec.Code != 410 || !strings.Contains(rec.Body.String(), "expired") {
			t.Errorf("status %d, want 410: %s", rec.Code, rec.Body)
		}
		if _, err := svc.CommittedFiles(context.Background(), domain.Principal{Subject: "user-1000"}, "1000", plan.UploadID); err == nil {
			t.Error("CommittedFiles of an expired upload succeeded")
		}
	})
	t.Run("not configured", func(t *testing.T) {
		s.Uploads = nil
		if rec := do(s, "GET", "/api/v1/profile/1000/uploads/"+plan.UploadID, "Bearer user-1000", nil); rec.Code != 500 {
			t.Errorf("status %d, want 500", rec.Code)
		}
	})
}

func postUploadJSON(s http.Handler, path, auth string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, body)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestCreateUploadNeedsJSON(t *testing.T) {
	s, _, _, _ := newUploadServer(t)
	rec := do(s, "POST", "/api/v1/profile/1000/uploads", "Bearer user-1000", strings.NewReader(`{"files":[{"name":"a.pdf","contentType":"application/pdf","size":5}]}`))
	if rec.Code != 415 {
		t.Errorf("status %d, want 415", rec.Code)
	}
}
