package server

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/invoke"
	"github.com/profileflow/profileflow/handler/obs"
	"github.com/profileflow/profileflow/handler/request"
)

// stepBinding is the trigger binding name of the Service Bus functions
// (functions/WorkflowStep, WorkflowDeadLetter and Notify: "name": "msg").
const stepBinding = "msg"

// workflowStep is the WorkflowStep function (serviceBusTrigger on the
// workflow queue): the message's Step goes to the request service
// (request.Service.Step). What no delivery can fix — a body that is not a
// Step, an unknown request, an event the request no longer waits for — is
// logged and answered 2xx, so the message is completed; a transient failure
// answers non-2xx, so the host abandons it and Service Bus redelivers it,
// dead-lettering it after the queue's max delivery count (WorkflowDeadLetter
// takes it from there). Every step is safe to repeat.
func (s *Server) workflowStep(ctx context.Context, req *invoke.Request) (invoke.Response, error) {
	msg := req.ServiceBus(stepBinding)
	ctx = withMessageTrace(ctx, msg)
	st, err := readStep(msg)
	if err != nil {
		return invoke.Response{}, err
	}
	deliveries, _, _ := msg.DeliveryCount.Lookup()
	msgID, _, _ := msg.MessageID.Lookup()
	rec, err := s.Requests.Step(ctx, st)
	line := fmt.Sprintf("workflow step %s (%s) of request %s, delivery %d", st.Event.ID, st.Event.Type, st.RequestID, deliveries)
	if err != nil {
		s.log.InfoContext(ctx, "workflow step not processed", "request", st.RequestID, "event", st.Event.ID, "messageId", msgID,
			"deliveryCount", deliveries, "kind", domain.KindOf(err).String(), "err", err.Error())
		return invoke.Response{Logs: []string{line + ": " + domain.KindOf(err).String()}}, err
	}
	line += fmt.Sprintf(": %s, stage %s", rec.RuntimeStatus, rec.CustomStatus.Stage)
	s.log.InfoContext(ctx, line, "request", st.RequestID, "event", st.Event.ID, "messageId", msgID, "deliveryCount", deliveries)
	return invoke.Response{Logs: []string{line}}, nil
}

// readStep decodes the message body as a request.Step (KindInvalid when it
// is missing or not one).
func readStep(msg invoke.ServiceBusMessage) (request.Step, error) {
	body, err := msg.Body.Get()
	if err != nil {
		return request.Step{}, domain.Wrap(domain.KindInvalid, err, "workflow step: %v", err)
	}
	return request.ParseStep(body)
}

// withMessageTrace carries the message's traceparent application property
// (when valid) on ctx, so messages the step sends continue its trace.
func withMessageTrace(ctx context.Context, msg invoke.ServiceBusMessage) context.Context {
	props, ok, err := msg.ApplicationProperties.Lookup()
	if !ok || err != nil {
		return ctx
	}
	tp, _ := props["traceparent"].(string)
	return obs.WithTraceparent(ctx, tp)
}

// deliveriesRE finds the attempts in Service Bus' description of a
// MaxDeliveryCountExceeded dead-lettering ("Message could not be consumed
// after 10 delivery attempts.").
var deliveriesRE = regexp.MustCompile(`after (\d+) delivery attempts`)

// workflowDeadLetter is the WorkflowDeadLetter function (serviceBusTrigger
// on workflow/$deadletterqueue): a Step that could not be processed in the
// queue's max delivery count fails its request with the reason in its status
// (request.Service.StepDeadLettered), unless the request no longer waits
// for it. A body that is not a Step, or an unknown request, is logged and
// completed; a transient failure answers non-2xx and the dead-letter queue
// delivers the message again (it is never dead-lettered further).
func (s *Server) workflowDeadLetter(ctx context.Context, req *invoke.Request) (invoke.Response, error) {
	msg := req.ServiceBus(stepBinding)
	ctx = withMessageTrace(ctx, msg)
	st, err := readStep(msg)
	if err != nil {
		return invoke.Response{}, err
	}
	props, _, _ := msg.ApplicationProperties.Lookup()
	reason, _ := props["DeadLetterReason"].(string)
	desc, _ := props["DeadLetterErrorDescription"].(string)
	if reason == "" {
		reason = "dead-lettered"
	}
	// The attempts the broker counted before dead-lettering; the delivery
	// count of a dead-lettered message also counts its deliveries from the
	// dead-letter queue.
	deliveries, _, _ := msg.DeliveryCount.Lookup()
	if m := deliveriesRE.FindStringSubmatch(desc); m != nil {
		deliveries, _ = strconv.ParseInt(m[1], 10, 64)
	}
	rec, err := s.Requests.StepDeadLettered(ctx, st, deliveries, reason)
	if err != nil {
		return invoke.Response{}, err
	}
	line := fmt.Sprintf("dead-lettered workflow step %s (%s) of request %s (%s: %s): request %s", st.Event.ID, st.Event.Type, st.RequestID, reason, desc, rec.RuntimeStatus)
	s.log.WarnContext(ctx, line, "request", st.RequestID, "event", st.Event.ID)
	return invoke.Response{Logs: []string{line}}, nil
}
