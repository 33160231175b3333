package workflow

import (
	"fmt"
	"slices"
	"strings"
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

// documentation elements of a process (or of a flow node, for the data
// associations): drawn, never executed; skipped with a note in
// Definition.Ignored.
var documentation = map[string]bool{
	"laneSet": true, "textAnnotation": true, "association": true, "dataObject": true, "dataObjectReference": true,
	"dataStoreReference": true, "group": true, "dataInputAssociation": true, "dataOutputAssociation": true,
	"property": true,
}

// engineNamespaces are the extension namespaces of other engines, whose
// attributes change execution and are never implemented here.
var engineNamespaces = map[string]string{
	"http://activiti.org/bpmn":    "activiti",
	"http://flowable.org/bpmn":    "flowable",
	"http://www.jboss.org/drools": "drools",
}

// attrRules lists, per BPMN element, the attributes the engine implements
// (or, for the marked no-ops, that have no effect on execution by their
// own definition). Keys are "prefix:local" with prefixes camunda, zeebe,
// pf and xsi, or the bare local name. Attributes in other namespaces
// (colours, modeler metadata) are presentation and are not checked, except
// those of other engines, which are refused.
var attrRules = map[string][]string{
	"definitions":            nil, // root: checked separately
	"process":                {"id", "name", "isExecutable", "camunda:historyTimeToLive", "camunda:versionTag", "camunda:isStartableInTasklist"},
	"collaboration":          {"id", "name"},
	"participant":            {"id", "name", "processRef"},
	"messageFlow":            {"id", "name", "sourceRef", "targetRef", "messageRef"},
	"message":                {"id", "name"},
	"startEvent":             {"id", "name"},
	"endEvent":               {"id", "name", "pf:outcome", "pf:reason", "pf:reasonVariable", "pf:notice"},
	"exclusiveGateway":       {"id", "name", "default", "gatewayDirection"},
	"parallelGateway":        {"id", "name", "gatewayDirection"},
	"userTask":               {"id", "name", "pf:candidateGroups", "pf:candidateUsers", "pf:assignee", "pf:distinctFrom", "pf:performer", "camunda:candidateGroups", "camunda:candidateUsers", "camunda:assignee"},
	"serviceTask":            {"id", "name", "pf:type", "camunda:type", "camunda:topic"}, // and any other pf:* (handler params)
	"intermediateCatchEvent": {"id", "name"},
	"boundaryEvent":          {"id", "name", "attachedToRef", "cancelActivity"},
	"sequenceFlow":           {"id", "name", "sourceRef", "targetRef"},
	"conditionExpression":    {"id", "xsi:type", "language"},
	"messageEventDefinition": {"id", "messageRef"},
	"timerEventDefinition":   {"id"},
	"timeDuration":           {"id", "xsi:type"},
}

// extensionRules lists, per BPMN element, the extension elements (inside
// extensionElements) the engine implements, with their attributes.
var extensionRules = map[string]map[string][]string{
	"userTask": {
		"zeebe:assignmentDefinition": {"assignee", "candidateGroups", "candidateUsers"},
		"zeebe:userTask":             {},
	},
	"serviceTask": {
		"zeebe:taskDefinition": {"type"},
	},
}

func prefixOf(space string) (string, bool) {
	switch space {
	case "", NSBPMN:
		return "", true
	case nsCamunda:
		return "camunda", true
	case nsZeebe:
		return "zeebe", true
	case NSPF:
		return "pf", true
	case nsXSI:
		return "xsi", true
	}
	if p, ok := engineNamespaces[space]; ok {
		return p, true
	}
	return "", false
}

// checkAttrs refuses attributes of n the engine does not implement.
func checkAttrs(n *node, allowed []string) error {
	for _, a := range n.attrs {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		p, known := prefixOf(a.Name.Space)
		if !known {
			continue // presentation (colours, modeler metadata)
		}
		key := a.Name.Local
		if p != "" {
			key = p + ":" + key
		}
		if slices.Contains(allowed, key) || n.local == "serviceTask" && p == "pf" {
			continue
		}
		le := n.errf("attribute %s is not supported", key)
		le.Attr = key
		return le
	}
	return nil
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
	if el := root.attr("", "expressionLanguage"); el != "" {
		if _, ok := languageOf(el); !ok {
			le := root.errf("expressionLanguage %q is not supported (FEEL or JUEL)", el)
			le.Attr = "expressionLanguage"
			return nil, le
		}
	}
	b := &builder{messages: map[string]string{}, ids: map[string]*node{}, def: &Definition{Elements: map[string]*Element{}, Flows: map[string]*Flow{}}}
	var processes []*node
	var collab *node
	for _, c := range root.children {
		if c.space != NSBPMN {
			return nil, c.errf("unsupported element <%s> in namespace %q", c.local, c.space)
		}
		switch c.local {
		case "process":
			processes = append(processes, c)
		case "collaboration":
			if collab != nil {
				return nil, c.errf("only one collaboration per definition is supported")
			}
			collab = c
		case "message":
			if err := b.message(c); err != nil {
				return nil, err
			}
		case "documentation", "extensionElements":
		case "category", "dataStore", "itemDefinition":
			b.ignore(c)
		default:
			return nil, c.errf("unsupported element <%s>", c.local)
		}
	}
	process, err := b.pickProcess(root, processes, collab)
	if err != nil {
		return nil, err
	}
	if err := checkAttrs(process, attrRules["process"]); err != nil {
		return nil, err
	}
	b.def.ID, b.def.Name = process.id(), process.attr("", "name")
	if b.def.ID == "" {
		return nil, process.errf("process without id")
	}
	var flows []*node
	for _, c := range process.children {
		if c.space != NSBPMN {
			return nil, c.errf("unsupported element <%s> in namespace %q", c.local, c.space)
		}
		if passive(c) {
			if err := extensions(c, process); err != nil {
				return nil, err
			}
			continue
		}
		if documentation[c.local] {
			b.ignore(c)
			continue
		}
		if c.local == "sequenceFlow" {
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
	if err := b.validate(process); err != nil {
		return nil, err
	}
	return b.def, nil
}

func (b *builder) message(c *node) error {
	if err := checkAttrs(c, attrRules["message"]); err != nil {
		return err
	}
	if c.id() == "" {
		return c.errf("message without id")
	}
	for _, x := range c.children {
		if x.space == NSBPMN && x.local == "extensionElements" {
			for _, e := range x.children {
				if e.space == nsZeebe && e.local == "subscription" {
					le := e.errf("zeebe:subscription correlationKey is not supported: a message is delivered to the instance of its request")
					le.ID, le.Attr = c.id(), "correlationKey"
					return le
				}
				return e.errf("unsupported extension element <%s> of message %q", e.local, c.id())
			}
		}
	}
	name := c.attr("", "name")
	if name == "" {
		name = c.id()
	}
	b.messages[c.id()] = name
	return nil
}

// pickProcess finds the one executable process: the only process of the
// file, or, among several (a collaboration with pools), the one with
// isExecutable="true"; the other pools are documentation.
func (b *builder) pickProcess(root *node, processes []*node, collab *node) (*node, error) {
	if collab != nil {
		if err := checkAttrs(collab, attrRules["collaboration"]); err != nil {
			return nil, err
		}
		for _, c := range collab.children {
			if passive(c) {
				continue
			}
			if c.space != NSBPMN {
				return nil, c.errf("unsupported element <%s> in namespace %q", c.local, c.space)
			}
			switch c.local {
			case "participant", "messageFlow":
				if err := checkAttrs(c, attrRules[c.local]); err != nil {
					return nil, err
				}
				for _, x := range c.children {
					if !passive(x) {
						return nil, x.errf("unsupported element <%s> in %s %q", x.local, c.local, c.id())
					}
				}
				if c.local == "messageFlow" {
					b.ignore(c)
				}
			case "textAnnotation", "association", "group":
				b.ignore(c)
			default:
				return nil, c.errf("unsupported element <%s> in collaboration %q", c.local, collab.id())
			}
		}
	}
	switch len(processes) {
	case 0:
		if collab != nil {
			return nil, collab.errf("no process: the collaboration's pools are all empty (black-box)")
		}
		return nil, root.errf("no process element")
	case 1:
		return processes[0], nil
	}
	var exec *node
	for _, p := range processes {
		if p.attr("", "isExecutable") == "true" {
			if exec != nil {
				return nil, p.errf("more than one executable process (first %q on line %d); mark the others isExecutable=\"false\"", exec.id(), exec.line)
			}
			exec = p
		}
	}
	if exec == nil {
		return nil, processes[1].errf("several processes and none has isExecutable=\"true\"")
	}
	for _, p := range processes {
		if p != exec {
			b.ignore(p)
		}
	}
	return exec, nil
}

func (b *builder) ignore(n *node) {
	id := n.id()
	if id == "" {
		id = "(no id)"
	}
	b.def.Ignored = append(b.def.Ignored, fmt.Sprintf("%s %s at line %d", n.local, id, n.line))
}

func (b *builder) register(n *node) error {
	id := n.id()
	if id == "" {
		return n.errf("<%s> without id", n.local)
	}
	if prev, ok := b.ids[id]; ok {
		return n.errf("duplicate id (first used on line %d)", prev.line)
	}
	b.ids[id] = n
	return nil
}

// onlyChildren checks that n has no children except passive ones and the
// listed local names; it returns those in order. extensionElements are
// checked against extensionRules of n's type.
func (b *builder) onlyChildren(n *node, allowed ...string) ([]*node, error) {
	var out []*node
	for _, c := range n.children {
		if passive(c) {
			if err := extensions(c, n); err != nil {
				return nil, err
			}
			continue
		}
		if c.space == NSBPMN && (c.local == "dataInputAssociation" || c.local == "dataOutputAssociation" || c.local == "property") {
			b.ignore(c)
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
			le := c.errf("unsupported element <%s> in %s %q", c.local, n.local, n.id())
			if c.id() == "" {
				le.ID = n.id()
			}
			return nil, le
		}
		if err := checkAttrs(c, attrRules[c.local]); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// extensions checks the children of an extensionElements element c of
// owner against extensionRules.
func extensions(c, owner *node) error {
	if c.local != "extensionElements" {
		return nil
	}
	rules := extensionRules[owner.local]
	for _, e := range c.children {
		p, known := prefixOf(e.space)
		key := e.local
		if p != "" {
			key = p + ":" + e.local
		}
		attrs, ok := rules[key]
		if !ok {
			if !known && !strings.Contains(e.space, "camunda") {
				continue // a modeler's own metadata
			}
			le := e.errf("extension element <%s> of %s %q is not supported", key, owner.local, owner.id())
			le.ID, le.Attr = owner.id(), key
			return le
		}
		for _, a := range e.attrs {
			if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
				continue
			}
			if a.Name.Space != "" || !slices.Contains(attrs, a.Name.Local) {
				le := e.errf("attribute %s of <%s> is not supported", a.Name.Local, key)
				le.ID, le.Attr = owner.id(), key+" "+a.Name.Local
				return le
			}
		}
		if len(e.children) > 0 {
			le := e.children[0].errf("unsupported element <%s> in <%s>", e.children[0].local, key)
			le.ID = owner.id()
			return le
		}
	}
	return nil
}

func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// extension finds <space:local> inside extensionElements.
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

// attrErr is a LoadError for attribute attr of n.
func attrErr(n *node, attr string, format string, args ...any) *LoadError {
	le := n.errf(format, args...)
	le.Attr = attr
	return le
}

func (b *builder) element(n *node) (*Element, error) {
	el := &Element{ID: n.id(), Name: n.attr("", "name"), Type: ElementType(n.local), Line: n.line}
	switch el.Type {
	case StartEvent, EndEvent, ExclusiveGateway, ParallelGateway, UserTask, ServiceTask, MessageCatch, BoundaryTimer:
	default:
		return nil, n.errf("unsupported element <%s>", n.local)
	}
	if err := checkAttrs(n, attrRules[n.local]); err != nil {
		return nil, err
	}
	if el.ID == "" {
		return nil, n.errf("<%s> without id", n.local)
	}
	switch el.Type {
	case StartEvent:
		if _, err := b.onlyChildren(n); err != nil {
			return nil, err
		}
	case EndEvent:
		if _, err := b.onlyChildren(n); err != nil {
			return nil, err
		}
		switch o := n.attr(NSPF, "outcome"); o {
		case "", "completed":
		case "failed":
			el.Failed = true
		default:
			return nil, attrErr(n, "pf:outcome", "pf:outcome must be \"completed\" or \"failed\", not %q", o)
		}
		el.Reason = n.attr(NSPF, "reason")
		el.ReasonVariable = n.attr(NSPF, "reasonVariable")
		switch el.Notice = n.attr(NSPF, "notice"); el.Notice {
		case "":
		case "rejected", "expired":
			if !el.Failed {
				return nil, attrErr(n, "pf:notice", "pf:notice=%q needs pf:outcome=\"failed\"", el.Notice)
			}
		default:
			return nil, attrErr(n, "pf:notice", "pf:notice must be \"rejected\" or \"expired\", not %q", el.Notice)
		}
	case ExclusiveGateway, ParallelGateway:
		if _, err := b.onlyChildren(n); err != nil {
			return nil, err
		}
	case UserTask:
		if _, err := b.onlyChildren(n); err != nil {
			return nil, err
		}
		if err := b.userTask(n, el); err != nil {
			return nil, err
		}
	case ServiceTask:
		if _, err := b.onlyChildren(n); err != nil {
			return nil, err
		}
		if err := b.serviceTask(n, el); err != nil {
			return nil, err
		}
	case MessageCatch:
		defs, err := b.onlyChildren(n, "messageEventDefinition")
		if err != nil {
			return nil, err
		}
		if len(defs) != 1 {
			return nil, n.errf("intermediateCatchEvent needs exactly one messageEventDefinition")
		}
		ref := defs[0].attr("", "messageRef")
		name, ok := b.messages[ref]
		if !ok {
			return nil, attrErr(n, "messageRef", "messageRef %q does not name a bpmn:message", ref)
		}
		if _, err := b.onlyChildren(defs[0]); err != nil {
			return nil, err
		}
		el.Message = name
	case BoundaryTimer:
		defs, err := b.onlyChildren(n, "timerEventDefinition")
		if err != nil {
			return nil, err
		}
		if len(defs) != 1 {
			return nil, n.errf("boundaryEvent needs exactly one timerEventDefinition")
		}
		parts, err := b.onlyChildren(defs[0], "timeDuration")
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
				return nil, attrErr(n, "cancelActivity", "cancelActivity must be true or false, not %q", v)
			}
		}
	default:
		return nil, n.errf("unsupported element <%s>", n.local)
	}
	return el, nil
}

// userTask reads who may decide: assignee, candidate users and candidate
// groups from the pf, camunda (Camunda 7: literals and ${…} items) or
// zeebe:assignmentDefinition (Camunda 8: literals or one =FEEL each)
// forms. Only one form may be used per task.
func (b *builder) userTask(n *node, el *Element) error {
	type source struct {
		attr string
		val  string
		list func(string) ([]string, []*expression, error)
	}
	var forms []string
	var assignee, users, groups source
	set := func(dst *source, attr, val string, list func(string) ([]string, []*expression, error)) {
		if val != "" {
			*dst = source{attr: attr, val: val, list: list}
		}
	}
	for _, f := range []struct {
		prefix, space string
		list          func(string) ([]string, []*expression, error)
	}{{"pf", NSPF, camundaList}, {"camunda", nsCamunda, camundaList}} {
		used := false
		for _, a := range []struct {
			local string
			dst   *source
		}{{"assignee", &assignee}, {"candidateUsers", &users}, {"candidateGroups", &groups}} {
			if n.hasAttr(f.space, a.local) {
				used = true
				set(a.dst, f.prefix+":"+a.local, n.attr(f.space, a.local), f.list)
			}
		}
		if used {
			forms = append(forms, f.prefix)
		}
	}
	if z := extension(n, nsZeebe, "assignmentDefinition"); z != nil {
		forms = append(forms, "zeebe")
		set(&assignee, "zeebe:assignmentDefinition assignee", z.attr("", "assignee"), zeebeList)
		set(&users, "zeebe:assignmentDefinition candidateUsers", z.attr("", "candidateUsers"), zeebeList)
		set(&groups, "zeebe:assignmentDefinition candidateGroups", z.attr("", "candidateGroups"), zeebeList)
	}
	if len(forms) > 1 {
		return n.errf("assignment given in several forms (%s); use one", strings.Join(forms, ", "))
	}
	for _, s := range []struct {
		src  source
		lits *[]string
		xs   *[]*expression
	}{{users, &el.CandidateUsers, &el.assign.users}, {groups, &el.CandidateGroups, &el.assign.groups}} {
		if s.src.val == "" {
			continue
		}
		lits, xs, err := s.src.list(s.src.val)
		if err != nil {
			return attrErr(n, s.src.attr, "%s: %v", s.src.attr, err)
		}
		*s.lits, *s.xs = lits, xs
	}
	if assignee.val != "" {
		lits, xs, err := assignee.list(assignee.val)
		if err != nil {
			return attrErr(n, assignee.attr, "%s: %v", assignee.attr, err)
		}
		switch {
		case len(lits)+len(xs) != 1:
			return attrErr(n, assignee.attr, "%s must name exactly one user", assignee.attr)
		case len(xs) == 1:
			el.assign.assignee = xs[0]
		default:
			el.Assignee = lits[0]
		}
	}
	el.DistinctFrom = splitList(n.attr(NSPF, "distinctFrom"))
	switch el.Performer = n.attr(NSPF, "performer"); el.Performer {
	case "":
	case PerformerRequester:
		if forms != nil || len(el.DistinctFrom) > 0 {
			return attrErr(n, "pf:performer", "a pf:performer=\"requester\" task takes no assignee, candidate users or groups, or pf:distinctFrom")
		}
	default:
		return attrErr(n, "pf:performer", "pf:performer must be \"requester\", not %q", el.Performer)
	}
	return nil
}

func (b *builder) serviceTask(n *node, el *Element) error {
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
			if strings.HasPrefix(strings.TrimSpace(el.ServiceType), "=") {
				return attrErr(n, "zeebe:taskDefinition type", "zeebe:taskDefinition type %q is an expression; the engine needs a fixed handler type", el.ServiceType)
			}
		}
	}
	if strings.Contains(el.ServiceType, "${") || strings.Contains(el.ServiceType, "#{") {
		return attrErr(n, "camunda:topic", "service type %q is an expression; the engine needs a fixed handler type", el.ServiceType)
	}
	if el.ServiceType == "" {
		return n.errf("serviceTask without a type (set pf:type)")
	}
	for _, a := range n.attrs {
		if a.Name.Space == NSPF && a.Name.Local != "type" {
			if el.Params == nil {
				el.Params = map[string]string{}
			}
			el.Params[a.Name.Local] = a.Value
		}
	}
	return nil
}

func (b *builder) flow(n *node) error {
	f := &Flow{ID: n.id(), Source: n.attr("", "sourceRef"), Target: n.attr("", "targetRef"), Line: n.line}
	if err := checkAttrs(n, attrRules["sequenceFlow"]); err != nil {
		return err
	}
	conds, err := b.onlyChildren(n, "conditionExpression")
	if err != nil {
		return err
	}
	if len(conds) > 1 {
		return n.errf("more than one conditionExpression")
	}
	if len(conds) == 1 {
		c := conds[0]
		condErr := func(attr, format string, args ...any) error {
			return &LoadError{Line: c.line, ID: f.ID, Type: "sequenceFlow", Attr: attr, Msg: fmt.Sprintf(format, args...)}
		}
		if t := c.attr(nsXSI, "type"); t != "" && !strings.HasSuffix(t, "tFormalExpression") {
			return condErr("xsi:type", "conditionExpression xsi:type %q is not supported (use tFormalExpression)", t)
		}
		lang, ok := languageOf(c.attr("", "language"))
		if !ok {
			return condErr("language", "conditionExpression language %q is not supported (FEEL or JUEL)", c.attr("", "language"))
		}
		src := strings.TrimSpace(c.text.String())
		if src == "" {
			return condErr("conditionExpression", "empty conditionExpression")
		}
		x, err := compileExpr(src, lang)
		if err != nil {
			return condErr("conditionExpression", "invalid condition %s: %v", src, err)
		}
		f.Condition, f.Language, f.cond = src, x.lang, x
	}
	src, ok := b.def.Elements[f.Source]
	if !ok {
		return attrErr(n, "sourceRef", "sourceRef %q is not a supported flow node of this process", f.Source)
	}
	dst, ok := b.def.Elements[f.Target]
	if !ok {
		return attrErr(n, "targetRef", "targetRef %q is not a supported flow node of this process", f.Target)
	}
	switch {
	case src.Type == EndEvent:
		return n.errf("a sequence flow cannot leave endEvent %q", src.ID)
	case dst.Type == StartEvent:
		return n.errf("a sequence flow cannot enter startEvent %q", dst.ID)
	case dst.Type == BoundaryTimer:
		return n.errf("a sequence flow cannot enter boundaryEvent %q", dst.ID)
	case f.cond != nil && src.Type != ExclusiveGateway:
		return n.errf("conditional flows are only supported leaving an exclusiveGateway (source %s %q)", src.Type, src.ID)
	}
	b.def.Flows[f.ID] = f
	src.Outgoing = append(src.Outgoing, f)
	dst.Incoming = append(dst.Incoming, f)
	return nil
}
