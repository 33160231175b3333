package invoke

import (
	"encoding/json"
	"testing"
	"time"
)

func TestServiceBusPayloadFixture(t *testing.T) {
	r := load(t, "servicebus-queue-trigger.request.json")
	m := r.ServiceBus("msg")
	body, err := m.Body.Get()
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		RequestID string `json:"requestId"`
		Attempt   int    `json:"attempt"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.RequestID != "abc" || msg.Attempt != 1 {
		t.Fatalf("body %q: %+v %v", body, msg, err)
	}
	str := map[string]Field[string]{
		"MessageId": m.MessageID, "CorrelationId": m.CorrelationID, "LockToken": m.LockToken,
		"ContentType": m.ContentType, "Subject": m.Subject,
	}
	want := map[string]string{
		"MessageId": "4d2f1c9e0b8a4f6e9c3d2b1a0f9e8d7c", "CorrelationId": "abc", "LockToken": "8a2e5a8d-4c2b-4b39-9f0f-6a8f8c1d2e3f",
		"ContentType": "application/json", "Subject": "request.created",
	}
	for k, f := range str {
		if got, err := f.Get(); got != want[k] || err != nil {
			t.Errorf("%s = %q, %v; want %q", k, got, err, want[k])
		}
	}
	if n, err := m.DeliveryCount.Get(); n != 1 || err != nil {
		t.Errorf("DeliveryCount = %d %v", n, err)
	}
	if n, err := m.SequenceNumber.Get(); n != 42 || err != nil {
		t.Errorf("SequenceNumber = %d %v", n, err)
	}
	if ts, err := m.EnqueuedTimeUTC.Get(); !ts.Equal(time.Date(2024, 6, 15, 12, 34, 56, 0, time.UTC)) || err != nil {
		t.Errorf("EnqueuedTimeUTC = %v %v", ts, err)
	}
	if ts, err := m.ExpiresAtUTC.Get(); !ts.Equal(time.Date(2024, 6, 29, 12, 34, 56, 0, time.UTC)) || err != nil {
		t.Errorf("ExpiresAtUTC = %v %v", ts, err)
	}
	if p, err := m.ApplicationProperties.Get(); err != nil || p["tenant"] != "contoso" || p["priority"] != float64(5) {
		t.Errorf("ApplicationProperties = %v %v", p, err)
	}
	if _, ok, err := m.SessionID.Lookup(); ok || err != nil {
		t.Errorf("SessionId absent in the fixture: %v %v", ok, err)
	}
}

// Bodies and properties in every encoding the host has used; a malformed
// property fails only a function that reads it.
func TestServiceBusPayloadLenient(t *testing.T) {
	for _, tc := range []struct {
		name, data, meta string
		body             string
		bodyErr          string
		count            int64
		countErr         string
		id               string
		props            string // the "tenant" application property
		enqueued         time.Time
	}{
		{name: "body quoted twice", data: `"\"{\\\"a\\\":1}\""`, meta: `{"DeliveryCount":"2","MessageId":"\"m1\""}`, body: `{"a":1}`, count: 2, id: "m1"},
		{name: "body quoted once", data: `"{\"a\":1}"`, meta: `{"DeliveryCount":2,"MessageId":"m1"}`, body: `{"a":1}`, count: 2, id: "m1"},
		{name: "plain text body", data: `"\"hello\""`, meta: `{"DeliveryCount":"\"3\""}`, body: "hello", count: 3},
		{name: "body as an object", data: `{"a":1}`, meta: `{}`, body: `{"a":1}`},
		{name: "body as an array", data: ` [1,2]`, meta: `{}`, body: `[1,2]`},
		{name: "empty body", data: `"\"\""`, meta: `{}`, body: ""},
		{name: "UserProperties of older extensions", data: `"\"x\""`, meta: `{"UserProperties":{"tenant":"t1"}}`, body: "x", props: "t1"},
		{name: "ApplicationProperties win", data: `"\"x\""`, meta: `{"ApplicationProperties":{"tenant":"a"},"UserProperties":{"tenant":"u"}}`, body: "x", props: "a"},
		{name: "EnqueuedTime with offset only", data: `"\"x\""`, meta: `{"EnqueuedTime":"2024-06-15T14:34:56+02:00"}`, body: "x", enqueued: time.Date(2024, 6, 15, 12, 34, 56, 0, time.UTC)},
		{name: "malformed count fails only the count", data: `"\"x\""`, meta: `{"DeliveryCount":"often","MessageId":"\"m\""}`, body: "x", countErr: "Metadata.DeliveryCount", id: "m"},
		{name: "body a number", data: `7`, meta: `{}`, bodyErr: "Data.msg: not a string"},
		{name: "body absent", meta: `{}`, bodyErr: "Data.msg missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := `{}`
			if tc.data != "" {
				data = `{"msg":` + tc.data + `}`
			}
			r, err := DecodeBytes([]byte(`{"Data":` + data + `,"Metadata":` + tc.meta + `}`))
			if err != nil {
				t.Fatal(err)
			}
			m := r.ServiceBus("msg")
			if b, err := m.Body.Get(); !matchErr(err, tc.bodyErr) || (err == nil && string(b) != tc.body) {
				t.Errorf("Body = %q, %v; want %q, error %q", b, err, tc.body, tc.bodyErr)
			}
			if n, _, err := m.DeliveryCount.Lookup(); !matchErr(err, tc.countErr) || n != tc.count {
				t.Errorf("DeliveryCount = %d, %v; want %d, error %q", n, err, tc.count, tc.countErr)
			}
			if id, _, err := m.MessageID.Lookup(); id != tc.id || err != nil {
				t.Errorf("MessageID = %q, %v; want %q", id, err, tc.id)
			}
			if p, _, err := m.ApplicationProperties.Lookup(); err != nil || (tc.props != "" && p["tenant"] != tc.props) {
				t.Errorf("ApplicationProperties = %v, %v; want tenant %q", p, err, tc.props)
			}
			if ts, _, err := m.EnqueuedTimeUTC.Lookup(); err != nil || !ts.Equal(tc.enqueued) {
				t.Errorf("EnqueuedTimeUTC = %v, %v; want %v", ts, err, tc.enqueued)
			}
		})
	}
}
