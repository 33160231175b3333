package stack

import (
	"context"
	"testing"
	"time"
)

const testStartTimeout = 60 * time.Second

// AzuriteT starts Azurite for a test on a free port, fails the test if it
// cannot (never skips), and stops it when the test ends.
func AzuriteT(t testing.TB) *Azurite {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testStartTimeout)
	defer cancel()
	a, err := StartAzurite(ctx, AzuriteOptions{LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("azurite log tail:\n%s", a.LogTail())
		}
		if err := a.Stop(); err != nil {
			t.Error(err)
		}
	})
	return a
}

// CosmosT starts the Cosmos DB stand-in for a test on a free port, fails the
// test if it cannot (never skips), and stops it when the test ends.
func CosmosT(t testing.TB) *Cosmos {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testStartTimeout)
	defer cancel()
	c, err := StartCosmos(ctx, CosmosOptions{LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cosmos log tail:\n%s", c.LogTail())
		}
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// ClamdT starts clamd with the project's test signatures for a test on a
// free port, fails the test if it cannot (never skips; a missing clamd fails
// with the Debian packages to install), and stops it when the test ends.
// Options are optional (at most one); LogDir defaults to a directory of the
// test.
func ClamdT(t testing.TB, opts ...ClamdOptions) *Clamd {
	t.Helper()
	var o ClamdOptions
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		t.Fatalf("ClamdT: %d options, want at most one", len(opts))
	}
	ctx, cancel := context.WithTimeout(context.Background(), testStartTimeout)
	defer cancel()
	if o.LogDir == "" {
		o.LogDir = t.TempDir()
	}
	c, err := StartClamd(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("clamd log tail:\n%s", c.LogTail())
		}
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// ServiceBusT starts the Service Bus peer for a test on a free port (with
// the project topology, in memory, unless options say otherwise; LogDir
// defaults to a test directory), fails the test if it cannot (never skips),
// and stops it when the test ends.
func ServiceBusT(t testing.TB, opts ...ServiceBusOptions) *ServiceBus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testStartTimeout)
	defer cancel()
	var o ServiceBusOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.LogDir == "" {
		o.LogDir = t.TempDir()
	}
	s, err := StartServiceBus(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("servicebus log tail:\n%s", s.LogTail())
		}
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}
