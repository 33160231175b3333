package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// Defaults of the Service Bus extension (v5, ServiceBusOptions):
// maxConcurrentCalls 16 per processor, autoCompleteMessages true,
// maxAutoLockRenewalDuration 5 minutes.
const (
	defaultCallsPerCPU      = 16
	defaultMaxLockRenewal   = 5 * time.Minute
	defaultServiceBusConn   = "AzureWebJobsServiceBus"
	deadLetterSuffix        = "/$deadletterqueue"
	serviceBusStopGrace     = 10 * time.Second // in-flight invocations may finish on Stop
	serviceBusSettleTimeout = 5 * time.Second  // a settlement over a lost connection never succeeds
	serviceBusMaxBackoff    = 5 * time.Second
)

// Time formats of the Service Bus metadata: .NET DateTime (no offset, whole
// seconds) and DateTimeOffset (whole seconds, +00:00).
const (
	dotnetDateTime       = "2006-01-02T15:04:05"
	dotnetDateTimeOffset = "2006-01-02T15:04:05+00:00"
)

// ServiceBusSettings are host.json's extensions.serviceBus settings the
// development host honours (extension v5 names; the v3/v4
// messageHandlerOptions names are read too).
type ServiceBusSettings struct {
	MaxConcurrentCalls int           // invocations in flight per function
	AutoComplete       bool          // complete on success, abandon on failure
	MaxAutoLockRenewal time.Duration // how long a lock is renewed while an invocation runs
}

// parseServiceBusSettings reads extensions.serviceBus of host.json.
func parseServiceBusSettings(hc *HostConfig) (ServiceBusSettings, error) {
	s := ServiceBusSettings{MaxConcurrentCalls: defaultCallsPerCPU * runtime.NumCPU(), AutoComplete: true, MaxAutoLockRenewal: defaultMaxLockRenewal}
	raw, ok := hc.Extensions["serviceBus"]
	if !ok {
		for k, v := range hc.Extensions {
			if strings.EqualFold(k, "serviceBus") {
				raw, ok = v, true
			}
		}
	}
	if !ok {
		return s, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return s, &ConfigError{File: "host.json", Field: "extensions.serviceBus", Msg: "must be an object"}
	}
	o := obj{file: "host.json", path: "extensions.serviceBus", m: m}
	if legacy, ok, err := o.object("messageHandlerOptions", false); err != nil {
		return s, err
	} else if ok {
		if err := readServiceBusSettings(legacy, &s, "maxConcurrentCalls", "autoComplete", "maxAutoRenewDuration"); err != nil {
			return s, err
		}
	}
	return s, readServiceBusSettings(o, &s, "maxConcurrentCalls", "autoCompleteMessages", "maxAutoLockRenewalDuration")
}

func readServiceBusSettings(o obj, s *ServiceBusSettings, calls, complete, renewal string) error {
	if v, ok := lookup(o.m, calls); ok && v != nil {
		n, isNum := v.(float64)
		if !isNum || n < 1 || n != float64(int(n)) {
			return o.errf(calls, "must be a whole number of at least 1")
		}
		s.MaxConcurrentCalls = int(n)
	}
	if b, ok, err := o.boolean(complete); err != nil {
		return err
	} else if ok {
		s.AutoComplete = b
	}
	if str, ok, err := o.strPresent(renewal); err != nil {
		return err
	} else if ok {
		d, err := parseTimeSpan(str)
		if err != nil {
			return o.errf(renewal, "%v", err)
		}
		s.MaxAutoLockRenewal = d
	}
	return nil
}

// parseTimeSpan parses a .NET TimeSpan constant ("00:05:00", "1.00:00:00").
func parseTimeSpan(s string) (time.Duration, error) {
	m := timeSpanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a TimeSpan (hh:mm:ss)", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
	}
	return d, nil
}

// serviceBusSource is the built-in TriggerSource for serviceBusTrigger
// functions. For each, it receives in peek-lock from the entity the binding
// names (queueName, "<queue>/$deadletterqueue", or topicName and
// subscriptionName; %Setting% resolved) through the connection string in
// the app setting the binding's "connection" names (the local peer's), and
// invokes the function with the payload the Functions host sends
// (ServiceBusPayload). With autoCompleteMessages (the default, and the only
// value the host allows for custom handlers) it completes the message when
// the handler answers 2xx and abandons it otherwise, so Service Bus
// redelivers it and dead-letters it after the entity's max delivery count;
// without it the message is left to its lock's expiry. While an invocation
// runs its lock is renewed, for at most maxAutoLockRenewalDuration. At most
// maxConcurrentCalls invocations of one function run at a time.
//
// A function whose connection setting is not set does not listen (logged
// at start), as the Functions host reports such a function in error and
// runs the others.
type serviceBusSource struct {
	settings  ServiceBusSettings
	listeners []*sbListener
	missing   []string // functions that do not listen, and why

	mu          sync.Mutex
	clients     map[string]*azservicebus.Client // by connection string
	stopRecv    context.CancelFunc
	stopInvokes context.CancelFunc
	loops       sync.WaitGroup
	inflight    sync.WaitGroup
}

type sbListener struct {
	fn           *Function
	entity       string // for logs, e.g. workflow or workflow/$deadletterqueue
	queue        string
	deadLetter   bool
	topic, sub   string
	connection   string // the connection string
	namespace    string // host[:port] of its endpoint
	autoComplete bool
	receiver     *azservicebus.Receiver
	log          *slog.Logger
}

func newServiceBusSource(app *App, getenv func(string) string) (*serviceBusSource, error) {
	settings, err := parseServiceBusSettings(&app.Host)
	if err != nil {
		return nil, err
	}
	src := &serviceBusSource{settings: settings, clients: map[string]*azservicebus.Client{}}
	var errs []error
	for _, fn := range app.FunctionsByTrigger(TypeServiceBusTrigger) {
		l, why, err := newListener(fn, settings, getenv)
		switch {
		case err != nil:
			errs = append(errs, err)
		case why != "":
			src.missing = append(src.missing, fn.Name+": "+why)
		default:
			src.listeners = append(src.listeners, l)
		}
	}
	return src, errors.Join(errs...)
}

func newListener(fn *Function, settings ServiceBusSettings, getenv func(string) string) (*sbListener, string, error) {
	b := fn.Trigger
	l := &sbListener{fn: fn, autoComplete: settings.AutoComplete}
	for _, key := range []string{"autoCompleteMessages", "autoComplete"} {
		if v, ok := lookup(b.Props, key); ok {
			if c, isBool := v.(bool); isBool {
				l.autoComplete = c
			}
		}
	}
	resolve := func(field string) (string, error) {
		v, err := resolveSetting(b.Str(field), getenv)
		if err != nil {
			return "", &ConfigError{File: fn.File, Field: "bindings[]." + field, Msg: err.Error()}
		}
		return v, nil
	}
	var err error
	if l.queue, err = resolve("queueName"); err != nil {
		return nil, "", err
	}
	if l.queue != "" {
		l.entity = l.queue
		if q, ok := cutSuffixFold(l.queue, deadLetterSuffix); ok {
			l.queue, l.deadLetter = q, true
		}
	} else {
		if l.topic, err = resolve("topicName"); err != nil {
			return nil, "", err
		}
		if l.sub, err = resolve("subscriptionName"); err != nil {
			return nil, "", err
		}
		l.entity = l.topic + "/Subscriptions/" + l.sub
	}
	setting := b.Str("connection")
	if setting == "" {
		setting = defaultServiceBusConn
	}
	l.connection = getenv(setting)
	if l.connection == "" {
		if getenv(setting+"__fullyQualifiedNamespace") != "" {
			return nil, fmt.Sprintf("app setting %s is identity-based (%s__fullyQualifiedNamespace); the development host needs a connection string", setting, setting), nil
		}
		return nil, fmt.Sprintf("app setting %s (the binding's connection) is not set", setting), nil
	}
	l.namespace = endpointHost(l.connection)
	return l, "", nil
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// endpointHost is the host (and port) of a connection string's Endpoint.
func endpointHost(conn string) string {
	for _, part := range strings.Split(conn, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Endpoint") {
			v = strings.TrimSpace(v)
			if i := strings.Index(v, "://"); i >= 0 {
				v = v[i+3:]
			}
			return strings.TrimRight(v, "/")
		}
	}
	return ""
}

func (s *serviceBusSource) Start(ctx context.Context, inv Invoker) error {
	log := inv.Logger().With("trigger", TypeServiceBusTrigger)
	for _, why := range s.missing {
		log.Error("Service Bus trigger not listening", "reason", why)
	}
	recvCtx, stopRecv := context.WithCancel(ctx)
	invCtx, stopInvokes := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	s.stopRecv, s.stopInvokes = stopRecv, stopInvokes
	s.mu.Unlock()
	for _, l := range s.listeners {
		c, err := s.client(l.connection)
		if err != nil {
			return fmt.Errorf("function %s: %w", l.fn.Name, err)
		}
		opts := &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock}
		if l.deadLetter {
			opts.SubQueue = azservicebus.SubQueueDeadLetter
		}
		if l.topic != "" {
			l.receiver, err = c.NewReceiverForSubscription(l.topic, l.sub, opts)
		} else {
			l.receiver, err = c.NewReceiverForQueue(l.queue, opts)
		}
		if err != nil {
			return fmt.Errorf("function %s: receiver for %s: %w", l.fn.Name, l.entity, err)
		}
		l.log = log.With("function", l.fn.Name, "entity", l.entity)
		s.loops.Add(1)
		go func() {
			defer s.loops.Done()
			s.receive(recvCtx, invCtx, inv, l)
		}()
	}
	return nil
}

func (s *serviceBusSource) client(conn string) (*azservicebus.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[conn]; ok {
		return c, nil
	}
	c, err := azservicebus.NewClientFromConnectionString(conn, nil)
	if err != nil {
		return nil, errors.New("the Service Bus connection string is not valid")
	}
	s.clients[conn] = c
	return c, nil
}

// Stop ends receiving, lets invocations in flight finish for a grace
// period (then cancels them; their messages are abandoned), and closes the
// receivers and connections.
func (s *serviceBusSource) Stop() error {
	s.mu.Lock()
	stopRecv, stopInvokes := s.stopRecv, s.stopInvokes
	s.mu.Unlock()
	if stopRecv == nil {
		return nil
	}
	stopRecv()
	s.loops.Wait()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(serviceBusStopGrace):
		stopInvokes()
		<-done
	}
	stopInvokes()
	ctx, cancel := context.WithTimeout(context.Background(), serviceBusSettleTimeout)
	defer cancel()
	// Closing a client closes its receivers' links too.
	var errs []error
	s.mu.Lock()
	for _, c := range s.clients {
		errs = append(errs, c.Close(ctx))
	}
	s.mu.Unlock()
	return errors.Join(errs...)
}

// receive runs one function's listener: it asks for as many messages as
// it has free invocation slots, and invokes each in its own goroutine.
func (s *serviceBusSource) receive(recvCtx, invCtx context.Context, inv Invoker, l *sbListener) {
	slots := make(chan struct{}, s.settings.MaxConcurrentCalls)
	backoff := 100 * time.Millisecond
	for {
		select {
		case slots <- struct{}{}:
		case <-recvCtx.Done():
			return
		}
		n := 1
		for n < cap(slots) {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		msgs, err := l.receiver.ReceiveMessages(recvCtx, n, nil)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if recvCtx.Err() != nil {
				return
			}
			l.log.Warn("receiving failed; retrying", "error", err.Error(), "backoffMs", backoff.Milliseconds())
			select {
			case <-recvCtx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, serviceBusMaxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, m := range msgs {
			s.inflight.Add(1)
			go func() {
				defer s.inflight.Done()
				defer func() { <-slots }()
				s.handle(invCtx, inv, l, m, s.settings.MaxAutoLockRenewal)
			}()
		}
	}
}

// handle invokes the function with one message, renewing its lock while
// the invocation runs, and settles it.
func (s *serviceBusSource) handle(ctx context.Context, inv Invoker, l *sbListener, m *azservicebus.ReceivedMessage, maxRenew time.Duration) {
	log := l.log.With("messageId", m.MessageID, "deliveryCount", m.DeliveryCount)
	data, md, err := ServiceBusPayload(l.fn.Trigger.Name, m, l.namespace)
	if err != nil {
		// The host cannot bind the trigger value: the invocation fails.
		log.Error("message cannot be bound", "error", err.Error())
		s.settle(l, m, false, log)
		return
	}
	renewCtx, stopRenew := context.WithCancel(ctx)
	var renewing sync.WaitGroup
	renewing.Add(1)
	go func() {
		defer renewing.Done()
		renewLock(renewCtx, l, m, maxRenew, log)
	}()
	_, err = inv.Invoke(ctx, l.fn.Name, data, md)
	stopRenew()
	renewing.Wait()
	s.settle(l, m, err == nil, log)
}

func (s *serviceBusSource) settle(l *sbListener, m *azservicebus.ReceivedMessage, ok bool, log *slog.Logger) {
	if !l.autoComplete {
		return // left to the lock's expiry
	}
	ctx, cancel := context.WithTimeout(context.Background(), serviceBusSettleTimeout)
	defer cancel()
	if ok {
		if err := l.receiver.CompleteMessage(ctx, m, nil); err != nil {
			log.Warn("completing the message failed; it will be delivered again", "error", err.Error())
		}
		return
	}
	if err := l.receiver.AbandonMessage(ctx, m, nil); err != nil {
		log.Warn("abandoning the message failed; it returns when its lock expires", "error", err.Error())
	}
}

// renewLock renews m's lock at half its remaining time until ctx ends or
// maxRenew has passed since the message was received.
func renewLock(ctx context.Context, l *sbListener, m *azservicebus.ReceivedMessage, maxRenew time.Duration, log *slog.Logger) {
	end := time.Now().Add(maxRenew)
	for {
		if m.LockedUntil == nil {
			return
		}
		wait := max(time.Until(*m.LockedUntil)/2, 100*time.Millisecond)
		if time.Now().Add(wait).After(end) {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := l.receiver.RenewMessageLock(ctx, m, nil); err != nil {
			if ctx.Err() == nil {
				log.Warn("renewing the message lock failed", "error", err.Error())
			}
			return
		}
	}
}

// ServiceBusPayload builds the {Data, Metadata} of a Service Bus trigger
// invocation as the Functions host does for a custom handler (extension
// v5, ServiceBusTriggerBindingStrategy; the rules of the host's
// GetHttpScriptInvocationContextValue):
//
//   - Data[name]: the body decoded as UTF-8, JSON-quoted (a string inside
//     the JSON string); a body that is not UTF-8 cannot be bound (error);
//   - strings in Metadata JSON-quoted (MessageId "\"id\""), ints and longs
//     as strings ("1"), DateTime without an offset (EnqueuedTimeUtc
//     "2024-06-15T12:34:56"), DateTimeOffset with +00:00 (EnqueuedTime),
//     null properties left out;
//   - ApplicationProperties and UserProperties as a plain object;
//   - the settlement and client objects as objects (their contents are not
//     for custom handlers);
//   - the top-level fields of a JSON object body merged in, overwriting
//     same-named keys case-insensitively (keeping the key's casing):
//     strings, numbers and booleans ("True") JSON-quoted, objects as they
//     are, arrays and nulls skipped, keys ending in "trigger" left out
//     (the host's Utility.ApplyBindingData).
//
// namespace is the endpoint's host, reported in Client.
func ServiceBusPayload(name string, m *azservicebus.ReceivedMessage, namespace string) (data, md map[string]any, err error) {
	if !utf8.Valid(m.Body) {
		return nil, nil, errors.New("the message body is not UTF-8 text")
	}
	data = map[string]any{name: quote(string(m.Body))}
	md = map[string]any{
		"MessageReceiver": map[string]any{}, "MessageSession": map[string]any{}, "MessageActions": map[string]any{},
		"SessionActions": map[string]any{}, "ReceiveActions": map[string]any{},
		"Client":        map[string]any{"FullyQualifiedNamespace": namespace, "IsClosed": false, "TransportType": 0, "Identifier": namespace + "-" + newUUID()},
		"DeliveryCount": strconv.FormatUint(uint64(m.DeliveryCount), 10),
		"LockToken":     quote(guid(m.LockToken)),
		"MessageId":     quote(m.MessageID),
	}
	for key, v := range map[string]*string{
		"ContentType": m.ContentType, "CorrelationId": m.CorrelationID, "Subject": m.Subject, "Label": m.Subject,
		"ReplyTo": m.ReplyTo, "To": m.To, "SessionId": m.SessionID, "ReplyToSessionId": m.ReplyToSessionID,
		"PartitionKey": m.PartitionKey, "DeadLetterSource": m.DeadLetterSource,
	} {
		if v != nil {
			md[key] = quote(*v)
		}
	}
	if m.SequenceNumber != nil {
		md["SequenceNumber"] = strconv.FormatInt(*m.SequenceNumber, 10)
	}
	if m.EnqueuedTime != nil {
		md["EnqueuedTimeUtc"] = m.EnqueuedTime.UTC().Format(dotnetDateTime)
		md["EnqueuedTime"] = m.EnqueuedTime.UTC().Format(dotnetDateTimeOffset)
	}
	if m.ExpiresAt != nil {
		md["ExpiresAtUtc"] = m.ExpiresAt.UTC().Format(dotnetDateTime)
		md["ExpiresAt"] = m.ExpiresAt.UTC().Format(dotnetDateTimeOffset)
	}
	props := map[string]any{}
	for k, v := range m.ApplicationProperties {
		props[k] = v
	}
	md["ApplicationProperties"], md["UserProperties"] = props, props
	mergeBody(md, m.Body)
	return data, md, nil
}

// mergeBody merges a JSON object body's top-level fields into md.
func mergeBody(md map[string]any, body []byte) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil || top == nil {
		return
	}
	for k, v := range top {
		if strings.HasSuffix(strings.ToLower(k), "trigger") {
			continue
		}
		var val any
		switch v := v.(type) {
		case string:
			val = quote(v)
		case json.Number:
			val = quote(v.String())
		case bool:
			// (string)JValue of a bool is .NET's Boolean.ToString().
			val = quote(map[bool]string{true: "True", false: "False"}[v])
		case map[string]any:
			val = v
		default: // arrays and nulls
			continue
		}
		key := k
		for existing := range md {
			if strings.EqualFold(existing, k) {
				key = existing
				break
			}
		}
		md[key] = val
	}
}

// guid formats a lock token as the GUID string the host shows.
func guid(b [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
