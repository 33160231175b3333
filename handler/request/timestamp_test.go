package request_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/profileflow/profileflow/handler/request"
)

func TestParseDateTime(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	for _, tc := range []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"2026-11-30T17:30:58Z", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2026-11-30t17:30:58z", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2026-11-30T17:30:58z", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2026-11-30t17:30:58Z", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2026-11-30T17:30:58.5Z", utc(2026, 11, 30, 17, 30, 58, 500000000)},
		{"2026-11-30T17:30:58.123456789Z", utc(2026, 11, 30, 17, 30, 58, 123456789)},
		{"2026-11-30T17:30:58.1234567891234Z", utc(2026, 11, 30, 17, 30, 58, 123456789)},
		{"2026-11-30T18:30:58+01:00", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2026-11-30T12:00:58-05:30", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2026-11-30T17:30:58-00:00", utc(2026, 11, 30, 17, 30, 58, 0)},
		{"2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0, 0)},
		{"0000-01-01T00:00:00Z", utc(0, 1, 1, 0, 0, 0, 0)},
		// Leap seconds: the last second of a UTC month, kept just before
		// the following second.
		{"2026-12-31T23:59:60Z", utc(2026, 12, 31, 23, 59, 59, 999999999)},
		{"2016-12-31T23:59:60.5Z", utc(2016, 12, 31, 23, 59, 59, 999999999)},
		{"1990-12-31T15:59:60-08:00", utc(1990, 12, 31, 23, 59, 59, 999999999)}, // RFC 3339 §5.8
		{"2026-07-01T00:59:60+01:00", utc(2026, 6, 30, 23, 59, 59, 999999999)},
		// Refused: not the grammar.
		{"2026-11-30T1:00:00Z", time.Time{}},
		{"2026-11-30T01:0:00Z", time.Time{}},
		{"2026-11-30T01:00:0Z", time.Time{}},
		{"2026-1-30T01:00:00Z", time.Time{}},
		{"2026-11-3T01:00:00Z", time.Time{}},
		{"26-11-30T01:00:00Z", time.Time{}},
		{"+2026-11-30T01:00:00Z", time.Time{}},
		{"2026-11-30 17:30:58Z", time.Time{}},
		{"2026-11-30T17:30:58", time.Time{}},
		{"2026-11-30", time.Time{}},
		{"2026-11-30T17:30Z", time.Time{}},
		{"2026-11-30T17:30:58.Z", time.Time{}},
		{"2026-11-30T17:30:58,5Z", time.Time{}},
		{"2026-11-30T17:30:58+0100", time.Time{}},
		{"2026-11-30T17:30:58+01", time.Time{}},
		{"2026-11-30T17:30:58+1:00", time.Time{}},
		{"2026-11-30T17:30:58+24:00", time.Time{}},
		{"2026-11-30T17:30:58+01:60", time.Time{}},
		{"2026-11-30T17:30:58UTC", time.Time{}},
		{"2026-11-30T17:30:58Z ", time.Time{}},
		{" 2026-11-30T17:30:58Z", time.Time{}},
		{"2026-11-30T17:30:58ZZ", time.Time{}},
		{"２026-11-30T17:30:58Z", time.Time{}},
		{"", time.Time{}},
		// Refused: out of range.
		{"2026-13-01T00:00:00Z", time.Time{}},
		{"2026-00-01T00:00:00Z", time.Time{}},
		{"2026-11-31T00:00:00Z", time.Time{}},
		{"2026-02-29T00:00:00Z", time.Time{}},
		{"2026-11-00T00:00:00Z", time.Time{}},
		{"2026-11-30T24:00:00Z", time.Time{}},
		{"2026-11-30T23:60:00Z", time.Time{}},
		{"2026-11-30T23:59:61Z", time.Time{}},
		{"0000-01-01T00:00:00+01:00", time.Time{}}, // year -1 in UTC
		{"9999-12-31T23:00:00-05:00", time.Time{}}, // year 10000 in UTC
		// Refused: second 60 where no leap second can be.
		{"2026-11-30T17:30:60Z", time.Time{}},
		{"2026-12-30T23:59:60Z", time.Time{}},
		{"2026-12-31T23:58:60Z", time.Time{}},
		{"2026-12-31T23:59:60+01:00", time.Time{}},
	} {
		got, err := ParseDateTime(tc.in)
		switch {
		case tc.want.IsZero() && err == nil:
			t.Errorf("%q accepted as %v", tc.in, got)
		case !tc.want.IsZero() && err != nil:
			t.Errorf("%q refused: %v", tc.in, err)
		case !tc.want.IsZero() && !got.Equal(tc.want):
			t.Errorf("%q = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// The timestamp field of a change follows ParseDateTime.
func TestValidateTimestampIsRFC3339(t *testing.T) {
	f := newFixture(t)
	for in, ok := range map[string]bool{
		"2026-11-28T11:00:00Z": true, "2026-11-28t11:00:00z": true, "2026-11-28T1:00:00Z": false, "2026-11-28T11:00:00": false,
	} {
		d := "x"
		_, err := Validate(ChangeInput{Description: &d, Timestamp: &in}, f.profile(t), f.now)
		if (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "timestamp")) {
			t.Errorf("timestamp %q: %v", in, err)
		}
	}
	// A leap second is a valid timestamp, in the past here.
	leap := "2016-12-31T23:59:60Z"
	d := "x"
	ch, err := Validate(ChangeInput{Description: &d, Timestamp: &leap}, f.profile(t), f.now)
	if err != nil || !ch.Timestamp.Equal(time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC)) {
		t.Fatalf("leap second: %v %v", ch.Timestamp, err)
	}
}

// rfc3339 is the §5.6 grammar as a regular expression: an oracle written
// independently of the parser.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`)

func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"2026-11-30T17:30:58Z", "2026-11-30t17:30:58.5z", "2026-12-31T23:59:60Z", "1990-12-31T15:59:60-08:00",
		"2026-11-30T1:00:00Z", "2024-02-29T00:00:00+14:00", "2026-11-30T17:30:58.123456789123-00:00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDateTime(s)
		if err != nil {
			return
		}
		if !rfc3339.MatchString(s) {
			t.Fatalf("%q accepted outside the grammar", s)
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q: result not in UTC", s)
		}
		// What Go formats back parses to the same instant (no leap second
		// survives normalisation, so this holds for every accepted input).
		back := got.Format(time.RFC3339Nano)
		again, err := ParseDateTime(back)
		if err != nil || !again.Equal(got) {
			t.Fatalf("%q → %s → %v, %v", s, back, again, err)
		}
		// Without a leap second Go's own parser agrees on the instant.
		if !strings.Contains(s, ":60") {
			g, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
			if err == nil && got.Year() > 0 && !g.Equal(got.Truncate(time.Nanosecond)) {
				t.Fatalf("%q: %v, time.Parse %v", s, got, g)
			}
		}
	})
}
