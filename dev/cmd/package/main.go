// Command package assembles build/app (host.json + handler + functions/*);
// it is `make package`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/stack"
)

func main() {
	out := flag.String("o", "build/app", "output folder")
	flag.Parse()
	root, err := stack.RepoRoot()
	if err == nil {
		err = local.Package(root, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	entries, _ := os.ReadDir(*out)
	fmt.Printf("packaged %s:", *out)
	for _, e := range entries {
		fmt.Print(" ", e.Name())
	}
	fmt.Println()
}
