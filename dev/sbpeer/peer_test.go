package sbpeer_test

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/stack"
)

func TestSmoke(t *testing.T) {
	sb := stack.ServiceBusT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	s, err := c.NewSender("workflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("hello"), MessageID: ptr("m1")}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReceiverForQueue("workflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := r.ReceiveMessages(ctx, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || string(msgs[0].Body) != "hello" {
		t.Fatalf("got %d", len(msgs))
	}
	m := msgs[0]
	t.Logf("seq=%d dc=%d locked=%v enq=%v id=%s", *m.SequenceNumber, m.DeliveryCount, m.LockedUntil, m.EnqueuedTime, m.MessageID)
	if err := r.CompleteMessage(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
