package cosmosdb

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/stack"
)

// One Cosmos DB stand-in serves every integration test of this package
// (started on first use, stopped by TestMain); each test gets its own
// containers through testContainer, so tests stay independent.
var shared struct {
	once   sync.Once
	cosmos *stack.Cosmos
	client *Client
	err    error
	seq    atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cosmos != nil {
		if err := shared.cosmos.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

const testDB = "profileflow-test"

// testClient returns a client of the shared stand-in; it fails the test
// (never skips) when the stand-in cannot start.
func testClient(t testing.TB) *Client {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared.cosmos, shared.err = stack.StartCosmos(ctx, stack.CosmosOptions{})
		if shared.err != nil {
			return
		}
		shared.client, shared.err = New(shared.cosmos.Endpoint, shared.cosmos.Key)
	})
	if shared.err != nil {
		t.Fatalf("cosmos stand-in: %v", shared.err)
	}
	return shared.client
}

var nonName = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// testContainer creates a fresh container (pk /id) for the test and returns it.
func testContainer(t testing.TB, ttl *int32) *Container {
	t.Helper()
	c := testClient(t)
	name := fmt.Sprintf("%s-%d", nonName.ReplaceAllString(t.Name(), "-"), shared.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.EnsureSchema(ctx, testDB, []ContainerSpec{{Name: name, DefaultTTL: ttl}}); err != nil {
		t.Fatalf("EnsureSchema: %v", err)
	}
	return c.Container(testDB, name)
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
