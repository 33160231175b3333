// Package servicebus is the Azure Service Bus adapter (azservicebus). It
// carries out a request's outbox as request.Dispatcher — timers as
// scheduled messages on the workflow queue, their cancellation, notices on
// the notifications queue — and posts Steps to the workflow queue.
// azservicebus types and errors never leave this package: failures are
// domain kinds.
//
// Every message has a deterministic MessageId (the request id and the
// event or notice id), so the queues' duplicate detection drops a message
// sent twice within its window (10 minutes here; Service Bus "Duplicate
// detection"), CorrelationId = the request id, ContentType
// application/json, Subject = the event type or notice kind, and the
// application properties type ("step" or "notice"), requestId, v and, when
// the context carries one, traceparent.
package servicebus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/obs"
	"github.com/profileflow/profileflow/handler/request"
)

// Queue names; functions/WorkflowStep and functions/Notify listen on them
// (a test keeps their function.json in agreement).
const (
	WorkflowQueue      = "workflow"
	NotificationsQueue = "notifications"
)

// maxMessageIDLen is the longest MessageId Service Bus takes (128
// characters; Service Bus quotas).
const maxMessageIDLen = 128

// retryAfter is the Retry-After of a transient failure.
const retryAfter = 5 * time.Second

// Config says how to reach the namespace: a connection string (the local
// peer, or a SAS connection string), or else the namespace with an Entra
// identity.
type Config struct {
	// ConnectionString is the setting ServiceBusConnection, e.g.
	// "Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true".
	ConnectionString string
	// Namespace is ServiceBusConnection__fullyQualifiedNamespace
	// (<name>.servicebus.windows.net), used when ConnectionString is empty.
	Namespace string
	// ClientID is ServiceBusConnection__clientId: the user-assigned managed
	// identity to use with Namespace; "" = DefaultAzureCredential (the
	// system-assigned identity in Azure, the developer's locally).
	ClientID string
}

// sender is the part of *azservicebus.Sender this adapter uses (the SDK's
// own mocking advice: a narrow interface the SDK type satisfies).
type sender interface {
	SendMessage(ctx context.Context, m *azservicebus.Message, o *azservicebus.SendMessageOptions) error
	ScheduleMessages(ctx context.Context, ms []*azservicebus.Message, at time.Time, o *azservicebus.ScheduleMessagesOptions) ([]int64, error)
	CancelScheduledMessages(ctx context.Context, seqs []int64, o *azservicebus.CancelScheduledMessagesOptions) error
	Close(ctx context.Context) error
}

var _ sender = (*azservicebus.Sender)(nil)

// Client sends to the workflow and notifications queues. Its senders are
// made once and shared: they are safe for concurrent use, and each opens
// its AMQP link on first use (New makes no network call).
type Client struct {
	az       *azservicebus.Client // nil in tests over fakes
	workflow sender
	notices  sender
}

var _ request.Dispatcher = (*Client)(nil)

// clientOptions: a few quick retries, so a send fits in one step's budget;
// the outbox and the message's redelivery retry for longer.
func clientOptions() *azservicebus.ClientOptions {
	return &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{
		MaxRetries: 3, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 2 * time.Second,
	}}
}

// New builds a Client from cfg: ConnectionString when set, otherwise
// Namespace with ClientID's managed identity or DefaultAzureCredential.
// Without either it fails naming both settings.
func New(cfg Config) (*Client, error) {
	var (
		az  *azservicebus.Client
		err error
	)
	switch {
	case cfg.ConnectionString != "":
		az, err = azservicebus.NewClientFromConnectionString(cfg.ConnectionString, clientOptions())
	case cfg.Namespace != "":
		var cred azcore.TokenCredential
		if cfg.ClientID != "" {
			cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(cfg.ClientID)})
		} else {
			cred, err = azidentity.NewDefaultAzureCredential(nil)
		}
		if err != nil {
			return nil, fmt.Errorf("servicebus: credential: %w", err)
		}
		az, err = azservicebus.NewClient(cfg.Namespace, cred, clientOptions())
	default:
		return nil, errors.New("servicebus: set ServiceBusConnection (a connection string) or ServiceBusConnection__fullyQualifiedNamespace (identity-based)")
	}
	if err != nil {
		// The SDK's message may quote the connection string: name the setting only.
		return nil, errors.New("servicebus: ServiceBusConnection is not a valid Service Bus connection string")
	}
	wf, err := az.NewSender(WorkflowQueue, nil)
	if err != nil {
		return nil, fmt.Errorf("servicebus: sender for %s: %w", WorkflowQueue, err)
	}
	nt, err := az.NewSender(NotificationsQueue, nil)
	if err != nil {
		return nil, fmt.Errorf("servicebus: sender for %s: %w", NotificationsQueue, err)
	}
	return &Client{az: az, workflow: wf, notices: nt}, nil
}

// Close closes the senders and the connection.
func (c *Client) Close(ctx context.Context) error {
	errs := []error{c.workflow.Close(ctx), c.notices.Close(ctx)}
	if c.az != nil {
		errs = append(errs, c.az.Close(ctx))
	}
	return errors.Join(errs...)
}

// Dispatch carries out one effect of requestID's outbox (request.Dispatcher):
//
//	Timer   the timer's Step (request.TimerStep) scheduled on the workflow
//	        queue at Timer.Due (at once when that has passed); returns the
//	        message's sequence number
//	Cancel  the scheduled message withdrawn by its sequence number; one
//	        that already fired or is unknown counts as withdrawn
//	Notice  a NoticeMessage sent on the notifications queue
//
// An Apply effect is not the Dispatcher's (KindInternal). Errors:
// KindTransient when the namespace is unreachable, busy or times out
// (RetryAfter set); KindInternal when it refuses the credentials or the
// queue does not exist.
func (c *Client) Dispatch(ctx context.Context, requestID string, e request.Effect) (int64, error) {
	switch {
	case e.Timer != nil:
		st := request.TimerStep(requestID, *e.Timer)
		m, err := stepMessage(ctx, st)
		if err != nil {
			return 0, err
		}
		seqs, err := c.workflow.ScheduleMessages(ctx, []*azservicebus.Message{m}, e.Timer.Due, nil)
		if err != nil {
			return 0, mapError("schedule timer "+e.Timer.ID, err)
		}
		if len(seqs) != 1 {
			return 0, domain.E(domain.KindTransient, "service bus returned %d sequence numbers for one scheduled message", len(seqs))
		}
		return seqs[0], nil
	case e.Cancel != nil:
		if e.Cancel.Sequence == 0 {
			return 0, nil
		}
		err := c.workflow.CancelScheduledMessages(ctx, []int64{e.Cancel.Sequence}, nil)
		if code(err) == azservicebus.CodeNotFound {
			// Already enqueued (fired), already cancelled, or never known.
			return 0, nil
		}
		if err != nil {
			return 0, mapError("cancel timer "+e.Cancel.TimerID, err)
		}
		return 0, nil
	case e.Notice != nil:
		body, err := request.EncodeNotice(*e.Notice)
		if err != nil {
			return 0, err
		}
		m := message(ctx, requestID, messageID(requestID, e.Notice.ID), "notice", e.Notice.Kind, body)
		if err := c.notices.SendMessage(ctx, m, nil); err != nil {
			return 0, mapError("send notice "+e.Notice.ID, err)
		}
		return 0, nil
	}
	return 0, domain.E(domain.KindInternal, "servicebus: effect %s is not a timer, cancellation or notice", e.ID)
}

// Post sends a Step to the workflow queue now (e.g. a scan verdict), with
// the MessageId of its request and event, so a Step posted twice within
// the duplicate detection window is delivered once. Errors as Dispatch;
// KindInvalid for a Step request.EncodeStep refuses.
func (c *Client) Post(ctx context.Context, st request.Step) error {
	m, err := stepMessage(ctx, st)
	if err != nil {
		return err
	}
	if err := c.workflow.SendMessage(ctx, m, nil); err != nil {
		return mapError("post step "+st.Event.ID, err)
	}
	return nil
}

func stepMessage(ctx context.Context, st request.Step) (*azservicebus.Message, error) {
	body, err := request.EncodeStep(st)
	if err != nil {
		return nil, err
	}
	return message(ctx, st.RequestID, messageID(st.RequestID, st.Event.ID), "step", st.Event.Type, body), nil
}

func message(ctx context.Context, requestID, id, typ, subject string, body []byte) *azservicebus.Message {
	contentType := "application/json"
	props := map[string]any{"type": typ, "requestId": requestID, "v": int64(request.MessageVersion)}
	if tp := obs.Traceparent(ctx); tp != "" {
		props["traceparent"] = tp
	}
	return &azservicebus.Message{
		MessageID:             &id,
		CorrelationID:         &requestID,
		ContentType:           &contentType,
		Subject:               &subject,
		Body:                  body,
		ApplicationProperties: props,
	}
}

// messageID is "<requestID>/<eventID>" (an event or notice id that already
// starts with the request id is used as it is); an id longer than Service
// Bus takes becomes the request id and a SHA-256 of the whole.
func messageID(requestID, eventID string) string {
	id := eventID
	if !strings.HasPrefix(eventID, requestID+"/") {
		id = requestID + "/" + eventID
	}
	if len(id) <= maxMessageIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	prefix := requestID
	if len(prefix) > maxMessageIDLen-65 {
		prefix = prefix[:maxMessageIDLen-65]
	}
	return prefix + "/" + hex.EncodeToString(sum[:])
}

func code(err error) azservicebus.Code {
	var e *azservicebus.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// mapError turns an azservicebus error into a domain error: refused
// credentials and a missing queue are configuration faults (KindInternal);
// everything else — connection lost, timeouts, a busy namespace, network
// errors, a cancelled context — is KindTransient.
func mapError(op string, err error) error {
	switch code(err) {
	case azservicebus.CodeUnauthorizedAccess:
		return domain.Wrap(domain.KindInternal, err, "service bus refused the credentials (%s)", op)
	case azservicebus.CodeNotFound:
		return domain.Wrap(domain.KindInternal, err, "service bus queue not found (%s)", op)
	}
	return &domain.Error{Kind: domain.KindTransient, Msg: "the message queue is unavailable; retry shortly", Err: fmt.Errorf("%s: %w", op, err), RetryAfter: retryAfter}
}
