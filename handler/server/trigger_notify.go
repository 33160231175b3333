package server

import (
	"context"
	"fmt"

	"github.com/profileflow/profileflow/handler/invoke"
	"github.com/profileflow/profileflow/handler/notify"
	"github.com/profileflow/profileflow/handler/request"
)

// Notifier sends the SMS of a notice (*notify.Service): once per
// recipient, also across redeliveries and interrupted deliveries; errors keep their kinds
// (KindNotFound and KindInvalid permanent, KindTransient and
// KindRateLimited retried by redelivery).
type Notifier interface {
	Notify(ctx context.Context, n request.Notice) (notify.Result, error)
}

// notifyTrigger is the Notify function (serviceBusTrigger on the
// notifications queue): the message's Notice is sent as SMS. A body that is
// not a notice is logged and completed; a provider or store outage answers
// non-2xx and the message is redelivered.
func (s *Server) notifyTrigger(ctx context.Context, req *invoke.Request) (invoke.Response, error) {
	msg := req.ServiceBus(stepBinding)
	ctx = withMessageTrace(ctx, msg)
	body, err := msg.Body.Get()
	if err != nil {
		return invoke.Response{}, err
	}
	n, err := request.ParseNotice(body)
	if err != nil {
		return invoke.Response{}, err
	}
	res, err := s.Notices.Notify(ctx, n)
	if err != nil {
		return invoke.Response{}, err
	}
	line := fmt.Sprintf("notice %s (%s) of request %s: %d sent, %d already sent, %d without recipient", n.ID, n.Kind, n.RequestID, res.Sent, res.Already, res.Skipped)
	s.log.InfoContext(ctx, line, "request", n.RequestID)
	return invoke.Response{Logs: []string{line}, ReturnValue: res}, nil
}
