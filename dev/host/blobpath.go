package host

import (
	"fmt"
	"regexp"
	"strings"
)

// BlobPath is a parsed blob trigger path such as
// "landing/{uploadId}/{fileName}": a fixed container and a blob name pattern
// whose {tokens} capture parts of the blob name.
//
// Matching follows the Functions host's binding templates (webjobs SDK
// BindingTemplateSource/BindingTemplateToken): the whole "container/blob"
// path is matched against ^literal(?<token>.*)literal…$, case-sensitively,
// each token greedy, so "{a}.{b}" on "x.y.z" gives a="x.y", b="z" and
// "{name}" captures slashes too. "{{" and "}}" stand for literal braces. A
// path with no "/" ("landing") matches every blob of the container.
type BlobPath struct {
	Template  string   // as written in function.json
	Container string   // e.g. "landing"
	Pattern   string   // blob name part after the first "/" ("" = every blob)
	Tokens    []string // token names in order of appearance, e.g. uploadId, fileName
	prefix    string   // literal blob name prefix before the first token
	re        *regexp.Regexp
}

// blobTokenRE is what the development host accepts as a token name.
var blobTokenRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// containerNameRE is the Blob service's container naming rule: 3-63
// characters, lower-case letters, digits and single hyphens, starting and
// ending with a letter or digit ("Naming and Referencing Containers, Blobs,
// and Metadata"); $root and $web are the service's special containers.
var containerNameRE = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}|\$root|\$web)$`)

// maxBlobNameLen is the Blob service's limit on a blob name, in characters.
const maxBlobNameLen = 1024

// ParseBlobPath parses a blobTrigger "path". Errors describe what is wrong
// with the path, for the caller to prefix with the file and field: a missing
// container or blob part around "/", a backslash or a {token} in the
// container, an invalid container name, an empty, unterminated or invalid
// token name, a token used twice, a stray "}" and a pattern longer than the
// service's 1,024-character blob name limit.
func ParseBlobPath(s string) (*BlobPath, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("blob trigger path is empty (want \"container/{name}\")")
	}
	container, pattern, hasBlob := strings.Cut(s, "/")
	if hasBlob && (container == "" || pattern == "") {
		return nil, fmt.Errorf("blob trigger path %q: paths must be in the format \"container/blob\" with both parts non-empty", s)
	}
	if strings.Contains(container, `\`) {
		return nil, fmt.Errorf("blob trigger path %q: paths must be in the format \"container/blob\" (a backslash is not a separator)", s)
	}
	if strings.ContainsAny(container, "{}") {
		return nil, fmt.Errorf("blob trigger path %q: the container %q cannot contain {tokens}; the host must know which container to watch", s, container)
	}
	if !containerNameRE.MatchString(container) {
		return nil, fmt.Errorf("blob trigger path %q: invalid container name %q (3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit)", s, container)
	}
	p := &BlobPath{Template: s, Container: container, Pattern: pattern}
	var re strings.Builder
	re.WriteString("^")
	re.WriteString(regexp.QuoteMeta(container + "/"))
	var literal strings.Builder // literal text since the last token
	seen := map[string]bool{}
	literalLen := 0
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '{' && i+1 < len(pattern) && pattern[i+1] == '{':
			literal.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(pattern) && pattern[i+1] == '}':
			literal.WriteByte('}')
			i += 2
		case c == '}':
			return nil, fmt.Errorf("blob trigger path %q: unmatched \"}\" at offset %d (write \"}}\" for a literal brace)", s, len(container)+1+i)
		case c == '{':
			end := strings.IndexByte(pattern[i+1:], '}')
			if end < 0 || strings.IndexByte(pattern[i+1:i+1+end], '{') >= 0 {
				return nil, fmt.Errorf("blob trigger path %q: unterminated token at offset %d", s, len(container)+1+i)
			}
			name := pattern[i+1 : i+1+end]
			switch {
			case name == "":
				return nil, fmt.Errorf("blob trigger path %q: empty token {} at offset %d", s, len(container)+1+i)
			case !blobTokenRE.MatchString(name):
				return nil, fmt.Errorf("blob trigger path %q: invalid token name %q (letters, digits and _; not starting with a digit)", s, name)
			case seen[strings.ToLower(name)]:
				return nil, fmt.Errorf("blob trigger path %q: token {%s} is used twice", s, name)
			}
			seen[strings.ToLower(name)] = true
			if len(p.Tokens) == 0 {
				p.prefix = literal.String()
			}
			literalLen += literal.Len()
			re.WriteString(regexp.QuoteMeta(literal.String()))
			literal.Reset()
			re.WriteString("(?P<" + name + ">.*)")
			p.Tokens = append(p.Tokens, name)
			i += end + 2
		default:
			literal.WriteByte(c)
			i++
		}
	}
	if len(p.Tokens) == 0 {
		p.prefix = literal.String()
	}
	literalLen += literal.Len()
	if literalLen > maxBlobNameLen {
		return nil, fmt.Errorf("blob trigger path %q: the blob name part is longer than the service's %d-character limit", s, maxBlobNameLen)
	}
	re.WriteString(regexp.QuoteMeta(literal.String()))
	if !hasBlob || (len(p.Tokens) == 0 && pattern == "") {
		re.WriteString(".*") // "container" alone: every blob
	}
	re.WriteString("$")
	var err error
	if p.re, err = regexp.Compile(re.String()); err != nil {
		return nil, fmt.Errorf("blob trigger path %q: %v", s, err)
	}
	return p, nil
}

// Match reports whether a blob of the watched container matches the
// pattern and returns its token values (token name → captured text).
func (p *BlobPath) Match(blobName string) (map[string]string, bool) {
	m := p.re.FindStringSubmatch(p.Container + "/" + blobName)
	if m == nil {
		return nil, false
	}
	vals := make(map[string]string, len(p.Tokens))
	for i, name := range p.re.SubexpNames() {
		if name != "" {
			vals[name] = m[i]
		}
	}
	return vals, true
}

// ListPrefix is the literal blob name prefix before the first token (all of
// the pattern when it has none): listing with it finds every candidate.
func (p *BlobPath) ListPrefix() string { return p.prefix }
