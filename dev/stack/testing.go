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
