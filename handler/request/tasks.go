package request

import (
	"github.com/profileflow/profileflow/handler/workflow"
)

// Service task types this service provides (pf:type in a definition).
const (
	// TaskApplyChange writes the request's change to the profile.
	TaskApplyChange = "applyChange"
	// TaskNotify sends a notice to the requester; pf:template names its
	// kind (e.g. "completed"; "notify" when absent).
	TaskNotify = "notify"
)

// step collects the effects the service tasks of one engine step record.
// They join the record's outbox only if the step succeeds and is saved
// (absorb), so a step that fails or loses a race leaves nothing behind,
// and the effect is carried out after the save (afterSave): a cancel or a
// rejection whose save wins can never leave a profile changed by a request
// that did not complete.
type step struct {
	effects []Effect
}

func (st *step) applies() bool {
	for _, e := range st.effects {
		if e.Apply != nil {
			return true
		}
	}
	return false
}

// Handlers are the service tasks this service provides (for
// Definition.CheckHandlers at start-up).
func (s *Service) Handlers() workflow.ServiceHandlers { return s.tasks(Record{}, &step{}) }

// tasks are the service task handlers for one step of rec's workflow. Each
// is where its effect originates: a definition without the task has no
// such effect. Effect ids name the execution (request, element, event), so
// a repeated step records the same ids.
func (s *Service) tasks(rec Record, st *step) workflow.ServiceHandlers {
	return workflow.ServiceHandlers{
		TaskApplyChange: func(sc *workflow.ServiceContext) error {
			st.effects = append(st.effects, Effect{ID: effectID(sc), Apply: &ApplyChange{ProfileID: rec.ProfileID}})
			return nil
		},
		TaskNotify: func(sc *workflow.ServiceContext) error {
			kind := sc.Params["template"]
			if kind == "" {
				kind = TaskNotify
			}
			id := effectID(sc)
			st.effects = append(st.effects, Effect{ID: id, Notice: &Notice{ID: id, RequestID: rec.ID, ProfileID: rec.ProfileID, Owner: rec.Owner, Kind: kind}})
			return nil
		},
	}
}

func effectID(sc *workflow.ServiceContext) string {
	ev := sc.Event
	if ev == "" {
		ev = "start"
	}
	return sc.InstanceID + "/" + sc.Element + "/" + ev
}
