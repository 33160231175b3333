package workflow

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ElementType is a supported BPMN element kind (the BPMN local name).
type ElementType string

// Supported element types.
const (
	StartEvent       ElementType = "startEvent"
	EndEvent         ElementType = "endEvent"
	ExclusiveGateway ElementType = "exclusiveGateway"
	ParallelGateway  ElementType = "parallelGateway"
	UserTask         ElementType = "userTask"
	ServiceTask      ElementType = "serviceTask"
	MessageCatch     ElementType = "intermediateCatchEvent"
	BoundaryTimer    ElementType = "boundaryEvent"
)

// Definition is a parsed, validated process. It is immutable after parsing
// and safe for concurrent use.
type Definition struct {
	ID   string
	Name string
	// Version identifies the definition's content: "sha256:" and the first
	// 32 hex digits of the SHA-256 of the file's bytes. An instance records
	// it at Start and only ever continues on the definition with the same
	// version (see Registry).
	Version  string
	Start    *Element
	Elements map[string]*Element
	Flows    map[string]*Flow
	// Ignored lists the documentation-only elements the parser skipped
	// (lanes, annotations, data objects, other pools), one line each with
	// element, id and line, for the caller to log at load time.
	Ignored  []string
	order    []*Element // document order
	registry *Registry  // where older versions are found (nil: none)
}

// Element is one flow node of the process.
type Element struct {
	ID       string
	Name     string
	Type     ElementType
	Line     int
	Incoming []*Flow
	Outgoing []*Flow // document order
	Default  *Flow   // exclusiveGateway default flow

	// userTask: who may decide. Literal values are in CandidateGroups,
	// CandidateUsers and Assignee; expression-valued ones are evaluated
	// over the process variables when a work item is created.
	CandidateGroups []string
	CandidateUsers  []string
	Assignee        string
	DistinctFrom    []string
	Boundaries      []*Element
	// Performer is PerformerRequester for a task only the requester may
	// complete (pf:performer="requester"); "" for an approval task.
	Performer string
	assign    assignment

	// serviceTask
	ServiceType string
	Params      map[string]string

	// intermediateCatchEvent (message)
	Message string

	// boundaryEvent (timer)
	AttachedTo   string
	Interrupting bool
	Duration     Duration

	// endEvent
	Failed         bool
	Reason         string
	ReasonVariable string
	// Notice is the kind of the notification a failed end sends
	// (pf:notice: "rejected" or "expired"; default "failed").
	Notice string
}

// Flow is a sequence flow.
type Flow struct {
	ID        string
	Source    string
	Target    string
	Condition string // source text, empty when unconditional
	Language  string // "feel" or "juel" when conditional
	Line      int
	cond      *expression
}

// Element returns the element with the given id, or nil.
func (d *Definition) Element(id string) *Element { return d.Elements[id] }

// ServiceTypes lists the distinct service task types the definition uses,
// sorted, so a caller can check at startup that every one has a handler.
func (d *Definition) ServiceTypes() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range d.order {
		if e.Type == ServiceTask && !seen[e.ServiceType] {
			seen[e.ServiceType] = true
			out = append(out, e.ServiceType)
		}
	}
	sort.Strings(out)
	return out
}

// CheckHandlers reports the service types of d that svc has no handler for.
func (d *Definition) CheckHandlers(svc ServiceHandlers) error {
	var missing []string
	for _, t := range d.ServiceTypes() {
		if svc[t] == nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("workflow %s: no service handler for %s", d.ID, strings.Join(missing, ", "))
	}
	return nil
}

// Duration is an ISO-8601 duration (PnYnMnWnDTnHnMnS). Years, months and
// days are calendar units applied with time.AddDate; the rest is exact.
type Duration struct {
	Years, Months, Days int
	Clock               time.Duration
	Text                string
}

// AddTo returns t plus the duration.
func (d Duration) AddTo(t time.Time) time.Time {
	return t.AddDate(d.Years, d.Months, d.Days).Add(d.Clock)
}

func (d Duration) String() string { return d.Text }

// ParseDuration parses an ISO-8601 duration such as PT24H, P3D or P1DT12H30M.
// Only the last component may carry a fraction, and only seconds.
func ParseDuration(s string) (Duration, error) {
	d := Duration{Text: s}
	if len(s) < 3 || s[0] != 'P' {
		return d, fmt.Errorf("invalid ISO-8601 duration %q", s)
	}
	rest := s[1:]
	inTime := false
	seen := ""
	any := false
	for len(rest) > 0 {
		if rest[0] == 'T' {
			if inTime {
				return d, fmt.Errorf("invalid ISO-8601 duration %q", s)
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return d, fmt.Errorf("invalid ISO-8601 duration %q: empty time part", s)
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 || i == len(rest) {
			return d, fmt.Errorf("invalid ISO-8601 duration %q", s)
		}
		num, unit := rest[:i], rest[i]
		rest = rest[i+1:]
		key := string(unit)
		if inTime {
			key = "T" + key
		}
		if strings.Contains(seen, key+",") {
			return d, fmt.Errorf("invalid ISO-8601 duration %q: repeated %c", s, unit)
		}
		seen += key + ","
		if strings.Contains(num, ".") {
			if key != "TS" || rest != "" {
				return d, fmt.Errorf("invalid ISO-8601 duration %q: fractions only for seconds", s)
			}
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f > 1e7 {
				return d, fmt.Errorf("invalid ISO-8601 duration %q", s)
			}
			d.Clock += time.Duration(f * float64(time.Second))
			any = true
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n > 100000 {
			return d, fmt.Errorf("invalid ISO-8601 duration %q: component out of range", s)
		}
		switch key {
		case "Y":
			d.Years = n
		case "M":
			d.Months = n
		case "W":
			d.Days += 7 * n
		case "D":
			d.Days += n
		case "TH":
			d.Clock += time.Duration(n) * time.Hour
		case "TM":
			d.Clock += time.Duration(n) * time.Minute
		case "TS":
			d.Clock += time.Duration(n) * time.Second
		default:
			return d, fmt.Errorf("invalid ISO-8601 duration %q: unknown unit %c", s, unit)
		}
		any = true
	}
	if !any {
		return d, fmt.Errorf("invalid ISO-8601 duration %q", s)
	}
	return d, nil
}
