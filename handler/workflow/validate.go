package workflow

import (
	"fmt"
	"slices"
)

// validate checks the graph rules of a built model, each failure a
// *LoadError naming the element: exactly one start event; boundary timers
// attached to a userTask (an interrupting one with an outgoing flow);
// pf:distinctFrom naming userTasks; exclusive gateways whose default flow is
// one of their own, unconditioned, and whose other flows all have
// conditions; an incoming flow on every element but the start and an
// outgoing flow on every element but an end.
func (b *builder) validate(process *node) error {
	d := b.def
	errAt := func(e *Element, format string, args ...any) error {
		return &LoadError{Line: e.Line, ID: e.ID, Type: string(e.Type), Msg: fmt.Sprintf(format, args...)}
	}
	if !slices.ContainsFunc(d.order, func(e *Element) bool { return e.Type == StartEvent }) {
		return process.errf("no start event")
	}
	for _, e := range d.order {
		switch e.Type {
		case StartEvent:
			if d.Start != nil {
				return errAt(e, "more than one start event")
			}
			d.Start = e
		case BoundaryTimer:
			host := d.Elements[e.AttachedTo]
			if host == nil || host.Type != UserTask {
				return errAt(e, "attachedToRef %q must name a userTask", e.AttachedTo)
			}
			host.Boundaries = append(host.Boundaries, e)
			if e.Interrupting && len(e.Outgoing) == 0 {
				return errAt(e, "an interrupting boundary timer needs an outgoing flow")
			}
			continue
		case UserTask:
			for _, id := range e.DistinctFrom {
				if o := d.Elements[id]; o == nil || o.Type != UserTask {
					return errAt(e, "pf:distinctFrom %q must name a userTask", id)
				}
			}
		case ExclusiveGateway:
			if def := b.ids[e.ID].attr("", "default"); def != "" {
				for _, f := range e.Outgoing {
					if f.ID == def {
						e.Default = f
					}
				}
				if e.Default == nil {
					return errAt(e, "default flow %q is not an outgoing flow of this gateway", def)
				}
				if e.Default.cond != nil {
					return errAt(e, "default flow %q must not have a condition", def)
				}
			}
			if len(e.Outgoing) > 1 {
				for _, f := range e.Outgoing {
					if f.cond == nil && f != e.Default {
						return errAt(e, "outgoing flow %q has no condition and is not the default flow", f.ID)
					}
				}
			}
		}
		if e.Type != EndEvent && len(e.Outgoing) == 0 {
			return errAt(e, "no outgoing sequence flow")
		}
		if e.Type != StartEvent && len(e.Incoming) == 0 {
			return errAt(e, "no incoming sequence flow")
		}
	}
	return nil
}
