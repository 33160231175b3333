package workflow

import (
	"strings"

	"github.com/expr-lang/expr"
)

// elements allowed anywhere as passive children, never executed.
func passive(n *node) bool {
	if n.space != NSBPMN {
		return false
	}
	switch n.local {
	case "documentation", "extensionElements", "incoming", "outgoing":
		return true
	}
	return false
}

type builder struct {
	def      *Definition
	messages map[string]string // message id -> name
	ids      map[string]*node
}

func build(root *node) (*Definition, error) {
	if root.space != NSBPMN || root.local != "definitions" {
		return nil, root.errf("root element must be bpmn:definitions in namespace %s", NSBPMN)
	}
	b := &builder{messages: map[string]string{}, ids: map[string]*node{}}
	var process *node
	for _, c := range root.children {
		if c.space != NSBPMN {
			return nil, c.errf("unsupported element in namespace %q", c.space)
		}
		switch c.local {
		case "process":
			if process != nil {
				return nil, c.errf("only one process per definition is supported")
			}
			process = c
		case "message":
			name := c.attr("", "name")
			if name == "" {
				name = c.id()
			}
			if c.id() == "" {
				return nil, c.errf("message without id")
			}
			b.messages[c.id()] = name
		case "documentation", "extensionElements":
		default:
			return nil, c.errf("unsupported element")
		}
	}
	if process == nil {
		return nil, root.errf("no process element")
	}
	b.def = &Definition{ID: process.id(), Name: process.attr("", "name"), Elements: map[string]*Element{}, Flows: map[string]*Flow{}}
	if b.def.ID == "" {
		return nil, process.errf("process without id")
	}
	var flows []*node
	for _, c := range process.children {
		if c.space != NSBPMN {
			return nil, c.errf("unsupported element in namespace %q", c.space)
		}
		if passive(c) {
			continue
		}
		switch c.local {
		case "textAnnotation", "association":
			continue
		case "sequenceFlow":
			if err := b.register(c); err != nil {
				return nil, err
			}
			flows = append(flows, c)
			continue
		}
		el, err := b.element(c)
		if err != nil {
			return nil, err
		}
		if err := b.register(c); err != nil {
			return nil, err
		}
		b.def.Elements[el.ID] = el
		b.def.order = append(b.def.order, el)
	}
	for _, c := range flows {
		if err := b.flow(c); err != nil {
			return nil, err
		}
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return b.def, nil
}

func (b *builder) register(n *node) error {
	id := n.id()
	if id == "" {
		return n.errf("element without id")
	}
	if prev, ok := b.ids[id]; ok {
		return n.errf("duplicate id (first used on line %d)", prev.line)
	}
	b.ids[id] = n
	return nil
}

// onlyChildren checks that n has no children except passive ones and the
// listed local names; it returns those in order.
func onlyChildren(n *node, allowed ...string) ([]*node, error) {
	var out []*node
	for _, c := range n.children {
		if passive(c) {
			continue
		}
		ok := false
		if c.space == NSBPMN {
			for _, a := range allowed {
				if c.local == a {
					ok = true
				}
			}
		}
		if !ok {
			le := c.errf("unsupported element in %s %q", n.local, n.id())
			if c.id() == "" {
				le.ID = n.id()
			}
			return nil, le
		}
		out = append(out, c)
	}
	return out, nil
}

func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// extension finds zeebe:<local> inside extensionElements.
func extension(n *node, space, local string) *node {
	for _, c := range n.children {
		if c.space == NSBPMN && c.local == "extensionElements" {
			for _, e := range c.children {
				if e.space == space && e.local == local {
					return e
				}
			}
		}
	}
	return nil
}

func (b *builder) element(n *node) (*Element, error) {
	el := &Element{ID: n.id(), Name: n.attr("", "name"), Type: ElementType(n.local), Line: n.line}
	if el.ID == "" {
		return nil, n.errf("element without id")
	}
	switch el.Type {
	case StartEvent:
		if _, err := onlyChildren(n); err != nil {
			return nil, err
		}
	case EndEvent:
		if _, err := onlyChildren(n); err != nil {
			return nil, err
		}
		switch o := n.attr(NSPF, "outcome"); o {
		case "", "completed":
		case "failed":
			el.Failed = true
		default:
			return nil, n.errf("pf:outcome must be \"completed\" or \"failed\", not %q", o)
		}
		el.Reason = n.attr(NSPF, "reason")
		el.ReasonVariable = n.attr(NSPF, "reasonVariable")
		switch el.Notice = n.attr(NSPF, "notice"); el.Notice {
		case "":
		case "rejected", "expired":
			if !el.Failed {
				return nil, n.errf("pf:notice=%q needs pf:outcome=\"failed\"", el.Notice)
			}
		default:
			return nil, n.errf("pf:notice must be \"rejected\" or \"expired\", not %q", el.Notice)
		}
	case ExclusiveGateway, ParallelGateway:
		if _, err := onlyChildren(n); err != nil {
			return nil, err
		}
	case UserTask:
		if _, err := onlyChildren(n); err != nil {
			return nil, err
		}
		groups := n.attr(NSPF, "candidateGroups")
		if groups == "" {
			groups = n.attr(nsCamunda, "candidateGroups")
		}
		if groups == "" {
			if z := extension(n, nsZeebe, "assignmentDefinition"); z != nil {
				groups = z.attr("", "candidateGroups")
			}
		}
		el.CandidateGroups = splitList(groups)
		el.Assignee = n.attr(NSPF, "assignee")
		if el.Assignee == "" {
			el.Assignee = n.attr(nsCamunda, "assignee")
		}
		if strings.Contains(el.Assignee, "${") || strings.HasPrefix(el.Assignee, "=") {
			return nil, n.errf("expression assignees are not supported")
		}
		el.DistinctFrom = splitList(n.attr(NSPF, "distinctFrom"))
		switch el.Performer = n.attr(NSPF, "performer"); el.Performer {
		case "":
		case PerformerRequester:
			if len(el.CandidateGroups) > 0 || el.Assignee != "" || len(el.DistinctFrom) > 0 {
				return nil, n.errf("a pf:performer=\"requester\" task takes no candidate groups, assignee or pf:distinctFrom")
			}
		default:
			return nil, n.errf("pf:performer must be \"requester\", got %q", el.Performer)
		}
	case ServiceTask:
		if _, err := onlyChildren(n); err != nil {
			return nil, err
		}
		el.ServiceType = n.attr(NSPF, "type")
		if el.ServiceType == "" {
			el.ServiceType = n.attr(nsCamunda, "type")
		}
		if el.ServiceType == "" || el.ServiceType == "external" {
			if t := n.attr(nsCamunda, "topic"); t != "" {
				el.ServiceType = t
			}
		}
		if el.ServiceType == "" {
			if z := extension(n, nsZeebe, "taskDefinition"); z != nil {
				el.ServiceType = z.attr("", "type")
			}
		}
		if el.ServiceType == "" {
			return nil, n.errf("serviceTask without a type (set pf:type)")
		}
		for _, a := range n.attrs {
			if a.Name.Space == NSPF && a.Name.Local != "type" {
				if el.Params == nil {
					el.Params = map[string]string{}
				}
				el.Params[a.Name.Local] = a.Value
			}
		}
	case MessageCatch:
		defs, err := onlyChildren(n, "messageEventDefinition")
		if err != nil {
			return nil, err
		}
		if len(defs) != 1 {
			return nil, n.errf("intermediateCatchEvent needs exactly one messageEventDefinition")
		}
		ref := defs[0].attr("", "messageRef")
		name, ok := b.messages[ref]
		if !ok {
			return nil, n.errf("messageRef %q does not name a bpmn:message", ref)
		}
		if _, err := onlyChildren(defs[0]); err != nil {
			return nil, err
		}
		el.Message = name
	case BoundaryTimer:
		defs, err := onlyChildren(n, "timerEventDefinition")
		if err != nil {
			return nil, err
		}
		if len(defs) != 1 {
			return nil, n.errf("boundaryEvent needs exactly one timerEventDefinition")
		}
		parts, err := onlyChildren(defs[0], "timeDuration")
		if err != nil {
			return nil, err
		}
		if len(parts) != 1 {
			return nil, defs[0].errf("timerEventDefinition needs exactly one timeDuration (timeDate and timeCycle are not supported)")
		}
		txt := strings.TrimSpace(parts[0].text.String())
		d, err := ParseDuration(txt)
		if err != nil {
			return nil, &LoadError{Line: parts[0].line, ID: el.ID, Type: "timeDuration", Msg: err.Error()}
		}
		el.Duration = d
		el.AttachedTo = n.attr("", "attachedToRef")
		el.Interrupting = true
		if n.hasAttr("", "cancelActivity") {
			switch v := n.attr("", "cancelActivity"); v {
			case "true":
			case "false":
				el.Interrupting = false
			default:
				return nil, n.errf("cancelActivity must be true or false, not %q", v)
			}
		}
	default:
		return nil, n.errf("unsupported element")
	}
	return el, nil
}

func (b *builder) flow(n *node) error {
	f := &Flow{ID: n.id(), Source: n.attr("", "sourceRef"), Target: n.attr("", "targetRef"), Line: n.line}
	conds, err := onlyChildren(n, "conditionExpression")
	if err != nil {
		return err
	}
	if len(conds) > 1 {
		return n.errf("more than one conditionExpression")
	}
	if len(conds) == 1 {
		c := conds[0]
		if t := c.attr(nsXSI, "type"); t != "" && !strings.HasSuffix(t, "tFormalExpression") {
			return n.errf("conditionExpression xsi:type %q is not supported (use tFormalExpression)", t)
		}
		src := strings.TrimSpace(c.text.String())
		switch {
		case strings.HasPrefix(src, "${") && strings.HasSuffix(src, "}"), strings.HasPrefix(src, "#{") && strings.HasSuffix(src, "}"):
			src = strings.TrimSpace(src[2 : len(src)-1])
		case strings.HasPrefix(src, "="):
			src = strings.TrimSpace(src[1:])
		}
		if src == "" {
			return n.errf("empty conditionExpression")
		}
		prog, err := expr.Compile(src, expr.AllowUndefinedVariables(), expr.AsBool())
		if err != nil {
			return &LoadError{Line: c.line, ID: f.ID, Type: "sequenceFlow", Msg: "invalid condition: " + err.Error()}
		}
		f.Condition, f.program = src, prog
	}
	src, ok := b.def.Elements[f.Source]
	if !ok {
		return n.errf("sourceRef %q is not a supported flow node of this process", f.Source)
	}
	dst, ok := b.def.Elements[f.Target]
	if !ok {
		return n.errf("targetRef %q is not a supported flow node of this process", f.Target)
	}
	switch {
	case src.Type == EndEvent:
		return n.errf("a sequence flow cannot leave endEvent %q", src.ID)
	case dst.Type == StartEvent:
		return n.errf("a sequence flow cannot enter startEvent %q", dst.ID)
	case dst.Type == BoundaryTimer:
		return n.errf("a sequence flow cannot enter boundaryEvent %q", dst.ID)
	case f.program != nil && src.Type != ExclusiveGateway:
		return n.errf("conditional flows are only supported leaving an exclusiveGateway (source %s %q)", src.Type, src.ID)
	}
	b.def.Flows[f.ID] = f
	src.Outgoing = append(src.Outgoing, f)
	dst.Incoming = append(dst.Incoming, f)
	return nil
}
