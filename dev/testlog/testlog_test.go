package testlog

import (
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Write([]byte("x\n")) }()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "x\n"); n != 50 {
		t.Fatalf("%d writes recorded, want 50", n)
	}
}
