package scan

import (
	"strings"
	"testing"
)

func TestCheckLimits(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name     string
		size     int
		declared int64
		max      int64
		want     string // substring of the reason; "" = accepted
	}{
		{"one byte, declared one", 1, 1, 25 * mb, ""},
		{"exactly the limit", 25 * mb, 25 * mb, 25 * mb, ""},
		{"smaller than declared", 10, 1000, 25 * mb, ""},
		{"empty", 0, 10, 25 * mb, `"f.pdf" is empty`},
		{"one byte over the limit", 25*mb + 1, 26 * mb, 25 * mb, "the limit is 26214400 bytes (25 MiB)"},
		{"26 MiB declared as 1 MiB", 26 * mb, 1 * mb, 25 * mb, "the limit is"},
		{"2 MiB declared as 1 MiB (a SAS cannot cap size)", 2 * mb, 1 * mb, 25 * mb, "is 2097152 bytes, more than the 1048576 bytes declared"},
		{"one byte over declared", 101, 100, 25 * mb, "more than the 100 bytes declared"},
		{"no declared size", 10, 0, 25 * mb, "has no declared size"},
		{"negative declared size", 10, -5, 25 * mb, "has no declared size"},
		{"custom limit", 2 * mb, 3 * mb, 3 * mb / 2, "(1.5 MiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := File{Name: "f.pdf", DeclaredType: typePDF, DeclaredSize: tt.declared, Content: make([]byte, tt.size)}
			d := checkLimits(quoteName(f.Name), f, tt.max)
			switch {
			case tt.want == "" && d != nil:
				t.Fatalf("rejected: %s", d.reason)
			case tt.want != "" && d == nil:
				t.Fatalf("accepted; want a rejection containing %q", tt.want)
			case d != nil && (d.verdict != Rejected || !strings.Contains(d.reason, tt.want) || !strings.Contains(d.reason, `"f.pdf"`)):
				t.Fatalf("got %s %q; want rejected, naming the file, containing %q", d.verdict, d.reason, tt.want)
			}
		})
	}
}
