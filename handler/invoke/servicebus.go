package invoke

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// ServiceBusMessage is the payload of a Service Bus trigger bound as name:
// the body in Data.<name> and the message's properties from Metadata (names
// as in the extension's ServiceBusTriggerBindingStrategy.GetBindingData).
// Keys of null properties (SessionId, ReplyTo, …) are left out by the host,
// so those Fields are absent.
type ServiceBusMessage struct {
	// Body is the message body. The host decodes it as UTF-8 and
	// JSON-quotes it (a body {"a":1} arrives as "\"{\\\"a\\\":1}\""); a body
	// quoted once, or sent as a JSON object or array, is read as it is.
	Body          Field[[]byte]
	MessageID     Field[string] // Metadata.MessageId
	CorrelationID Field[string] // Metadata.CorrelationId
	SessionID     Field[string] // Metadata.SessionId; absent for sessionless entities
	ContentType   Field[string] // Metadata.ContentType, as the sender set it
	Subject       Field[string] // Metadata.Subject (Label on older extensions)
	LockToken     Field[string] // Metadata.LockToken
	DeliveryCount Field[int64]  // Metadata.DeliveryCount: 1 on the first delivery; dead-lettered after the entity's MaxDeliveryCount (default 10)
	// SequenceNumber is the broker's unique, increasing number of the message.
	SequenceNumber Field[int64]
	// EnqueuedTimeUTC is Metadata.EnqueuedTimeUtc (written without an
	// offset; UTC), or EnqueuedTime (with one) when that is absent.
	EnqueuedTimeUTC Field[time.Time]
	// ExpiresAtUTC is Metadata.ExpiresAtUtc, or ExpiresAt.
	ExpiresAtUTC Field[time.Time]
	// ApplicationProperties are the sender's custom properties (plain JSON
	// values: numbers are float64), from ApplicationProperties or, on older
	// extensions, UserProperties.
	ApplicationProperties Field[map[string]any]
}

// ServiceBus returns the Service Bus payload bound as name. It never fails:
// each value is decoded, and can fail, only when read.
func (r *Request) ServiceBus(name string) ServiceBusMessage {
	str := func(k string) Field[string] { return newField("Metadata."+k, r.meta(k), decodeString) }
	num := func(k string) Field[int64] { return newField("Metadata."+k, r.meta(k), decodeInt) }
	first := func(keys ...string) (string, json.RawMessage) {
		for _, k := range keys {
			if raw := r.meta(k); !isNull(raw) {
				return "Metadata." + k, raw
			}
		}
		return "Metadata." + keys[0], nil
	}
	subject := func() Field[string] { p, raw := first("Subject", "Label"); return newField(p, raw, decodeString) }
	when := func(keys ...string) Field[time.Time] { p, raw := first(keys...); return newField(p, raw, decodeTime) }
	props := func() Field[map[string]any] {
		p, raw := first("ApplicationProperties", "UserProperties")
		return newField(p, raw, decodeJSON[map[string]any])
	}
	return ServiceBusMessage{
		Body:                  newField("Data."+name, r.Data[name], decodeMessageBody),
		MessageID:             str("MessageId"),
		CorrelationID:         str("CorrelationId"),
		SessionID:             str("SessionId"),
		ContentType:           str("ContentType"),
		Subject:               subject(),
		LockToken:             str("LockToken"),
		DeliveryCount:         num("DeliveryCount"),
		SequenceNumber:        num("SequenceNumber"),
		EnqueuedTimeUTC:       when("EnqueuedTimeUtc", "EnqueuedTime"),
		ExpiresAtUTC:          when("ExpiresAtUtc", "ExpiresAt"),
		ApplicationProperties: props(),
	}
}

// decodeMessageBody reads a body quoted twice or once, or a plain JSON
// object or array.
func decodeMessageBody(raw json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, errors.New("empty")
	}
	switch t[0] {
	case '{', '[':
		return append([]byte(nil), t...), nil
	case '"':
		s, err := decodeString(t)
		if err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	return nil, errors.New("not a string, object or array")
}
