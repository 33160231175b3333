package value

import (
	"reflect"
	"testing"
)

func TestNorm(t *testing.T) {
	for _, tc := range []struct{ in, want any }{
		{3, 3.0}, {int64(4), 4.0}, {int32(5), 5.0}, {float32(1.5), 1.5}, {2.5, 2.5},
		{[]string{"a", "b"}, []any{"a", "b"}}, {"s", "s"}, {nil, nil}, {true, true},
	} {
		if got := Norm(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Norm(%#v) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}
