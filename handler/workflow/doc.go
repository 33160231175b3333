// Package workflow interprets a small, strict subset of BPMN 2.0 (as saved by
// bpmn.io / Camunda Modeler) and executes it as a token engine whose whole
// state is a JSON-serialisable Instance that the caller stores (in the request
// record) and loads again for every step.
//
// # Supported BPMN subset
//
// Exactly one process with: startEvent (none), endEvent (none), sequenceFlow
// (conditionExpression only on flows leaving an exclusiveGateway),
// exclusiveGateway (with optional default flow), parallelGateway (fork and
// join), userTask, serviceTask, intermediateCatchEvent with a
// messageEventDefinition, and boundaryEvent with a timerEventDefinition /
// timeDuration attached to a userTask (cancelActivity="true" interrupts,
// "false" is a reminder). documentation, extensionElements, incoming/outgoing,
// textAnnotation/association and the BPMNDI diagram are tolerated. Anything
// else is a load error naming the element id, element type and line.
//
// # Extension attributes (namespace http://profileflow.dev/bpmn, prefix pf)
//
//	endEvent    pf:outcome="failed"          reaching it ends the instance Failed (default: completed)
//	            pf:reason="text"             failure reason
//	            pf:reasonVariable="name"     take the reason from this string variable when non-empty
//	            pf:notice="rejected|expired" the kind of the notification sent (default "failed")
//	userTask    pf:candidateGroups="A,B"     (also camunda:candidateGroups, zeebe:assignmentDefinition)
//	            pf:assignee="subject"        only this actor may decide (also camunda:assignee)
//	            pf:distinctFrom="t1 t2"      four-eyes: the actor must not have approved a work item
//	                                         of these userTasks
//	            pf:performer="requester"     a task only the requester completes (answering a
//	                                         send-back): decision "resubmit", whose variables
//	                                         replace the instance's; no groups or assignee
//	serviceTask pf:type="applyChange"        handler key (also camunda:type, camunda:topic,
//	                                         zeebe:taskDefinition type); other pf:* attributes are
//	                                         passed to the handler as Params
//
// Conditions are expr-lang/expr expressions over the process variables; the
// Camunda forms "${expr}" / "#{expr}" and the Zeebe form "=expr" are accepted.
// Undefined variables evaluate to nil.
//
// # Variable conventions
//
// The engine refuses any decision by the actor equal to the string variable
// "requester". A userTask decision sets: decision ("approve", "reject",
// "sendBack"), decidedBy, decisionComment, rejected (bool), rejectReason
// (string, on reject/sendBack) and appends approving actors to approvers
// ([]any). Definitions route on these with an exclusive gateway (e.g.
// decision == "approve", default flow to a pf:outcome="failed" end event with
// pf:reasonVariable="rejectReason"). A sendBack decision also sets
// sentBackFrom (the userTask's element id), so a definition can route the
// requester's answer back to the task that sent it back. A requester task
// (pf:performer="requester") is assigned to the requester, announced as
// "sentBack" (with decisionComment as the reason) instead of taskAssigned,
// and its "resubmit" decision sets decision="resubmit" plus the variables
// the answer carries.
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
