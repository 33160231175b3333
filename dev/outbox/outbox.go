// Package outbox records SMS messages "sent" locally, so the development
// host can show them at GET /dev/outbox and tests can read PINs. It is part
// of the local stack only and is never deployed.
package outbox

import (
	"sync"
	"time"
)

// Message is one SMS sent locally.
type Message struct {
	To   string    `json:"to"`
	Body string    `json:"body"`
	Time time.Time `json:"time"`
}

// Box is a concurrency-safe, append-only list of messages.
type Box struct {
	mu   sync.Mutex
	msgs []Message
}

// Add records a message.
func (b *Box) Add(m Message) {
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

// List returns the messages sent to `to` (all messages when to is empty),
// oldest first. It never returns nil, so JSON encodes an empty array.
func (b *Box) List(to string) []Message {
	out := []Message{}
	if b == nil {
		return out
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	return out
}
