package workflow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/handler/domain"
)

// corpusCase is one definition of the corpus: either it loads and walk
// drives it through the path its diagram describes, asserting each step,
// or it is refused and the error names errID, errAttr and the line of
// errAt (a substring of the XML).
type corpusCase struct {
	name string
	rows []string // rows of the supported-subset table it exercises
	file string   // testdata/corpus/<file>, or:
	xml  string
	walk func(t *testing.T, def *Definition)

	errID, errAttr, errAt, errMsg string
}

// c7/c8/io wrap a process body in the definitions element of each
// modeler flavour.
func c7(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D7" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.28.0">
<bpmn:process id="P7" isExecutable="true" camunda:historyTimeToLive="180">
` + body + `
</bpmn:process>
</bpmn:definitions>`
}

func c8(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D8" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.28.0">
<bpmn:process id="P8" isExecutable="true">
` + body + `
</bpmn:process>
</bpmn:definitions>`
}

// gateway is a start, an exclusive gateway with one conditional flow to
// EndYes (cond, in the language's own form) and a default to EndNo.
func gateway(cond string) string {
	return `<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" default="FNo" /><bpmn:endEvent id="EndYes" /><bpmn:endEvent id="EndNo" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" />
<bpmn:sequenceFlow id="FYes" sourceRef="G" targetRef="EndYes"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">` + cond + `</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="FNo" sourceRef="G" targetRef="EndNo" />`
}

// oneTask is a start, userTask T with the given attributes and children, and an end.
func oneTask(attrs, children string) string {
	return `<bpmn:startEvent id="S" /><bpmn:userTask id="T" ` + attrs + `>` + children + `</bpmn:userTask><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="T" /><bpmn:sequenceFlow id="F1" sourceRef="T" targetRef="E" />`
}

// routes checks which end each variable set reaches ("incident" for an
// instance that failed at the gateway).
func routes(cases ...struct {
	vars map[string]any
	end  string
}) func(*testing.T, *Definition) {
	return func(t *testing.T, def *Definition) {
		for _, c := range cases {
			in, _, err := Start(context.Background(), def, "i", c.vars, t0, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := in.Outcome.End
			if in.Status == StatusFailed && got == "G" {
				got = "incident"
			}
			if got != c.end {
				t.Errorf("vars %v: ended at %s (%s, %q), want %s", c.vars, got, in.Status, in.Outcome.Reason, c.end)
			}
		}
	}
}

type route = struct {
	vars map[string]any
	end  string
}

// allowed is decideAs's expectation of success.
const allowed domain.Kind = -1

// decideAs delivers a decision and checks the error kind (allowed: success).
func decideAs(t *testing.T, in *Instance, def *Definition, id, task, actor string, groups []string, want domain.Kind) {
	t.Helper()
	_, err := in.Deliver(context.Background(), def, Event{ID: id, Type: EventTaskDecision, TaskID: task, Decision: Approve, Actor: actor, Groups: groups}, t0, ServiceHandlers{"serve": func(*ServiceContext) error { return nil }, "apply": func(*ServiceContext) error { return nil }})
	if want == allowed {
		if err != nil {
			t.Fatalf("%s deciding %s: %v", actor, task, err)
		}
		return
	}
	if domain.KindOf(err) != want {
		t.Fatalf("%s deciding %s: error %v, want kind %s", actor, task, err, want)
	}
}

var corpus = []corpusCase{
	{
		name: "Camunda 7 in a pool: lanes, annotations, data objects; JUEL; candidate users and expression groups",
		rows: []string{"definitions", "process", "collaboration", "documentation", "presentation", "startEvent", "endEvent", "exclusiveGateway", "userTask",
			"candidateUsers", "candidateGroups", "serviceTask", "boundaryTimer", "condition", "juel", "unsetVariables"},
		file: "c7_pool.bpmn",
		walk: func(t *testing.T, def *Definition) {
			if len(def.Ignored) != 9 || !strings.Contains(strings.Join(def.Ignored, "|"), "laneSet LaneSet_1 at line 12") {
				t.Errorf("ignored = %v", def.Ignored)
			}
			svc := ServiceHandlers{"apply": func(*ServiceContext) error { return nil }}
			small, _, err := Start(context.Background(), def, "small", map[string]any{"amount": 100}, t0, svc)
			if err != nil || small.Outcome == nil || small.Outcome.End != "End_done" {
				t.Fatalf("amount 100: %v %+v", err, small.Outcome)
			}
			in, _, err := Start(context.Background(), def, "big", map[string]any{"amount": 101, "reviewer": "rob", "approverGroups": "g1, g2"}, t0, svc)
			if err != nil {
				t.Fatal(err)
			}
			task := in.OpenTasks()[0]
			if !slices.Equal(task.CandidateUsers, []string{"alice", "rob"}) || !slices.Equal(task.CandidateGroups, []string{"g1", "g2"}) {
				t.Fatalf("task = %+v", task)
			}
			decideAs(t, in, def, "d0", "Review", "mallory", []string{"ProfileApprover"}, domain.KindForbidden)
			decideAs(t, in, def, "d1", "Review", "bob", []string{"g2"}, allowed) // a candidate group qualifies
			// vetoed was never set: !null is true in EL, so the approval applies.
			if in.Status != StatusCompleted || in.Outcome.End != "End_done" {
				t.Fatalf("after approval: %s %+v", in.Status, in.Outcome)
			}
			in2, _, _ := Start(context.Background(), def, "big2", map[string]any{"amount": 500.5, "reviewer": "rob", "approverGroups": []string{"g1"}}, t0, svc)
			decideAs(t, in2, def, "d1", "Review", "alice", nil, allowed) // a candidate user qualifies
			if in2.Status != StatusCompleted {
				t.Fatalf("alice's approval: %s", in2.Status)
			}
		},
	},
	{
		name: "Camunda 8 in a pool: FEEL equality, ranges, is defined; zeebe assignment expressions",
		rows: []string{"collaboration", "documentation", "feel", "assignee", "candidateUsers", "candidateGroups", "zeebeUserTask", "serviceTask", "condition"},
		file: "c8_pool.bpmn",
		walk: func(t *testing.T, def *Definition) {
			svc := ServiceHandlers{"serve": func(*ServiceContext) error { return nil }}
			beef, _, _ := Start(context.Background(), def, "beef", map[string]any{"meal": "beef"}, t0, svc)
			if beef.Outcome == nil || beef.Outcome.End != "End_other" {
				t.Fatalf("beef: %+v", beef.Outcome)
			}
			vars := map[string]any{"meal": "chicken", "amount": 5, "cooks": []string{"Cooks"}, "order": map[string]any{"owner": "olga"}}
			in, _, err := Start(context.Background(), def, "chicken", vars, t0, svc)
			if err != nil || len(in.OpenTasks()) != 1 {
				t.Fatalf("chicken: %v %+v", err, in)
			}
			if task := in.OpenTasks()[0]; !slices.Equal(task.CandidateGroups, []string{"Cooks"}) || !slices.Equal(task.CandidateUsers, []string{"chef"}) {
				t.Fatalf("Cook = %+v", task)
			}
			decideAs(t, in, def, "d0", "Cook", "anyone", []string{"ProfileApprover"}, domain.KindForbidden)
			decideAs(t, in, def, "d1", "Cook", "chef", nil, allowed)
			if task := in.OpenTasks()[0]; task.Assignee != "olga" {
				t.Fatalf("Taste assignee = %q", task.Assignee)
			}
			decideAs(t, in, def, "d2", "Taste", "chef", []string{"Cooks"}, domain.KindForbidden)
			decideAs(t, in, def, "d3", "Taste", "olga", nil, allowed)
			if in.Outcome == nil || in.Outcome.End != "End_served" { // 5 in [1..10]
				t.Fatalf("amount 5: %+v", in.Outcome)
			}
		},
	},
	{
		name: "bpmn.io: non-executable single process, group, data store; parallel, message, timer, FEEL by language attribute",
		rows: []string{"process", "documentation", "parallelGateway", "messageCatch", "boundaryTimer", "distinctFrom", "condition", "feel", "endEvent"},
		file: "bpmnio.bpmn",
		walk: func(t *testing.T, def *Definition) {
			in, _, err := Start(context.Background(), def, "io", nil, t0, nil)
			if err != nil || len(in.Messages) != 1 || len(in.OpenTasks()) != 1 {
				t.Fatalf("start: %v %+v", err, in)
			}
			ctx := context.Background()
			if _, err := in.Deliver(ctx, def, Event{ID: "esc", Type: EventTimerFired, TimerID: in.Timers[0].ID}, t0.Add(2*time.Hour), nil); err != nil {
				t.Fatal(err)
			}
			if open := in.OpenTasks(); len(open) != 1 || open[0].Element != "Check2" {
				t.Fatalf("after escalation: %+v", open)
			}
			decideAs(t, in, def, "d1", "Check2", "carl", []string{"Checkers"}, allowed)
			if _, err := in.Deliver(ctx, def, Event{ID: "m", Type: EventMessage, Name: "scanned", Vars: map[string]any{"clean": false, "problem": "virus"}}, t0, nil); err != nil {
				t.Fatal(err)
			}
			if in.Status != StatusFailed || in.Outcome.End != "End_fail" || in.Outcome.Reason != "virus" {
				t.Fatalf("unclean: %s %+v", in.Status, in.Outcome)
			}
		},
	},
	{
		name: "JUEL: equality with strings and booleans, unset variables are null",
		rows: []string{"juel", "unsetVariables", "conditionResult"},
		xml:  c7(gateway(`${!flag &amp;&amp; (kind == "a" || kind eq 'b') &amp;&amp; approved == true}`)),
		walk: routes(route{map[string]any{"kind": "a", "approved": true}, "EndYes"}, route{map[string]any{"kind": "b", "approved": "true"}, "EndYes"},
			route{map[string]any{"kind": "a", "approved": true, "flag": true}, "EndNo"}, route{map[string]any{"kind": "c", "approved": true}, "EndNo"},
			route{map[string]any{"kind": "a"}, "EndNo"}, route{map[string]any{"kind": "a", "approved": 1}, "incident"}),
	},
	{
		name: "JUEL: an unset variable as the whole condition is null, not a boolean: incident",
		rows: []string{"unsetVariables", "conditionResult"},
		xml:  c7(gateway(`${x}`)),
		walk: routes(route{map[string]any{"x": true}, "EndYes"}, route{map[string]any{"x": false}, "EndNo"}, route{nil, "incident"}, route{map[string]any{"x": "yes"}, "incident"}),
	},
	{
		name: "FEEL: ranges, lists, null comparison, three-valued logic",
		rows: []string{"feel", "unsetVariables", "conditionResult"},
		xml:  c8(gateway(`= amount in [1..10] or tier in ["gold", "silver"]`)),
		walk: routes(route{map[string]any{"amount": 5}, "EndYes"}, route{map[string]any{"amount": 11, "tier": "gold"}, "EndYes"},
			route{map[string]any{"amount": 11, "tier": "bronze"}, "EndNo"}, route{map[string]any{"tier": "gold"}, "EndYes"},
			route{map[string]any{"tier": "bronze"}, "incident"}, // null in [1..10] is null; null or false is null
			route{map[string]any{"amount": "5", "tier": "x"}, "incident"}),
	},
	{
		name: "FEEL: is defined and null equality",
		rows: []string{"feel", "unsetVariables"},
		xml:  c8(gateway(`= is defined(x) and x = null`)),
		walk: routes(route{map[string]any{"x": nil}, "EndYes"}, route{nil, "EndNo"}, route{map[string]any{"x": 1}, "EndNo"}),
	},
	{
		name: "language=\"juel\" is honoured", rows: []string{"condition"},
		xml:  c7(strings.Replace(gateway(`${n &gt; 1}`), `<bpmn:conditionExpression `, `<bpmn:conditionExpression language="juel" `, 1)),
		walk: routes(route{map[string]any{"n": 2}, "EndYes"}, route{map[string]any{"n": 1}, "EndNo"}),
	},
	{
		name: "a requester task: only the requester answers, its variables route on; pf:notice names the failure", rows: []string{"performer", "endEvent", "userTask"},
		xml: c7(`<bpmn:startEvent id="S" /><bpmn:userTask id="Fix" pf:performer="requester" xmlns:pf="http://profileflow.dev/bpmn" />
<bpmn:exclusiveGateway id="G" default="FNo" /><bpmn:endEvent id="EndOK" />
<bpmn:endEvent id="EndNo" pf:outcome="failed" pf:notice="rejected" pf:reason="not fixed" xmlns:pf="http://profileflow.dev/bpmn" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="Fix" /><bpmn:sequenceFlow id="F1" sourceRef="Fix" targetRef="G" />
<bpmn:sequenceFlow id="FOK" sourceRef="G" targetRef="EndOK"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${fixed == true}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="FNo" sourceRef="G" targetRef="EndNo" />`),
		walk: func(t *testing.T, def *Definition) {
			for _, tc := range []struct {
				fixed bool
				end   string
			}{{true, "EndOK"}, {false, "EndNo"}} {
				in, _, _ := Start(context.Background(), def, "i", map[string]any{"requester": "rita"}, t0, nil)
				task := in.OpenTasks()[0]
				if task.Assignee != "rita" || task.Performer != PerformerRequester {
					t.Fatalf("requester task %+v", task)
				}
				decideAs(t, in, def, "a1", task.ID, "alice", []string{"ProfileApprover"}, domain.KindForbidden)
				ev := Event{ID: "r1", Type: EventTaskDecision, TaskID: task.ID, Decision: Resubmit, Actor: "rita", Vars: map[string]any{"fixed": tc.fixed}}
				eff, err := in.Deliver(context.Background(), def, ev, t0, nil)
				if err != nil || in.Outcome == nil || in.Outcome.End != tc.end {
					t.Fatalf("fixed=%v: %v outcome %+v", tc.fixed, err, in.Outcome)
				}
				if !tc.fixed && (len(eff.Notifications) != 1 || eff.Notifications[0].Kind != "rejected") {
					t.Fatalf("notifications %+v", eff.Notifications)
				}
			}
		},
	},
	{
		name: "pf:performer with candidate groups is refused", rows: []string{"performer", "refused"},
		xml: c7(`<bpmn:startEvent id="S" /><bpmn:userTask id="Fix" pf:performer="requester" camunda:candidateGroups="ProfileApprover" xmlns:pf="http://profileflow.dev/bpmn" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="Fix" /><bpmn:sequenceFlow id="F1" sourceRef="Fix" targetRef="E" />`),
		errID: "Fix", errAttr: "pf:performer", errAt: `<bpmn:userTask id="Fix"`,
	},
	{
		name: "pf assignee and literal candidate users", rows: []string{"assignee", "candidateUsers", "userTask"},
		xml: c7(oneTask(`camunda:assignee="carol"`, "")),
		walk: func(t *testing.T, def *Definition) {
			in, _, _ := Start(context.Background(), def, "i", nil, t0, nil)
			decideAs(t, in, def, "d0", "T", "dave", []string{"ProfileApprover"}, domain.KindForbidden)
			decideAs(t, in, def, "d1", "T", "carol", nil, allowed)
		},
	},
	{
		name: "JUEL assignee expression that evaluates to nothing is an incident, never an open task", rows: []string{"assignee"},
		xml: c7(oneTask(`camunda:assignee="${owner}"`, "")),
		walk: func(t *testing.T, def *Definition) {
			in, _, _ := Start(context.Background(), def, "i", nil, t0, nil)
			if in.Status != StatusFailed || !strings.Contains(in.Outcome.Reason, `userTask "T"`) || len(in.Tasks) != 0 {
				t.Fatalf("%s %+v", in.Status, in.Outcome)
			}
			ok, _, _ := Start(context.Background(), def, "j", map[string]any{"owner": "olga"}, t0, nil)
			if ok.OpenTasks()[0].Assignee != "olga" {
				t.Fatalf("assignee %+v", ok.OpenTasks())
			}
		},
	},
	{
		name: "zeebe candidateGroups as a FEEL list literal", rows: []string{"candidateGroups", "feel"},
		xml: c8(oneTask(``, `<bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="=[&quot;a&quot;,&quot;b&quot;]" /></bpmn:extensionElements>`)),
		walk: func(t *testing.T, def *Definition) {
			in, _, _ := Start(context.Background(), def, "i", nil, t0, nil)
			if g := in.OpenTasks()[0].CandidateGroups; !slices.Equal(g, []string{"a", "b"}) {
				t.Fatalf("groups %v", g)
			}
			decideAs(t, in, def, "d0", "T", "x", []string{"c"}, domain.KindForbidden)
			decideAs(t, in, def, "d1", "T", "x", []string{"b"}, allowed)
		},
	},
	{
		name: "version: an instance finishes on the version it started on", rows: []string{"version"},
		xml:  c7(oneTask(`camunda:candidateGroups="g"`, "")),
		walk: func(t *testing.T, def *Definition) { testVersions(t, def) },
	},

	// refused, each naming element id, attribute and line
	{name: "camunda:formKey", rows: []string{"refused"}, xml: c7(oneTask(`camunda:formKey="embedded:app:forms/x.html"`, "")),
		errID: "T", errAttr: "camunda:formKey", errAt: `camunda:formKey=`},
	{name: "camunda:asyncBefore on a service task", rows: []string{"refused", "serviceTask"}, xml: c7(`<bpmn:serviceTask id="Svc" camunda:asyncBefore="true" camunda:type="x" />`),
		errID: "Svc", errAttr: "camunda:asyncBefore", errAt: `camunda:asyncBefore`},
	{name: "camunda:class", rows: []string{"refused"}, xml: c7(`<bpmn:serviceTask id="Svc" camunda:class="org.example.Apply" />`),
		errID: "Svc", errAttr: "camunda:class", errAt: `camunda:class`},
	{name: "camunda:inputOutput", rows: []string{"refused"}, xml: c7(`<bpmn:serviceTask id="Svc" camunda:type="x">
<bpmn:extensionElements>
<camunda:inputOutput><camunda:inputParameter name="a">1</camunda:inputParameter></camunda:inputOutput>
</bpmn:extensionElements></bpmn:serviceTask>`),
		errID: "Svc", errAttr: "camunda:inputOutput", errAt: `<camunda:inputOutput>`},
	{name: "camunda:taskListener", rows: []string{"refused"}, xml: c7(oneTask(``, `
<bpmn:extensionElements><camunda:taskListener class="a.B" event="create" /></bpmn:extensionElements>`)),
		errID: "T", errAttr: "camunda:taskListener", errAt: `<camunda:taskListener`},
	{name: "zeebe:taskHeaders", rows: []string{"refused"}, xml: c8(`<bpmn:serviceTask id="Svc"><bpmn:extensionElements><zeebe:taskDefinition type="x" />
<zeebe:taskHeaders><zeebe:header key="a" value="b" /></zeebe:taskHeaders></bpmn:extensionElements></bpmn:serviceTask>`),
		errID: "Svc", errAttr: "zeebe:taskHeaders", errAt: `<zeebe:taskHeaders>`},
	{name: "zeebe:taskDefinition retries", rows: []string{"refused"}, xml: c8(`<bpmn:serviceTask id="Svc"><bpmn:extensionElements>
<zeebe:taskDefinition type="x" retries="5" /></bpmn:extensionElements></bpmn:serviceTask>`),
		errID: "Svc", errAttr: "zeebe:taskDefinition retries", errAt: `retries=`},
	{name: "zeebe task type expression", rows: []string{"serviceTask", "refused"}, xml: c8(`<bpmn:serviceTask id="Svc"><bpmn:extensionElements><zeebe:taskDefinition type="=kind" /></bpmn:extensionElements></bpmn:serviceTask>`),
		errID: "Svc", errAttr: "zeebe:taskDefinition type", errAt: `<bpmn:serviceTask id="Svc">`},
	{name: "zeebe:subscription correlation key", rows: []string{"messageCatch", "refused"}, xml: strings.Replace(c8(`<bpmn:startEvent id="S" />`), `<bpmn:process`, `<bpmn:message id="Msg" name="m"><bpmn:extensionElements>
<zeebe:subscription correlationKey="=requestId" /></bpmn:extensionElements></bpmn:message>
<bpmn:process`, 1),
		errID: "Msg", errAttr: "correlationKey", errAt: `<zeebe:subscription`},
	{name: "activiti attribute", rows: []string{"presentation", "refused"}, xml: strings.Replace(c7(oneTask(`activiti:candidateUsers="alice"`, "")), `id="D7"`, `xmlns:activiti="http://activiti.org/bpmn" id="D7"`, 1),
		errID: "T", errAttr: "activiti:candidateUsers", errAt: `activiti:candidateUsers`},
	{name: "two assignment forms", rows: []string{"refused", "candidateGroups"}, xml: strings.Replace(c7(oneTask(`camunda:candidateGroups="a"`, `<bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="b" /></bpmn:extensionElements>`)), `id="D7"`, `xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="D7"`, 1),
		errID: "T", errAt: `<bpmn:userTask id="T"`, errMsg: "several forms"},
	{name: "composite JUEL assignee", rows: []string{"assignee", "refused"}, xml: c7(oneTask(`camunda:assignee="user-${id}"`, "")),
		errID: "T", errAttr: "camunda:assignee", errAt: `camunda:assignee`},
	{name: "JUEL execution.getVariable", rows: []string{"juel", "refused"}, xml: c7(gateway(`${execution.getVariable('x') == true}`)),
		errID: "FYes", errAttr: "conditionExpression", errAt: `execution.getVariable`, errMsg: "Java object"},
	{name: "JUEL method call", rows: []string{"juel", "refused"}, xml: c7(gateway(`${list.size() &gt; 0}`)),
		errID: "FYes", errAttr: "conditionExpression", errAt: `list.size()`, errMsg: "method calls"},
	{name: "language javascript", rows: []string{"condition", "refused"}, xml: c7(strings.Replace(gateway(`x == true`), `<bpmn:conditionExpression `, `<bpmn:conditionExpression language="javascript" `, 1)),
		errID: "FYes", errAttr: "language", errAt: `language="javascript"`},
	{name: "plain text condition without language", rows: []string{"condition", "refused"}, xml: c7(gateway(`amount &gt; 5`)),
		errID: "FYes", errAttr: "conditionExpression", errAt: `amount &gt; 5`, errMsg: "not an expression"},
	{name: "FEEL outside the subset", rows: []string{"feel", "refused"}, xml: c8(gateway(`= count(items) &gt; 1`)),
		errID: "FYes", errAttr: "conditionExpression", errAt: `count(items)`, errMsg: "only the functions"},
	{name: "expressionLanguage XPath", rows: []string{"definitions", "refused"}, xml: strings.Replace(c7(`<bpmn:startEvent id="S" />`), `id="D7"`, `expressionLanguage="http://www.w3.org/1999/XPath" id="D7"`, 1),
		errID: "D7", errAttr: "expressionLanguage", errAt: `<bpmn:definitions`},
	{name: "no start event", rows: []string{"startEvent", "refused"}, xml: c7(`<bpmn:endEvent id="E" />`),
		errID: "P7", errAt: `<bpmn:process`, errMsg: "no start event"},
	{name: "id-less unsupported element", rows: []string{"refused"}, xml: c7(`<bpmn:startEvent id="S" />
<bpmn:subProcess />`),
		errAt: `<bpmn:subProcess`, errMsg: "unsupported element <subProcess>"},
	{name: "two executable processes", rows: []string{"process", "refused"}, xml: strings.Replace(c7(`<bpmn:startEvent id="S" />`), `</bpmn:definitions>`, `<bpmn:process id="P2" isExecutable="true" />
</bpmn:definitions>`, 1),
		errID: "P2", errAt: `<bpmn:process id="P2"`, errMsg: "more than one executable process"},
	{name: "duplicate xmlns", rows: []string{"refused"}, xml: `<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"><bpmn:process id="P" /></bpmn:definitions>`,
		errAt: `<bpmn:definitions`, errMsg: "malformed XML: attribute xmlns:bpmn given twice"},
	{name: "condition on a flow leaving a task names the flow", rows: []string{"condition", "refused"}, xml: c7(oneTask(``, ``) + `<bpmn:sequenceFlow id="FC" sourceRef="T" targetRef="E"><bpmn:conditionExpression>${x}</bpmn:conditionExpression></bpmn:sequenceFlow>`),
		errID: "FC", errAt: `id="FC"`, errMsg: "only supported leaving an exclusiveGateway"},
}

// testVersions: an instance started on version 1 continues on version 1
// after version 2 is loaded, also after a restart (a new registry loaded
// from an archive, the instance read back from JSON).
func testVersions(t *testing.T, v1 *Definition) {
	dir := t.TempDir()
	src1 := c7(oneTask(`camunda:candidateGroups="g"`, ""))
	src2 := c7(oneTask(`camunda:candidateGroups="other"`, ""))
	if err := os.WriteFile(filepath.Join(dir, ArchiveName(v1)), []byte(src1), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	reg.Add(v1)
	in, _, err := Start(context.Background(), v1, "i", nil, t0, nil)
	if err != nil || in.Version != v1.Version || !strings.HasPrefix(in.Version, "sha256:") {
		t.Fatalf("start: %v version %q", err, in.Version)
	}
	v2, err := Parse(strings.NewReader(src2))
	if err != nil || v2.Version == v1.Version {
		t.Fatalf("v2: %v", err)
	}
	// Without v1 loaded, v2 refuses the instance.
	if _, err := in.Deliver(context.Background(), v2, Event{ID: "d", Type: EventTaskDecision, TaskID: "T", Decision: Approve, Actor: "a", Groups: []string{"g"}}, t0, nil); domain.KindOf(err) != domain.KindInternal {
		t.Fatalf("deliver on unknown version: %v", err)
	}
	// After a restart: a fresh registry with the archive and the new file.
	restart := NewRegistry()
	if err := restart.LoadArchive(dir); err != nil {
		t.Fatal(err)
	}
	cur := restart.Add(v2)
	var back Instance
	if err := json.Unmarshal([]byte(stateJSON(t, in)), &back); err != nil {
		t.Fatal(err)
	}
	decideAs(t, &back, cur, "d1", "T", "a", []string{"g"}, allowed) // v1's group, not v2's
	if back.Status != StatusCompleted {
		t.Fatalf("status %s", back.Status)
	}
	// A file renamed or edited in the archive is refused.
	if err := os.WriteFile(filepath.Join(dir, ArchiveName(v1)), []byte(src2), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewRegistry().LoadArchive(dir); err == nil || !strings.Contains(err.Error(), "must be named") {
		t.Fatalf("edited archive: %v", err)
	}
}

func TestCorpus(t *testing.T) {
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.xml
			if tc.file != "" {
				b, err := os.ReadFile(filepath.Join("testdata", "corpus", tc.file))
				if err != nil {
					t.Fatal(err)
				}
				src = string(b)
			}
			def, err := Parse(strings.NewReader(src))
			if tc.walk != nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				tc.walk(t, def)
				return
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("loaded, or error %T %v is not a *LoadError", err, err)
			}
			wantLine := lineIn(t, src, tc.errAt)
			if le.Line != wantLine || le.ID != tc.errID || le.Attr != tc.errAttr {
				t.Errorf("error %q: line %d id %q attr %q, want line %d id %q attr %q", err, le.Line, le.ID, le.Attr, wantLine, tc.errID, tc.errAttr)
			}
			for _, want := range []string{tc.errMsg, tc.errID, tc.errAttr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func lineIn(t *testing.T, src, needle string) int {
	t.Helper()
	i := strings.Index(src, needle)
	if i < 0 {
		t.Fatalf("%q not in the definition", needle)
	}
	return strings.Count(src[:i], "\n") + 1
}

// subsetRows reads the row keys of the supported-subset table from the
// package doc (doc.go) and from the README.
func subsetRows(t *testing.T) (doc, readme []string) {
	f, err := os.Open("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := false
	docRow := regexp.MustCompile(`^//\t([a-zA-Z]+)\s{2,}`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "// # Supported subset"):
			in = true
		case in && strings.HasPrefix(line, "// # "):
			in = false
		case in:
			if m := docRow.FindStringSubmatch(line); m != nil && m[1] != "row" {
				doc = append(doc, m[1])
			}
		}
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, found := strings.Cut(string(b), "#### Editing the definition")
	if !found {
		t.Fatal("README has no section \"Editing the definition\"")
	}
	rest, _, _ = strings.Cut(rest, "\n#")
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z]+)` \\|").FindAllStringSubmatch(rest, -1) {
		readme = append(readme, m[1])
	}
	return doc, readme
}

// TestSubsetTableExercised: the package doc and the README list the same
// rows, and every row is exercised by a corpus case (or, for the ones
// whose behaviour other tests walk, named here with that test).
func TestSubsetTableExercised(t *testing.T) {
	doc, readme := subsetRows(t)
	if len(doc) < 20 {
		t.Fatalf("only %d rows read from doc.go: %v", len(doc), doc)
	}
	if !slices.Equal(doc, readme) {
		t.Fatalf("doc.go rows %v\nREADME rows %v", doc, readme)
	}
	covered := map[string]bool{}
	for _, c := range corpus {
		for _, r := range c.rows {
			if !slices.Contains(doc, r) {
				t.Errorf("corpus case %q names row %q, which the table does not have", c.name, r)
			}
			covered[r] = true
		}
	}
	var missing []string
	for _, r := range doc {
		if !covered[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rows not exercised by the corpus: %v", missing)
	}
}
