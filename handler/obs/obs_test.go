package obs

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerAddsInvocationID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := WithInvocation(context.Background(), "inv-42")
	log.WarnContext(ctx, "with id")
	log.Warn("without context")
	log.InfoContext(ctx, "explicit", "invocationId", "inv-42")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	if !strings.Contains(lines[0], `"invocationId":"inv-42"`) || !strings.Contains(lines[0], `"component":"test"`) {
		t.Errorf("context record: %s", lines[0])
	}
	if strings.Contains(lines[1], "invocationId") {
		t.Errorf("record without context got an id: %s", lines[1])
	}
	if strings.Count(lines[2], "invocationId") != 1 {
		t.Errorf("id duplicated: %s", lines[2])
	}
}

func TestLoggerWrapsOnce(t *testing.T) {
	var buf bytes.Buffer
	plain := slog.New(slog.NewJSONHandler(&buf, nil))
	l := Logger(plain)
	if Logger(l) != l {
		t.Error("an obs logger was wrapped again")
	}
	l.InfoContext(WithInvocation(context.Background(), "inv-7"), "hello")
	if strings.Count(buf.String(), `"invocationId":"inv-7"`) != 1 {
		t.Errorf("record: %s", buf.String())
	}
	if Logger(nil) == nil {
		t.Error("nil logger")
	}
}

// No call site in the handler module passes the invocation id by hand or
// logs without a context where one is at hand: the id comes from the
// context, through Handler, once.
func TestNoHandPassedInvocationID(t *testing.T) {
	root := filepath.Join("..")
	handPassed := regexp.MustCompile(`"invocationId"|obs\.Key\b|InvocationID\(`)
	noContext := regexp.MustCompile(`\b(log|Log|log\(\)|slog)\.(Debug|Info|Warn|Error)\(`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, string(filepath.Separator)+"obs"+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if handPassed.MatchString(line) && strings.Contains(line, "log") {
				t.Errorf("%s:%d passes the invocation id by hand: %s", path, i+1, strings.TrimSpace(line))
			}
			if noContext.MatchString(line) && strings.Contains(line, "ctx") {
				t.Errorf("%s:%d logs without its context: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
