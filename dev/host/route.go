package host

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Route is a parsed ASP.NET-style route template as used in function.json:
// literal segments, {param}, {param?}, {param=default}, {*catchall} and
// constraints such as {id:int} or {id:int:min(1)}. Literals match
// case-insensitively. Supported constraints: int, long, float, double,
// decimal, bool, guid, alpha, min(n), max(n), range(a,b), minlength(n),
// maxlength(n), length(n), length(a,b), regex(expr); other constraints (e.g.
// datetime) are accepted and not checked.
type Route struct {
	Template string
	params   []*routeParam
	re       *regexp.Regexp // matches the path after the route prefix, without leading '/'
	rank     []int          // precedence: lower sorts first
}

type routeParam struct {
	name        string
	optional    bool
	catchAll    bool
	def         string
	hasDefault  bool
	shape       string // the body without the name, for Canonical
	constraints []constraint
}

type constraint struct {
	name string
	args []string
	re   *regexp.Regexp // for regex(...)
}

// precedence ranks per segment kind (ASP.NET: literals before parameters,
// catch-alls last).
const (
	rankLiteral = iota + 1
	rankComplex
	rankConstrained
	rankParam
	rankCatchAll
)

// ParseRoute parses a route template.
func ParseRoute(tmpl string) (*Route, error) {
	t := strings.Trim(tmpl, "/")
	if strings.TrimSpace(t) == "" {
		return nil, errors.New("empty route template")
	}
	segs := strings.Split(t, "/")
	r := &Route{Template: tmpl}
	var b strings.Builder
	seen := map[string]bool{}
	for i, seg := range segs {
		if seg == "" {
			return nil, fmt.Errorf("route %q has an empty segment", tmpl)
		}
		parts, err := splitSegment(seg)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", tmpl, err)
		}
		last := i == len(segs)-1
		sep := "/"
		if i == 0 {
			sep = ""
		}
		// A segment that is exactly one optional or catch-all parameter makes
		// the segment (and its separator) optional.
		if len(parts) == 1 && parts[0].param != nil {
			p := parts[0].param
			if seen[strings.ToLower(p.name)] {
				return nil, fmt.Errorf("route %q: parameter %q appears twice", tmpl, p.name)
			}
			seen[strings.ToLower(p.name)] = true
			r.params = append(r.params, p)
			switch {
			case p.catchAll:
				if !last {
					return nil, fmt.Errorf("route %q: catch-all {*%s} must be the last segment", tmpl, p.name)
				}
				fmt.Fprintf(&b, "(?:%s(.*))?", regexp.QuoteMeta(sep))
				r.rank = append(r.rank, rankCatchAll)
			case p.optional || p.hasDefault:
				if !last {
					return nil, fmt.Errorf("route %q: optional parameter {%s?} must be in the last segment", tmpl, p.name)
				}
				fmt.Fprintf(&b, "(?:%s([^/]+))?", regexp.QuoteMeta(sep))
				r.rank = append(r.rank, rankParam)
			default:
				fmt.Fprintf(&b, "%s([^/]+)", regexp.QuoteMeta(sep))
				if len(p.constraints) > 0 {
					r.rank = append(r.rank, rankConstrained)
				} else {
					r.rank = append(r.rank, rankParam)
				}
			}
			continue
		}
		b.WriteString(regexp.QuoteMeta(sep))
		kind := rankLiteral
		for j, part := range parts {
			if part.param == nil {
				b.WriteString(regexp.QuoteMeta(part.literal))
				continue
			}
			p := part.param
			kind = rankComplex
			if p.catchAll || p.optional || p.hasDefault {
				return nil, fmt.Errorf("route %q: optional or catch-all parameter %q must fill a whole segment", tmpl, p.name)
			}
			if j > 0 && parts[j-1].param != nil {
				return nil, fmt.Errorf("route %q: two parameters next to each other in %q", tmpl, seg)
			}
			if seen[strings.ToLower(p.name)] {
				return nil, fmt.Errorf("route %q: parameter %q appears twice", tmpl, p.name)
			}
			seen[strings.ToLower(p.name)] = true
			r.params = append(r.params, p)
			b.WriteString("([^/]+?)")
		}
		r.rank = append(r.rank, kind)
	}
	re, err := regexp.Compile("(?i)^" + b.String() + "/?$")
	if err != nil {
		return nil, fmt.Errorf("route %q: %w", tmpl, err)
	}
	r.re = re
	return r, nil
}

// Canonical returns the template with parameter names and constraints erased,
// so two templates that match the same paths compare equal.
func (r *Route) Canonical() string {
	var b strings.Builder
	b.WriteString(r.re.String())
	for _, p := range r.params {
		b.WriteString("|")
		if p.catchAll {
			b.WriteString("*")
		}
		b.WriteString(p.shape)
	}
	return b.String()
}

// Match matches path (relative to the route prefix, leading '/' optional)
// and returns the route values, or ok=false. Optional parameters that are
// absent are not in the map, unless they have a default.
func (r *Route) Match(path string) (map[string]string, bool) {
	path = strings.TrimPrefix(path, "/")
	m := r.re.FindStringSubmatchIndex(path)
	if m == nil {
		return nil, false
	}
	vals := make(map[string]string, len(r.params))
	for i, p := range r.params {
		start, end := m[2*(i+1)], m[2*(i+1)+1]
		if start < 0 || (p.catchAll && start == end) {
			if p.hasDefault {
				vals[p.name] = p.def
			}
			continue
		}
		v := path[start:end]
		if p.catchAll {
			v = strings.TrimSuffix(v, "/")
		}
		for _, c := range p.constraints {
			if !c.check(v) {
				return nil, false
			}
		}
		vals[p.name] = v
	}
	return vals, true
}

// less reports whether r takes precedence over o when both match.
func (r *Route) less(o *Route) bool {
	for i := 0; i < len(r.rank) && i < len(o.rank); i++ {
		if r.rank[i] != o.rank[i] {
			return r.rank[i] < o.rank[i]
		}
	}
	return len(r.rank) > len(o.rank)
}

type segPart struct {
	literal string
	param   *routeParam
}

// splitSegment splits one path segment into literal text and {parameters}.
// "{{" and "}}" are literal braces.
func splitSegment(seg string) ([]segPart, error) {
	var parts []segPart
	var lit strings.Builder
	for i := 0; i < len(seg); {
		c := seg[i]
		switch {
		case c == '{' && i+1 < len(seg) && seg[i+1] == '{':
			lit.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(seg) && seg[i+1] == '}':
			lit.WriteByte('}')
			i += 2
		case c == '}':
			return nil, fmt.Errorf("unmatched '}' in %q", seg)
		case c == '{':
			body, n, err := scanParam(seg[i+1:])
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, seg)
			}
			p, err := parseParam(body)
			if err != nil {
				return nil, err
			}
			if lit.Len() > 0 {
				parts = append(parts, segPart{literal: lit.String()})
				lit.Reset()
			}
			parts = append(parts, segPart{param: p})
			i += 1 + n
		case c == '?' || c == '#':
			return nil, fmt.Errorf("%q is not allowed in a route segment (%q)", c, seg)
		default:
			lit.WriteByte(c)
			i++
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, segPart{literal: lit.String()})
	}
	return parts, nil
}

// scanParam reads a parameter body up to its closing '}' (not counting braces
// inside constraint parentheses, where "{{"/"}}" stand for '{'/'}'). It
// returns the body and the bytes consumed including the '}'.
func scanParam(s string) (string, int, error) {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0 && (c == '{' || c == '}') && i+1 < len(s) && s[i+1] == c:
			b.WriteByte(c)
			i++
			continue
		case c == '}' && depth == 0:
			return b.String(), i + 1, nil
		case c == '{' && depth == 0:
			return "", 0, errors.New("unexpected '{' inside a parameter")
		}
		b.WriteByte(c)
	}
	return "", 0, errors.New("unterminated '{'")
}

// parseParam parses "name", "name?", "*name", "name=default", "name:int:min(1)".
func parseParam(body string) (*routeParam, error) {
	p := &routeParam{}
	if strings.HasPrefix(body, "**") {
		body = body[2:]
		p.catchAll = true
	} else if strings.HasPrefix(body, "*") {
		body = body[1:]
		p.catchAll = true
	}
	// name ends at the first ':', '=' or '?' outside constraint parentheses.
	end := strings.IndexAny(body, ":=?")
	if end < 0 {
		end = len(body)
	}
	p.name = body[:end]
	p.shape = body[end:]
	if p.name == "" || !validParamName(p.name) {
		return nil, fmt.Errorf("invalid parameter name %q", p.name)
	}
	rest := body[end:]
	for strings.HasPrefix(rest, ":") {
		rest = rest[1:]
		// constraint name, optionally followed by (args) possibly containing ':'.
		i := 0
		for i < len(rest) && rest[i] != '(' && rest[i] != ':' && rest[i] != '=' && rest[i] != '?' {
			i++
		}
		c := constraint{name: strings.ToLower(rest[:i])}
		if c.name == "" {
			return nil, fmt.Errorf("parameter %q: empty constraint", p.name)
		}
		rest = rest[i:]
		if strings.HasPrefix(rest, "(") {
			close := strings.LastIndex(rest, ")")
			if c.name != "regex" {
				close = strings.Index(rest, ")")
			}
			if close < 0 {
				return nil, fmt.Errorf("parameter %q: unterminated constraint %s(", p.name, c.name)
			}
			arg := rest[1:close]
			rest = rest[close+1:]
			if c.name == "regex" {
				re, err := regexp.Compile(arg)
				if err != nil {
					return nil, fmt.Errorf("parameter %q: bad regex constraint: %v", p.name, err)
				}
				c.re = re
			} else {
				for _, a := range strings.Split(arg, ",") {
					c.args = append(c.args, strings.TrimSpace(a))
				}
			}
		}
		if c.name == "regex" && c.re == nil {
			return nil, fmt.Errorf("parameter %q: regex constraint needs (expression)", p.name)
		}
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("parameter %q: %v", p.name, err)
		}
		p.constraints = append(p.constraints, c)
	}
	switch {
	case rest == "":
	case rest == "?":
		p.optional = true
	case strings.HasPrefix(rest, "="):
		p.def, p.hasDefault = rest[1:], true
	default:
		return nil, fmt.Errorf("parameter %q: unexpected %q", p.name, rest)
	}
	if p.catchAll && p.optional {
		return nil, fmt.Errorf("catch-all parameter %q cannot be marked optional", p.name)
	}
	return p, nil
}

func validParamName(s string) bool {
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

var (
	guidRE  = regexp.MustCompile(`^(?i)(?:\{)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}(?:\})?$`)
	alphaRE = regexp.MustCompile(`^[A-Za-z]+$`)
)

func (c constraint) validate() error {
	want := map[string][]int{"min": {1}, "max": {1}, "minlength": {1}, "maxlength": {1}, "range": {2}, "length": {1, 2}}
	n, ok := want[c.name]
	if !ok {
		return nil
	}
	if !(len(c.args) == n[0] || (len(n) > 1 && len(c.args) == n[1])) {
		return fmt.Errorf("constraint %s needs %v argument(s)", c.name, n)
	}
	for _, a := range c.args {
		if _, err := strconv.ParseInt(a, 10, 64); err != nil {
			return fmt.Errorf("constraint %s: %q is not an integer", c.name, a)
		}
	}
	return nil
}

func (c constraint) arg(i int) int64 {
	v, _ := strconv.ParseInt(c.args[i], 10, 64)
	return v
}

// check reports whether a route value satisfies the constraint. Unknown
// constraints are not checked.
func (c constraint) check(v string) bool {
	switch c.name {
	case "int":
		_, err := strconv.ParseInt(v, 10, 32)
		return err == nil
	case "long":
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case "float", "double", "decimal":
		_, err := strconv.ParseFloat(v, 64)
		return err == nil
	case "bool":
		_, err := strconv.ParseBool(strings.ToLower(v))
		return err == nil && (strings.EqualFold(v, "true") || strings.EqualFold(v, "false"))
	case "guid":
		return guidRE.MatchString(v)
	case "alpha":
		return alphaRE.MatchString(v)
	case "min", "max", "range":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		switch c.name {
		case "min":
			return n >= c.arg(0)
		case "max":
			return n <= c.arg(0)
		default:
			return n >= c.arg(0) && n <= c.arg(1)
		}
	case "minlength":
		return int64(len([]rune(v))) >= c.arg(0)
	case "maxlength":
		return int64(len([]rune(v))) <= c.arg(0)
	case "length":
		l := int64(len([]rune(v)))
		if len(c.args) == 1 {
			return l == c.arg(0)
		}
		return l >= c.arg(0) && l <= c.arg(1)
	case "regex":
		return c.re.MatchString(v)
	}
	return true
}
