package servicebus

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// fakeQueue is an in-memory queue with the broker behaviour the adapter
// relies on: sequence numbers, scheduled messages and their cancellation
// (404 for a number that is not scheduled), and duplicate detection by
// MessageId (a duplicate is accepted and dropped; its scheduling returns
// the first message's number).
type fakeQueue struct {
	mu   sync.Mutex
	seq  int64
	msgs []*fakeMsg
	ids  map[string]int64
	fail error // returned by every call while set
}

type fakeMsg struct {
	seq int64
	m   *azservicebus.Message
	due time.Time // zero: enqueued at once
}

// fakeSender is one queue's sender.
type fakeSender struct{ q *fakeQueue }

var _ sender = (*fakeSender)(nil)

func newFakeQueue() *fakeQueue { return &fakeQueue{ids: map[string]int64{}} }

func (q *fakeQueue) put(m *azservicebus.Message, due time.Time) int64 {
	if m.MessageID != nil {
		if seq, ok := q.ids[*m.MessageID]; ok {
			return seq
		}
	}
	q.seq++
	q.msgs = append(q.msgs, &fakeMsg{seq: q.seq, m: m, due: due})
	if m.MessageID != nil {
		q.ids[*m.MessageID] = q.seq
	}
	return q.seq
}

func (s *fakeSender) SendMessage(_ context.Context, m *azservicebus.Message, _ *azservicebus.SendMessageOptions) error {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	if s.q.fail != nil {
		return s.q.fail
	}
	s.q.put(m, time.Time{})
	return nil
}

func (s *fakeSender) ScheduleMessages(_ context.Context, ms []*azservicebus.Message, at time.Time, _ *azservicebus.ScheduleMessagesOptions) ([]int64, error) {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	if s.q.fail != nil {
		return nil, s.q.fail
	}
	var out []int64
	for _, m := range ms {
		out = append(out, s.q.put(m, at))
	}
	return out, nil
}

func (s *fakeSender) CancelScheduledMessages(_ context.Context, seqs []int64, _ *azservicebus.CancelScheduledMessagesOptions) error {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	if s.q.fail != nil {
		return s.q.fail
	}
	for _, seq := range seqs {
		i := s.q.index(seq)
		if i < 0 || !s.q.msgs[i].due.After(time.Now()) {
			return &azservicebus.Error{Code: azservicebus.CodeNotFound}
		}
	}
	for _, seq := range seqs {
		i := s.q.index(seq)
		s.q.msgs = append(s.q.msgs[:i], s.q.msgs[i+1:]...)
	}
	return nil
}

func (s *fakeSender) Close(context.Context) error { return nil }

func (q *fakeQueue) index(seq int64) int {
	for i, m := range q.msgs {
		if m.seq == seq {
			return i
		}
	}
	return -1
}

// peek lists the queue's messages as a receiver's peek would.
func (q *fakeQueue) peek() []peeked {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []peeked
	for _, m := range q.msgs {
		p := peeked{Seq: m.seq, Body: m.m.Body, Props: m.m.ApplicationProperties, State: "active"}
		p.ID, p.CorrelationID, p.ContentType, p.Subject = deref(m.m.MessageID), deref(m.m.CorrelationID), deref(m.m.ContentType), deref(m.m.Subject)
		if m.due.After(time.Now()) {
			p.State = "scheduled"
			p.Scheduled = m.due
		}
		out = append(out, p)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var errFakeDown = errors.New("dial tcp 127.0.0.1:5672: connect: connection refused")
