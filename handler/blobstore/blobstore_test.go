package blobstore

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/upload"
)

const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func TestAccountName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1"},
		{"http://localhost:10000/devstoreaccount1", "devstoreaccount1"},
		{"https://shard1.blob.core.windows.net", "shard1"},
		{"https://devstoreaccount1.blob.localhost:20001", "devstoreaccount1"},
	} {
		got, err := accountName(strings.TrimRight(tt.in, "/"))
		if err != nil || got != tt.want {
			t.Errorf("accountName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func sasQuery(t testing.TB, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}

func TestSignUploadSharedKey(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		account, wantSpr, wantPrefix string
	}{
		{"https://shard1.blob.core.windows.net/", "https", "https://shard1.blob.core.windows.net/landing/abc/0-a.pdf?"},
		{"http://127.0.0.1:10000/devstoreaccount1", "https,http", "http://127.0.0.1:10000/devstoreaccount1/landing/abc/0-a.pdf?"},
	} {
		s, err := New(Options{Accounts: []string{tt.account}, AccountKey: devKey, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		ref := upload.BlobRef{Account: tt.account, Container: "landing", Name: "abc/0-a.pdf"}
		u, err := s.SignUpload(context.Background(), ref, now.Add(2*time.Hour)) // capped to 30m
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u, tt.wantPrefix) {
			t.Errorf("url %q, want prefix %q", u, tt.wantPrefix)
		}
		q := sasQuery(t, u)
		want := map[string]string{"sp": "cw", "sr": "b", "spr": tt.wantSpr, "st": "2026-05-01T09:55:00Z", "se": "2026-05-01T10:30:00Z"}
		for k, v := range want {
			if q.Get(k) != v {
				t.Errorf("%s: %s=%q, want %q", tt.account, k, q.Get(k), v)
			}
		}
		if q.Get("sig") == "" || q.Get("skoid") != "" {
			t.Errorf("sig %q skoid %q", q.Get("sig"), q.Get("skoid"))
		}
		if _, err := s.SignUpload(context.Background(), ref, now.Add(-time.Second)); domain.KindOf(err) != domain.KindGone {
			t.Errorf("expired: %v", err)
		}
		if _, err := s.SignUpload(context.Background(), upload.BlobRef{Account: "https://other", Container: "landing", Name: "x"}, now.Add(time.Minute)); domain.KindOf(err) != domain.KindInternal {
			t.Errorf("unknown account: %v", err)
		}
	}
}

type fakeToken struct{}

func (fakeToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestSignUploadUserDelegationCachesKey(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("comp") != "userdelegationkey" || r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "unexpected", 400)
			return
		}
		calls.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>oid-1</SignedOid><SignedTid>tid-1</SignedTid>` +
			`<SignedStart>2026-05-01T09:55:00Z</SignedStart><SignedExpiry>2026-05-01T16:00:00Z</SignedExpiry><SignedService>b</SignedService>` +
			`<SignedVersion>2026-12-06</SignedVersion><Value>` + devKey + `</Value></UserDelegationKey>`))
	}))
	defer srv.Close()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	account := srv.URL + "/devstoreaccount1"
	s, err := New(Options{Accounts: []string{account}, Credential: fakeToken{}, Transport: srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ref := upload.BlobRef{Account: account, Container: "landing", Name: "abc/0-a.pdf"}
	for i := range 3 {
		u, err := s.SignUpload(context.Background(), ref, now.Add(30*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		q := sasQuery(t, u)
		if q.Get("skoid") != "oid-1" || q.Get("sktid") != "tid-1" || q.Get("sp") != "cw" || q.Get("spr") != "https" || q.Get("sig") == "" {
			t.Errorf("sign %d: user delegation SAS params %v", i, q)
		}
		now = now.Add(time.Hour)
	}
	// Keys live 6h and are reused while they outlive the SAS by 10m:
	// signs at 10:00, 11:00 and 12:00 need exactly one key.
	if n := calls.Load(); n != 1 {
		t.Errorf("user delegation key fetched %d times, want 1", n)
	}
	now = now.Add(4 * time.Hour) // 17:00: the key (expiring 16:00) is too old
	if _, err := s.SignUpload(context.Background(), ref, now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("user delegation key fetched %d times, want 2 after expiry", n)
	}
}

func TestTranslate(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want domain.Kind
	}{
		{"throttled", &azcore.ResponseError{StatusCode: 503}, domain.KindTransient},
		{"429", &azcore.ResponseError{StatusCode: 429}, domain.KindTransient},
		{"forbidden", &azcore.ResponseError{StatusCode: 403}, domain.KindInternal},
		{"not found", &azcore.ResponseError{StatusCode: 404}, domain.KindNotFound},
		{"deadline", context.DeadlineExceeded, domain.KindTransient},
		{"other", errors.New("boom"), domain.KindTransient},
	} {
		if got := domain.KindOf(translate(tt.err, "x")); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNewRejectsBadAccounts(t *testing.T) {
	for _, accts := range [][]string{nil, {"ftp://x"}, {"not a url"}} {
		if _, err := New(Options{Accounts: accts, AccountKey: devKey}); err == nil {
			t.Errorf("New(%v) accepted", accts)
		}
	}
}
