package workflow

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// node is a generic XML element of the BPMN model (diagram sections are not kept).
type node struct {
	space, local string
	attrs        []xml.Attr
	children     []*node
	text         strings.Builder
	line         int
}

func (n *node) attr(space, local string) string {
	for _, a := range n.attrs {
		if a.Name.Local == local && (a.Name.Space == space || (space == "" && a.Name.Space == "")) {
			return a.Value
		}
	}
	return ""
}

func (n *node) hasAttr(space, local string) bool {
	for _, a := range n.attrs {
		if a.Name.Local == local && a.Name.Space == space {
			return true
		}
	}
	return false
}

func (n *node) id() string { return n.attr("", "id") }

func (n *node) errf(format string, args ...any) *LoadError {
	return &LoadError{Line: n.line, ID: n.id(), Type: n.local, Msg: fmt.Sprintf(format, args...)}
}

// readTree decodes the XML into nodes, skipping BPMNDI subtrees and recording
// each element's line from the decoder's input offset.
func readTree(data []byte) (*node, error) {
	var lineStarts []int
	for i, c := range data {
		if c == '\n' {
			lineStarts = append(lineStarts, i+1)
		}
	}
	lineOf := func(off int64) int {
		return sort.SearchInts(lineStarts, int(off)+1) + 1
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	var (
		root  *node
		stack []*node
		skip  int // depth inside a skipped (diagram) subtree
		count int
	)
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &LoadError{Line: se.Line, Msg: "malformed XML: " + se.Msg}
			}
			return nil, &LoadError{Line: lineOf(d.InputOffset()), Msg: "malformed XML: " + err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if skip > 0 {
				skip++
				continue
			}
			if t.Name.Space == nsBPMNDI || t.Name.Space == nsDC || t.Name.Space == nsDI {
				skip = 1
				continue
			}
			if len(stack) >= maxDepth {
				return nil, &LoadError{Line: lineOf(off), Type: t.Name.Local, Msg: "nesting too deep"}
			}
			if count++; count > maxElement {
				return nil, &LoadError{Line: lineOf(off), Msg: "too many elements"}
			}
			for i, a := range t.Attr {
				for _, b := range t.Attr[:i] {
					if a.Name == b.Name {
						name := a.Name.Local
						if a.Name.Space != "" {
							name = a.Name.Space + ":" + name
						}
						return nil, &LoadError{Line: lineOf(off), Type: t.Name.Local, Msg: "malformed XML: attribute " + name + " given twice"}
					}
				}
			}
			n := &node{space: t.Name.Space, local: t.Name.Local, attrs: t.Attr, line: lineOf(off)}
			if len(stack) == 0 {
				if root != nil {
					return nil, &LoadError{Line: n.line, Msg: "more than one root element"}
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			if skip > 0 {
				skip--
				continue
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if skip == 0 && len(stack) > 0 {
				top := stack[len(stack)-1]
				if top.text.Len() < 1<<16 {
					top.text.Write(t)
				}
			}
		}
	}
	if root == nil {
		return nil, &LoadError{Line: 1, Msg: "malformed XML: no root element"}
	}
	return root, nil
}
