package blobstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/benchpair"
	"github.com/profileflow/profileflow/handler/upload"
)

// BenchmarkSASIssuance compares, side by side in one run, SignUpload
// (account-key SAS for one blob, create+write) with a raw HMAC-SHA256 of
// the same string-to-sign, base64-encoded. The string-to-sign is rebuilt
// from the signed URL's fields (the service SAS layout of Create Service
// SAS, version 2020-12-06 and later) and checked first: its HMAC must be
// the URL's signature. Reported: ratio = SAS issuances per second over
// HMACs per second (target ≥ 0.3), both sides' ns and allocations. It
// ignores b.N: run it with -benchtime 1x.
func BenchmarkSASIssuance(b *testing.B) {
	const account = "https://shard1.blob.core.windows.net"
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	s, err := New(Options{Accounts: []string{account}, AccountKey: devKey, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	ref := upload.BlobRef{Account: account, Container: "landing", Name: "0f3c9a2e7b5d4c1a8e6f2b9d0c7a5e31/0-certificate.pdf"}
	ctx, expiry := context.Background(), now.Add(15*time.Minute)
	u, err := s.SignUpload(ctx, ref, expiry)
	if err != nil {
		b.Fatal(err)
	}
	q := sasQuery(b, u)
	toSign := strings.Join([]string{q.Get("sp"), q.Get("st"), q.Get("se"), "/blob/shard1/" + ref.Container + "/" + ref.Name,
		q.Get("si"), q.Get("sip"), q.Get("spr"), q.Get("sv"), q.Get("sr"), "", q.Get("ses"), q.Get("rscc"), q.Get("rscd"), q.Get("rsce"), q.Get("rscl"), q.Get("rsct")}, "\n")
	key, _ := base64.StdEncoding.DecodeString(devKey)
	mac := func() string {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(toSign))
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	if got := mac(); got != q.Get("sig") {
		b.Fatalf("the rebuilt string-to-sign does not give the URL's signature:\n%q\n%s vs %s", toSign, got, q.Get("sig"))
	}
	p, err := benchpair.Measure(func() error {
		_, err := s.SignUpload(ctx, ref, expiry)
		return err
	}, func() error {
		if mac() == "" {
			return errors.New("empty MAC")
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	p.Report(b)
	b.ReportMetric(p.SpeedRatio(), "ratio")
}
