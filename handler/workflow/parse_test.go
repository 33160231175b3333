package workflow

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const defaultDefinition = "../../workflows/profile-update.bpmn"

func mustParse(t testing.TB, path string) *Definition {
	t.Helper()
	def, err := ParseFile(path)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return def
}

// lineOf returns the 1-based line of the first occurrence of needle in file.
func lineOf(t *testing.T, path, needle string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%q not in %s", needle, path)
	return 0
}

func TestParseSupportedFiles(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, d *Definition)
	}{
		{"parallel.bpmn", func(t *testing.T, d *Definition) {
			if d.ID != "Parallel" || d.Start.ID != "Start" {
				t.Errorf("id/start = %s/%s", d.ID, d.Start.ID)
			}
			if got := d.Element("Review").CandidateGroups; !slices.Equal(got, []string{"Reviewers", "Leads"}) {
				t.Errorf("groups = %v", got)
			}
			if e := d.Element("WaitPing"); e.Type != MessageCatch || e.Message != "ping" {
				t.Errorf("WaitPing = %+v", e)
			}
			if e := d.Element("Join"); e.Type != ParallelGateway || len(e.Incoming) != 2 {
				t.Errorf("Join incoming = %d", len(e.Incoming))
			}
			if e := d.Element("Record"); e.ServiceType != "record" || e.Params["label"] != "joined" {
				t.Errorf("Record = %+v", e)
			}
			if e := d.Element("Fork"); e.Line != 8 {
				t.Errorf("Fork line = %d, want 8", e.Line)
			}
		}},
		{"exclusive.bpmn", func(t *testing.T, d *Definition) {
			gw := d.Element("Gw")
			if gw.Default == nil || gw.Default.ID != "FSmall" {
				t.Errorf("default = %v", gw.Default)
			}
			if f := d.Flows["FBig"]; f.Condition != "${amount > 100}" || f.Language != LangJUEL {
				t.Errorf("FBig condition = %q", f.Condition)
			}
			if f := d.Flows["FMid"]; f.Condition != "=amount > 10" || f.Language != LangFEEL {
				t.Errorf("FMid condition (zeebe =) = %q", f.Condition)
			}
			if e := d.Element("Mid"); e.ServiceType != "mid" {
				t.Errorf("zeebe taskDefinition type = %q", e.ServiceType)
			}
			if e := d.Element("EndBig"); !e.Failed || e.Reason != "too big" {
				t.Errorf("EndBig = %+v", e)
			}
		}},
		{"timers.bpmn", func(t *testing.T, d *Definition) {
			task := d.Element("Task")
			if !slices.Equal(task.CandidateGroups, []string{"Deciders"}) {
				t.Errorf("zeebe candidate groups = %v", task.CandidateGroups)
			}
			if len(task.Boundaries) != 2 {
				t.Fatalf("boundaries = %d", len(task.Boundaries))
			}
			r, x := d.Element("Remind"), d.Element("Expire")
			if r.Interrupting || r.Duration.Days != 1 {
				t.Errorf("Remind = %+v", r)
			}
			if !x.Interrupting || x.Duration.AddTo(time.Unix(0, 0)).Sub(time.Unix(0, 0)) != 36*time.Hour {
				t.Errorf("Expire = %+v", x)
			}
			if g := d.Element("Boss").CandidateGroups; !slices.Equal(g, []string{"Bosses"}) {
				t.Errorf("pf groups = %v", g)
			}
		}},
		{"foureyes.bpmn", func(t *testing.T, d *Definition) {
			if got := d.Element("Second").DistinctFrom; !slices.Equal(got, []string{"First"}) {
				t.Errorf("distinctFrom = %v", got)
			}
			if a := d.Element("Named").Assignee; a != "carol" {
				t.Errorf("assignee = %q", a)
			}
		}},
		{defaultDefinition, func(t *testing.T, d *Definition) {
			if d.ID != "ProfileUpdate" {
				t.Errorf("id = %s", d.ID)
			}
			if got := d.ServiceTypes(); !slices.Equal(got, []string{"applyChange", "notify"}) {
				t.Errorf("service types = %v", got)
			}
			a1 := d.Element("Approve1")
			if !slices.Equal(a1.CandidateGroups, []string{"ProfileApprover"}) || len(a1.Boundaries) != 2 {
				t.Errorf("Approve1 = %+v", a1)
			}
			if g := d.Element("Approve1Sup").CandidateGroups; !slices.Equal(g, []string{"ProfileSupervisor"}) {
				t.Errorf("supervisor groups = %v", g)
			}
			if d.Element("WaitScan").Message != "attachmentsScanned" {
				t.Error("scan message")
			}
			if err := d.CheckHandlers(ServiceHandlers{"applyChange": nil}); err == nil || !strings.Contains(err.Error(), "notify") {
				t.Errorf("CheckHandlers = %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			path := tc.file
			if !strings.Contains(path, "/") {
				path = filepath.Join("testdata", path)
			}
			tc.check(t, mustParse(t, path))
		})
	}
}

func TestParseUnsupportedFiles(t *testing.T) {
	tests := []struct {
		file, id, typ string
	}{
		{"unsupported_inclusive.bpmn", "Incl_1", "inclusiveGateway"},
		{"unsupported_subprocess.bpmn", "Sub_1", "subProcess"},
		{"unsupported_script.bpmn", "Script_1", "scriptTask"},
		{"unsupported_eventbased.bpmn", "EvGw_1", "eventBasedGateway"},
		{"unsupported_signalcatch.bpmn", "Sig_1", "signalEventDefinition"},
		{"unsupported_timerstart.bpmn", "TimerStart_1", "timerEventDefinition"},
		{"unsupported_multiinstance.bpmn", "Loop_1", "multiInstanceLoopCharacteristics"},
		{"invalid_condition.bpmn", "FBroken", "sequenceFlow"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", tc.file)
			_, err := ParseFile(path)
			if err == nil {
				t.Fatal("loaded an unsupported definition")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T %v is not a *LoadError", err, err)
			}
			needle := `id="` + tc.id + `"`
			if tc.typ == "sequenceFlow" {
				needle = "conditionExpression"
			}
			line := lineOf(t, path, needle)
			msg := err.Error()
			for _, want := range []string{tc.id, tc.typ, fmt.Sprintf("line %d", line)} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if le.Line != line || le.ID != tc.id || le.Type != tc.typ {
				t.Errorf("LoadError = %+v, want line %d id %s type %s", le, line, tc.id, tc.typ)
			}
		})
	}
}

// proc wraps process content in a definitions element.
func proc(body string) string {
	return `<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:pf="http://profileflow.dev/bpmn" id="D">
<bpmn:message id="M" name="m" />
<bpmn:process id="P">
` + body + `
</bpmn:process>
</bpmn:definitions>`
}

func TestParseInvalid(t *testing.T) {
	const startEnd = `<bpmn:startEvent id="S" /><bpmn:endEvent id="E" />`
	tests := []struct {
		name, xml string
		want      []string
	}{
		{"not xml", "hello", []string{"malformed XML", "no root element", "line 1"}},
		{"garbage", "<a><b></a>", []string{"malformed XML", "line 1"}},
		{"truncated", `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="P">`, []string{"malformed XML"}},
		{"wrong root", `<definitions id="D"/>`, []string{"root element must be bpmn:definitions"}},
		{"no process", `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"/>`, []string{"no process"}},
		{"two processes", `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"><bpmn:process id="A"/><bpmn:process id="B"/></bpmn:definitions>`, []string{`"B"`, "none has isExecutable"}},
		{"collaboration", `<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"><bpmn:collaboration id="C"/></bpmn:definitions>`, []string{"collaboration", `"C"`, "line 1"}},
		{"no start", proc(`<bpmn:endEvent id="E" />`), []string{`process "P"`, "no start event", "line 4"}},
		{"no start event at all", proc(``), []string{"no start event"}},
		{"flow to unknown", proc(startEnd + `<bpmn:sequenceFlow id="F" sourceRef="S" targetRef="Nowhere" />`), []string{`"F"`, "Nowhere", "line 5"}},
		{"flow from unknown", proc(startEnd + `<bpmn:sequenceFlow id="F" sourceRef="Ghost" targetRef="E" />`), []string{"Ghost"}},
		{"gateway without outgoing", proc(`<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" /><bpmn:sequenceFlow id="F" sourceRef="S" targetRef="G" />`), []string{"exclusiveGateway", `"G"`, "no outgoing"}},
		{"exclusive without condition or default", proc(startEnd + `<bpmn:endEvent id="E2" /><bpmn:exclusiveGateway id="G" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" />
<bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="E"><bpmn:conditionExpression>${x}</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E2" />`), []string{`"G"`, `"F2"`, "no condition"}},
		{"default not outgoing", proc(startEnd + `<bpmn:exclusiveGateway id="G" default="F0" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" /><bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="E" />`), []string{"default flow", `"F0"`}},
		{"boundary on service task", proc(`<bpmn:startEvent id="S" /><bpmn:serviceTask id="T" pf:type="x" /><bpmn:endEvent id="E" />
<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="T" /><bpmn:sequenceFlow id="F1" sourceRef="T" targetRef="E" /><bpmn:sequenceFlow id="F2" sourceRef="B" targetRef="E" />`), []string{"boundaryEvent", `"B"`, "must name a userTask", "line 6"}},
		{"boundary message", proc(`<bpmn:startEvent id="S" /><bpmn:userTask id="T" /><bpmn:endEvent id="E" />
<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:messageEventDefinition id="MB" messageRef="M" /></bpmn:boundaryEvent>`), []string{"messageEventDefinition", "MB"}},
		{"bad duration", proc(`<bpmn:startEvent id="S" /><bpmn:userTask id="T" /><bpmn:endEvent id="E" />
<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:timerEventDefinition><bpmn:timeDuration>24 hours</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>`), []string{`"B"`, "timeDuration", "24 hours"}},
		{"timeCycle", proc(`<bpmn:startEvent id="S" /><bpmn:userTask id="T" /><bpmn:endEvent id="E" />
<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:timerEventDefinition id="TD"><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>`), []string{"timeCycle"}},
		{"conditional flow from task", proc(`<bpmn:startEvent id="S" /><bpmn:userTask id="T" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="T" /><bpmn:sequenceFlow id="F1" sourceRef="T" targetRef="E"><bpmn:conditionExpression>${true}</bpmn:conditionExpression></bpmn:sequenceFlow>`), []string{`"F1"`, "only supported leaving an exclusiveGateway"}},
		{"FEEL outside the subset", proc(`<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" default="F2" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" /><bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="E"><bpmn:conditionExpression>= amount + 1 > 2</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E" />`), []string{`"F1"`, "invalid condition", "arithmetic", "line 6"}},
		{"unknown message", proc(`<bpmn:startEvent id="S" /><bpmn:intermediateCatchEvent id="C"><bpmn:messageEventDefinition messageRef="Nope" /></bpmn:intermediateCatchEvent>`), []string{`"C"`, "Nope"}},
		{"terminate end", proc(`<bpmn:startEvent id="S" /><bpmn:endEvent id="E"><bpmn:terminateEventDefinition id="TE" /></bpmn:endEvent>`), []string{"terminateEventDefinition", "TE"}},
		{"duplicate id", proc(`<bpmn:startEvent id="S" /><bpmn:endEvent id="S" />`), []string{"duplicate id"}},
		{"two starts", proc(`<bpmn:startEvent id="S" /><bpmn:startEvent id="S2" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="E" /><bpmn:sequenceFlow id="F1" sourceRef="S2" targetRef="E" />`), []string{"more than one start", "S2"}},
		{"service without type", proc(`<bpmn:startEvent id="S" /><bpmn:serviceTask id="T" />`), []string{"serviceTask", `"T"`, "without a type"}},
		{"bad outcome", proc(`<bpmn:startEvent id="S" /><bpmn:endEvent id="E" pf:outcome="maybe" />`), []string{"pf:outcome"}},
		{"distinctFrom unknown", proc(`<bpmn:startEvent id="S" /><bpmn:userTask id="T" pf:distinctFrom="X" /><bpmn:endEvent id="E" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="T" /><bpmn:sequenceFlow id="F1" sourceRef="T" targetRef="E" />`), []string{"distinctFrom", `"X"`}},
		{"foreign element in process", proc(`<foo:bar xmlns:foo="urn:foo" id="FB" />`), []string{"urn:foo", "FB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.xml))
			if err == nil {
				t.Fatal("loaded an invalid definition")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError: %v", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	base := time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "PT24H", want: base.Add(24 * time.Hour)},
		{in: "PT72H", want: base.Add(72 * time.Hour)},
		{in: "P3D", want: base.AddDate(0, 0, 3)},
		{in: "P1W", want: base.AddDate(0, 0, 7)},
		{in: "P1DT12H30M5S", want: base.AddDate(0, 0, 1).Add(12*time.Hour + 30*time.Minute + 5*time.Second)},
		{in: "PT0.5S", want: base.Add(500 * time.Millisecond)},
		{in: "P1M", want: base.AddDate(0, 1, 0)},
		{in: "PT0S", want: base},
		{in: "P", bad: true},
		{in: "PT", bad: true},
		{in: "P1H", bad: true},
		{in: "PT1D", bad: true},
		{in: "P1.5D", bad: true},
		{in: "1D", bad: true},
		{in: "PT1H1H", bad: true},
		{in: "-PT1H", bad: true},
		{in: "P999999999D", bad: true},
		{in: "PTH", bad: true},
	}
	for _, tc := range tests {
		d, err := ParseDuration(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: accepted", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := d.AddTo(base); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.in, got, tc.want)
		}
	}
}
