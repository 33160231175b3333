// Package value holds what the condition languages (feel, juel) share
// about process variables.
package value

// Norm reads Go numeric kinds as float64 and []string as []any, the types
// JSON-decoded variables already have (the engine stores variables as
// JSON), so a value compares the same however a caller built it.
func Norm(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case float32:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return v
}
