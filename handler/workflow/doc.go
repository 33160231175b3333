// Package workflow interprets a strict subset of BPMN 2.0 as bpmn.io,
// Camunda Modeler 7 and Camunda Modeler 8 save it, and executes it as a
// token engine whose whole state is a JSON-serialisable Instance that the
// caller stores (in the request record) and loads again for every step.
//
// The rule for the whole engine: an element, attribute or expression the
// engine does not implement exactly is a load error (*LoadError) naming the
// element id, the attribute and the line. It is never ignored and never
// approximated. Only documentation (diagram, lanes, annotations, data
// objects, other pools) is skipped, each listed in Definition.Ignored for
// the caller to log.
//
// # Supported subset
//
// One row per construct; the first column is the row's key (a test keeps
// this table, the README's copy and the test corpus in step).
//
//	row                  element / attribute / expression form          supported as
//	definitions          bpmn:definitions root, bpmn:message            messages by name; expressionLanguage only FEEL or JUEL
//	process              one bpmn:process; among several, the one       the process run; camunda:historyTimeToLive, camunda:versionTag,
//	                     with isExecutable="true"                       camunda:isStartableInTasklist accepted without effect
//	collaboration        collaboration, participant, messageFlow        documentation: pools and message flows are drawn, not run (logged)
//	documentation        laneSet, textAnnotation, association, group,   ignored with a log line
//	                     dataObject(Reference), dataStoreReference,
//	                     data associations, property
//	presentation         BPMNDI; attributes in other namespaces         ignored (colours, modeler metadata); activiti, flowable and
//	                                                                    drools attributes are refused
//	startEvent           none start event, exactly one                  where a token starts
//	endEvent             none end event; pf:outcome, pf:reason,         ends the instance completed, or failed with the reason;
//	                     pf:reasonVariable, pf:notice                   pf:notice ("rejected", "expired") names the failure's notification
//	exclusiveGateway     default="flow"                                 the first outgoing flow in document order whose condition is
//	                                                                    true, else the default flow, else an incident
//	parallelGateway      fork and join                                  a join fires when a token arrived on every incoming flow
//	userTask             userTask                                       a work item decided with approve, reject or sendBack
//	assignee             pf:assignee, camunda:assignee (name or ${…}),  only that user decides; an expression is evaluated when the work
//	                     zeebe:assignmentDefinition assignee (or =…)    item is created and must give a non-empty string (else incident)
//	candidateUsers       pf:/camunda:candidateUsers "a, b, ${…}",       only those users (or members of a candidate group) decide;
//	                     zeebe:assignmentDefinition candidateUsers      expressions give a list of names (JUEL also a comma-separated
//	                     "a, b" or one =FEEL                            string), evaluated at creation (else incident)
//	candidateGroups      pf:/camunda:candidateGroups, zeebe:            members of those groups (or candidate users) decide; expression
//	                     assignmentDefinition candidateGroups           forms as for candidateUsers
//	distinctFrom         pf:distinctFrom="task1 task2"                  four-eyes: the actor must not have approved those tasks
//	performer            pf:performer="requester" (no assignment)       only the requester completes it, with decision "resubmit" whose
//	                                                                    variables replace the instance's (answering a send-back)
//	zeebeUserTask        zeebe:userTask                                 accepted without effect (it only selects Camunda's task kind)
//	serviceTask          pf:type, camunda:type, camunda:topic,          the handler of that type runs; other pf:* attributes are its
//	                     zeebe:taskDefinition type (a fixed name)       Params; an expression type is refused
//	messageCatch         intermediateCatchEvent + messageEventDefinition waits for the named message (zeebe:subscription is refused:
//	                                                                    a message goes to the instance of its request)
//	boundaryTimer        boundaryEvent + timerEventDefinition /         on a userTask; cancelActivity="true" (default) escalates,
//	                     timeDuration (ISO-8601)                        "false" reminds
//	condition            sequenceFlow conditionExpression (leaving an    language="feel" / "juel" honoured; without it "=…" is FEEL and
//	                     exclusiveGateway), language attribute          "${…}" / "#{…}" JUEL; any other language or form is refused
//	feel                 =expr: = != < <= > >= between, and or not(),   Camunda 8 FEEL semantics: null for what cannot be evaluated,
//	                     in with ranges [1..10] lists and tests,        three-valued and/or, different types compare as null (see
//	                     some/every … satisfies, is defined(), paths    package feel)
//	juel                 ${expr}: == != < > <= >= (and eq ne lt gt le   EL 2.2 coercions (see package juel); execution.*, task.*,
//	                     ge) && || ! and or not empty, a.b a['b']      method and function calls, arithmetic and ?: are refused
//	unsetVariables       a variable that was never set                  is null, in both languages (FEEL: is defined() tells it apart)
//	conditionResult      a condition that gives null or a non-boolean   an incident: the instance fails naming the flow (as Camunda 7
//	                                                                    and 8 raise an incident)
//	refused              anything else: other elements, camunda:/       a load error naming element id, attribute and line
//	                     zeebe: attributes and extension elements
//	                     (formKey, class, asyncBefore, inputOutput,
//	                     listeners, taskHeaders, ioMapping, …)
//	version              the definition file's SHA-256                  an instance records its version at start and continues on it;
//	                                                                    older versions are loaded from an archive (Registry)
//
// # Variable conventions
//
// The engine refuses any decision by the actor equal to the string variable
// "requester". A userTask decision sets: decision ("approve", "reject",
// "sendBack"), decidedBy, decisionComment, rejected (bool), rejectReason
// (string, on reject/sendBack) and appends approving actors to approvers
// ([]any). Definitions route on these with an exclusive gateway (e.g.
// ${decision == "approve"}, default flow to a pf:outcome="failed" end event
// with pf:reasonVariable="rejectReason"). A sendBack decision also sets
// sentBackFrom (the userTask's element id), so a definition can route the
// requester's answer back to the task that sent it back. A requester task
// (pf:performer="requester") is assigned to the requester, announced as
// "sentBack" (with decisionComment as the reason) instead of taskAssigned,
// and its "resubmit" decision sets decision="resubmit" plus the variables
// the answer carries; its interrupting timer is an expiry, not an
// escalation (no "escalated" notice).
//
// # Notifications
//
// Effects.Notifications carries what the engine itself decides: a work item
// assigned (taskAssigned), a reminder or escalation timer fired, and an
// instance that ended without completing (failed, terminated). A completion
// is not announced by the engine: a definition that wants one says so with
// a serviceTask (e.g. pf:type="notify") on its successful path, so the
// diagram shows what runs.
//
// # Steps are transactional
//
// Start and Deliver work on a copy of the state; if a service handler fails
// the step returns the error and the Instance is unchanged, so the caller can
// retry. Service handlers run synchronously and may run again on a retry, so
// they must be idempotent. Deliver is idempotent per Event.ID.
package workflow
