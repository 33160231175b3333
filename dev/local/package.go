package local

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
)

// Package assembles the deployable app folder: host.json, the handler binary
// (linux/amd64, static) and every functions/* folder — what the Functions
// host discovers and `func start --script-root <dir>` runs. `make package`
// and the end-to-end tests both use it.
func Package(root, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "handler"), "./handler")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./handler: %v\n%s", err, out)
	}
	if err := copyFile(filepath.Join(root, "host.json"), filepath.Join(dir, "host.json")); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(root, "functions"), dir); err != nil {
		return err
	}
	// BPMN definitions the handler loads (WORKFLOW_DEFINITION).
	return copyTree(filepath.Join(root, "workflows"), filepath.Join(dir, "workflows"))
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
