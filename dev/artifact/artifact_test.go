package artifact

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"
)

func TestBuildAndZip(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "app")
	if err := Build(root, dir, ""); err != nil {
		t.Fatal(err)
	}
	fns, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil || len(fns) == 0 {
		t.Fatalf("no function.json under functions/: %v", err)
	}
	want := []string{"host.json", "handler", "workflows/profile-update.bpmn"}
	for _, f := range fns {
		rel, _ := filepath.Rel(filepath.Join(root, "functions"), f)
		want = append(want, filepath.ToSlash(rel))
	}
	for _, w := range want {
		if _, err := os.Stat(filepath.Join(dir, w)); err != nil {
			t.Errorf("app folder lacks %s: %v", w, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "handler")); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("handler not executable: %v %v", st, err)
	}

	out := filepath.Join(t.TempDir(), "app.zip")
	if err := Zip(dir, out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	in := map[string]*zip.File{}
	for _, f := range zr.File {
		in[f.Name] = f
	}
	for _, w := range want {
		if in[w] == nil {
			t.Errorf("zip lacks %s", w)
		}
	}
	if h := in["handler"]; h != nil && h.Mode()&0o111 == 0 {
		t.Errorf("zip entry handler mode %v, want executable", h.Mode())
	}
}
