package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/profileflow/profileflow/handler/domain"
)

// engineFunc adapts a function to Engine.
type engineFunc func(ctx context.Context, r io.Reader) (Finding, error)

func (f engineFunc) Scan(ctx context.Context, r io.Reader) (Finding, error) { return f(ctx, r) }

func answer(f Finding, err error) Engine {
	return engineFunc(func(_ context.Context, r io.Reader) (Finding, error) {
		if _, rerr := io.Copy(io.Discard, r); rerr != nil {
			return Finding{}, rerr
		}
		return f, err
	})
}

func TestRunEngine(t *testing.T) {
	refused := &dialError{syscall.ECONNREFUSED}
	tests := []struct {
		name          string
		engine        Engine
		want          *decision // nil = clean without an engine name
		wantTransient error     // the cause a transient error must wrap
	}{
		{"no engine", nil, nil, nil},
		{"clean", answer(Finding{Engine: "ClamAV 1.4.6"}, nil), &decision{verdict: Clean, engine: "ClamAV 1.4.6"}, nil},
		{"clean, engine unnamed", answer(Finding{}, nil), nil, nil},
		{"infected", answer(Finding{Infected: true, Signature: "Eicar-Signature", Engine: "ClamAV 1.4.6"}, nil),
			&decision{verdict: Infected, reason: `"f.pdf" is infected: Eicar-Signature`, signature: "Eicar-Signature", engine: "ClamAV 1.4.6"}, nil},
		{"infected without a signature name", answer(Finding{Infected: true}, nil),
			&decision{verdict: Infected, reason: `"f.pdf" is infected: unnamed signature`, signature: "unnamed signature"}, nil},
		{"size limit: not scanned", answer(Finding{Engine: "ClamAV 1.4.6"}, fmt.Errorf("%w: INSTREAM size limit exceeded", ErrNotScanned)),
			&decision{verdict: Error, reason: `not scanned: "f.pdf": INSTREAM size limit exceeded`, engine: "ClamAV 1.4.6"}, nil},
		{"wrapped twice: not scanned", answer(Finding{}, fmt.Errorf("clamd: %w", fmt.Errorf("%w: INSTREAM size limit exceeded", ErrNotScanned))),
			&decision{verdict: Error, reason: `not scanned: "f.pdf": clamd: INSTREAM size limit exceeded`}, nil},
		{"bare ErrNotScanned", answer(Finding{}, ErrNotScanned),
			&decision{verdict: Error, reason: `not scanned: "f.pdf": the engine refused it`}, nil},
		{"engine unreachable", answer(Finding{}, refused), nil, refused},
		{"engine timed out", answer(Finding{}, context.DeadlineExceeded), nil, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runEngine(context.Background(), tt.engine, `"f.pdf"`, []byte("%PDF-1.7 content"))
			if tt.wantTransient != nil {
				if got != nil || !domain.Is(err, domain.KindTransient) || !errors.Is(err, tt.wantTransient) {
					t.Fatalf("got %+v, %v; want a transient error wrapping %v", got, err, tt.wantTransient)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

// dialError stands for a dial failure without a network.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial tcp 127.0.0.1:3310: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func TestRunEngineStreamsTheExactBytes(t *testing.T) {
	content := []byte("%PDF-1.7 exactly these bytes")
	var got []byte
	e := engineFunc(func(_ context.Context, r io.Reader) (Finding, error) {
		var err error
		got, err = io.ReadAll(r)
		return Finding{}, err
	})
	if _, err := runEngine(context.Background(), e, `"f.pdf"`, content); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(content) {
		t.Fatalf("engine read %q; want %q", got, content)
	}
}
