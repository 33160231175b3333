// Package artifact assembles the function app folder the Functions host runs
// and deployment publishes: host.json, the handler binary, every function
// folder and the BPMN definitions; Zip packs it for zip deployment.
// `make package` (this machine, for local runs and tests) and `make dist`
// (linux/amd64, the Azure artifact) call it through dev/cmd/package.
package artifact

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Build replaces dir with the app folder built from the repository at root:
// host.json, the handler binary (static, linux/goarch; "" = this machine's
// architecture, for local runs) and every functions/* folder plus
// workflows/ — what the Functions host discovers and
// `func start --script-root <dir>` runs. It fails with the compiler's output
// when ./handler does not build.
func Build(root, dir, goarch string) error {
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "handler"), "./handler")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
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

// Zip writes dir's files into a zip archive for zip deployment, keeping the
// handler's executable bit.
func Zip(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name, hdr.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}
