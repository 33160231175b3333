package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/profileflow/profileflow/dev/benchpair"
	"github.com/profileflow/profileflow/handler/domain"
)

// BenchmarkTokenCheck compares, side by side in one run, the bearer-token
// check (Authenticate: header, algorithm, signature with the cached key,
// issuer, audience, expiry, roles) with go-jose's RS256 signature check of
// the same token alone (ParseSigned + Verify with the issuer's public
// key). Reported: ratio = the check's cost over go-jose's (target ≤ 1.5),
// and both sides' ns and allocations per check. It ignores b.N: run it
// with -benchtime 1x.
func BenchmarkTokenCheck(b *testing.B) {
	e := newEnv(b)
	tok, err := e.iss.Mint("user-1000", []string{domain.RoleProfileApprover}, []string{"g1", "g2"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	h, ctx, key := "Bearer "+tok, context.Background(), e.iss.PublicKey()
	p, err := benchpair.Measure(func() error {
		_, err := e.v.Authenticate(ctx, h)
		return err
	}, func() error {
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			return err
		}
		payload, err := jws.Verify(key)
		if len(payload) == 0 && err == nil {
			err = errors.New("empty payload")
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	p.Report(b)
	b.ReportMetric(p.CostRatio(), "ratio")
}
