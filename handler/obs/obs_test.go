package obs

import (
	"bytes"
	"context"
	"log/slog"
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
