package workflow

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: the parser never panics, and whatever it accepts can be started
// without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bpmn"))
	more, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.bpmn"))
	files = append(append(files, more...), defaultDefinition)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(proc(`<bpmn:startEvent id="S" /><bpmn:endEvent id="E" /><bpmn:sequenceFlow id="F" sourceRef="S" targetRef="E" />`)))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := Parse(bytes.NewReader(data))
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError: %v", err, err)
			}
			_ = le.Error()
			return
		}
		if def.Start == nil {
			t.Fatal("accepted definition without start")
		}
		svc := ServiceHandlers{}
		for _, typ := range def.ServiceTypes() {
			svc[typ] = func(*ServiceContext) error { return nil }
		}
		if !strings.HasPrefix(def.Version, "sha256:") {
			t.Fatalf("version %q", def.Version)
		}
		_, _, _ = Start(context.Background(), def, "fuzz", fuzzVars, t0, svc)
	})
}

var fuzzVars = map[string]any{"amount": 5, "meal": "chicken", "approverGroups": "a, b", "owner": "olga", "list": []any{"a", 1.0}, "flag": true}

// FuzzCondition: any conditionExpression text, in either language or
// none, either is refused at load or evaluates without panicking to a
// boolean or an error.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{`= amount in [1..10]`, `= meal = "chicken"`, `${amount > 1 && flag}`, `#{empty list}`, `= some x in list satisfies x = "a"`,
		`${execution.getVariable("x")}`, `= is defined(owner) and not(flag)`, `${owner == 'olga' or amount lt 3}`} {
		f.Add(s, "")
	}
	f.Add("amount > 1", "feel")
	f.Add("${flag}", "juel")
	f.Fuzz(func(t *testing.T, src, lang string) {
		l, ok := languageOf(lang)
		if !ok {
			return
		}
		x, err := compileExpr(src, l)
		if err != nil {
			return
		}
		b1, err1 := x.test(fuzzVars)
		b2, err2 := x.test(fuzzVars)
		if b1 != b2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q not deterministic", src)
		}
	})
}

// FuzzGatewayCondition: any condition text on an exclusive gateway's flow
// either fails to load with a *LoadError naming the flow, or loads and,
// started with any variables, either takes one of the gateway's flows or
// fails the instance with a workflow error — never a panic, never an
// instance left running at the gateway.
func FuzzGatewayCondition(f *testing.F) {
	for _, c := range []string{"amount > 3", "${attachmentCount == 0}", "#{nameChanged && !allClean}", "= name == \"x\"",
		"changedFields contains \"lastName\"", "len(changedFields) > 1", "amount / 0 > 1", "1..3", "name + 1", "missing.field > 0",
		"", "${}", "(", "amount ?? 0 > 2", "all(changedFields, # != \"description\")"} {
		f.Add(c, int64(5), "x", true)
	}
	f.Fuzz(func(t *testing.T, cond string, amount int64, name string, flag bool) {
		var esc bytes.Buffer
		if err := xml.EscapeText(&esc, []byte(cond)); err != nil {
			return
		}
		def, err := Parse(strings.NewReader(proc(`<bpmn:startEvent id="S" /><bpmn:exclusiveGateway id="G" default="F2" />
<bpmn:endEvent id="Yes" /><bpmn:endEvent id="No" />
<bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G" />
<bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="Yes"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">` + esc.String() + `</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="No" />`)))
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError: %v", err, err)
			}
			return
		}
		vars := map[string]any{"amount": amount, "name": name, "nameChanged": flag, "allClean": !flag,
			"changedFields": []string{name, "lastName"}, "attachmentCount": int(amount % 3)}
		in, _, err := Start(context.Background(), def, "fuzz", vars, t0, ServiceHandlers{})
		if err != nil {
			return
		}
		switch in.Status {
		case StatusCompleted:
			if in.Outcome == nil || (in.Outcome.End != "Yes" && in.Outcome.End != "No") {
				t.Fatalf("completed with outcome %+v", in.Outcome)
			}
		case StatusFailed:
			if in.Outcome == nil || !strings.Contains(in.Outcome.Reason, "workflow error") {
				t.Fatalf("failed with outcome %+v", in.Outcome)
			}
		default:
			t.Fatalf("condition %q left the instance %s", cond, in.Status)
		}
	})
}
