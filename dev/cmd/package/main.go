// Command package assembles build/app (host.json + handler + functions/* +
// workflows/); it is `make package`, and with -goarch amd64 -zip, `make dist`.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/profileflow/profileflow/dev/artifact"
	"github.com/profileflow/profileflow/dev/stack"
)

func main() {
	out := flag.String("o", "build/app", "output folder")
	goarch := flag.String("goarch", "", "handler architecture (default: this machine's; amd64 for Azure)")
	zipOut := flag.String("zip", "", "also write the folder as this zip (zip deploy)")
	flag.Parse()
	root, err := stack.RepoRoot()
	if err == nil {
		err = artifact.Build(root, *out, *goarch)
	}
	if err == nil && *zipOut != "" {
		err = artifact.Zip(*out, *zipOut)
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
