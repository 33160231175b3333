package workflow

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: the parser never panics, and whatever it accepts can be started
// without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bpmn"))
	files = append(files, defaultDefinition)
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
		_, _, _ = Start(context.Background(), def, "fuzz", map[string]any{"amount": 5}, t0, svc)
	})
}
