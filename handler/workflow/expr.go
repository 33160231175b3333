package workflow

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/profileflow/profileflow/handler/workflow/feel"
	"github.com/profileflow/profileflow/handler/workflow/juel"
)

// Expression languages.
const (
	LangFEEL = "feel"
	LangJUEL = "juel"
)

// expression is a compiled FEEL or JUEL expression.
type expression struct {
	lang string
	src  string
	feel *feel.Expr
	juel *juel.Expr
}

// languageOf maps a conditionExpression language attribute to a known
// language ("" when the attribute is absent).
func languageOf(attr string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(attr)) {
	case "":
		return "", true
	case "feel", "http://www.omg.org/spec/feel/20140401", "https://www.omg.org/spec/dmn/20191111/feel/":
		return LangFEEL, true
	case "juel", "http://java.sun.com/products/jsp/":
		return LangJUEL, true
	}
	return "", false
}

// compileExpr compiles text in lang; with lang "" the form decides: "=…"
// is FEEL (Camunda 8), "${…}" or "#{…}" JUEL (Camunda 7). With lang FEEL
// a leading "=" is allowed and dropped. The error is the reason, without
// position context (the caller adds element, attribute and line).
func compileExpr(text, lang string) (*expression, error) {
	t := strings.TrimSpace(text)
	if lang == "" {
		switch {
		case strings.HasPrefix(t, "="):
			lang = LangFEEL
		case strings.HasPrefix(t, "${"), strings.HasPrefix(t, "#{"):
			lang = LangJUEL
		default:
			return nil, errors.New("not an expression: write FEEL as =expr or JUEL as ${expr}, or name the language")
		}
	}
	x := &expression{lang: lang, src: t}
	switch lang {
	case LangFEEL:
		body := strings.TrimPrefix(t, "=")
		if strings.TrimSpace(body) == "" {
			return nil, errors.New("empty expression")
		}
		e, err := feel.Compile(body)
		if err != nil {
			return nil, err
		}
		x.feel = e
	case LangJUEL:
		e, err := juel.Compile(t)
		if err != nil {
			return nil, err
		}
		x.juel = e
	}
	return x, nil
}

func (x *expression) eval(vars map[string]any) (any, error) {
	if x.feel != nil {
		return x.feel.Eval(vars), nil
	}
	return x.juel.Eval(vars)
}

// test evaluates a condition: true or false, or an error when the result
// is not a boolean (null included), as Camunda 7 and 8 both raise an
// incident then.
func (x *expression) test(vars map[string]any) (bool, error) {
	v, err := x.eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s condition %s evaluated to %s, not a boolean", strings.ToUpper(x.lang), x.src, describe(v))
	}
	return b, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%v", v)
}

// assignment holds the expression-valued parts of a userTask's assignee,
// candidate users and candidate groups.
type assignment struct {
	assignee *expression
	users    []*expression
	groups   []*expression
}

func (a assignment) empty() bool { return a.assignee == nil && len(a.users) == 0 && len(a.groups) == 0 }

// camundaItem matches one comma-separated item of a Camunda 7 list
// attribute: a literal or one whole expression.
var camundaSplit = regexp.MustCompile(`\s*,\s*`)

// camundaList splits a Camunda 7 candidateUsers/candidateGroups value: a
// comma-separated list whose items are literals or whole ${…} / #{…}
// expressions (Camunda's parseCommaSeparatedList; an expression may itself
// contain commas, inside its braces).
func camundaList(s string) (lits []string, exprs []*expression, err error) {
	for _, item := range splitOutsideBraces(s) {
		switch {
		case item == "":
		case strings.Contains(item, "${") || strings.Contains(item, "#{"):
			x, err := compileExpr(item, LangJUEL)
			if err != nil {
				return nil, nil, err
			}
			exprs = append(exprs, x)
		default:
			lits = append(lits, item)
		}
	}
	return lits, exprs, nil
}

func splitOutsideBraces(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// zeebeList reads a Camunda 8 candidateUsers/candidateGroups value: a
// comma-separated literal list, or one FEEL expression (=…) evaluated at
// task creation.
func zeebeList(s string) (lits []string, exprs []*expression, err error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "=") {
		x, err := compileExpr(t, LangFEEL)
		if err != nil {
			return nil, nil, err
		}
		return nil, []*expression{x}, nil
	}
	for _, item := range camundaSplit.Split(t, -1) {
		if item != "" {
			lits = append(lits, item)
		}
	}
	return lits, nil, nil
}

// names evaluates a candidate list expression: a list of strings, or (JUEL,
// as Camunda 7 accepts) a string of comma-separated names. Anything else,
// null included, is an error.
func (x *expression) names(vars map[string]any) ([]string, error) {
	v, err := x.eval(vars)
	if err != nil {
		return nil, err
	}
	switch t := v.(type) {
	case string:
		if x.lang == LangJUEL {
			var out []string
			for _, s := range camundaSplit.Split(strings.TrimSpace(t), -1) {
				if s != "" {
					out = append(out, s)
				}
			}
			return out, nil
		}
		if t != "" {
			return []string{t}, nil
		}
	case []any:
		out := make([]string, 0, len(t))
		for _, it := range t {
			s, ok := it.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("%s evaluated to a list with %s, not only names", x.src, describe(it))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s evaluated to %s, not a list of names", x.src, describe(v))
}

// name evaluates an assignee expression: a non-empty string, else an error
// (an assignee that evaluates to nothing would open the task to every
// approver, so it is refused instead).
func (x *expression) name(vars map[string]any) (string, error) {
	v, err := x.eval(vars)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
		return strings.TrimSpace(s), nil
	}
	return "", fmt.Errorf("%s evaluated to %s, not a user name", x.src, describe(v))
}
