package invoke

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTimerFixture(t *testing.T) {
	r := load(t, "timer-trigger.request.json")
	tm := r.Timer("timer")
	last, err := tm.Last.Get()
	if err != nil {
		t.Fatal(err)
	}
	next, err := tm.Next.Get()
	if err != nil {
		t.Fatal(err)
	}
	if next.Sub(last) != 5*time.Minute || !last.Equal(time.Date(2024, 6, 15, 12, 30, 0, 0, time.UTC)) {
		t.Errorf("Last %v Next %v", last, next)
	}
	if lu, err := tm.LastUpdated.Get(); err != nil || lu.Nanosecond() != 12345600 {
		t.Errorf("LastUpdated %v %v (7 fraction digits)", lu, err)
	}
	if pd, err := tm.IsPastDue.Get(); pd || err != nil {
		t.Errorf("IsPastDue %v %v", pd, err)
	}
	if dst, err := tm.AdjustForDST.Get(); !dst || err != nil {
		t.Errorf("AdjustForDST %v %v", dst, err)
	}
	if len(r.Metadata) != 1 {
		t.Errorf("timer metadata should hold only sys, got %d keys", len(r.Metadata))
	}
}

// The host writes ScheduleStatus dates with or without an offset (a timer
// that never ran reports 0001-01-01T00:00:00) and ScheduleStatus may be
// null; none of it may fail a function, and only a value it reads can.
func TestTimerLenient(t *testing.T) {
	for _, tc := range []struct {
		name, timer string
		pastDue     bool
		last        time.Time
		lastOK      bool
		lastErr     string // "" = no error
		pastDueErr  string
	}{
		{name: "no offset, never ran", timer: `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2024-06-15T12:35:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}`,
			last: time.Time{}, lastOK: true},
		{name: "no offset with fraction", timer: `{"ScheduleStatus":{"Last":"2024-06-15T12:30:00.1234567"},"IsPastDue":true}`,
			pastDue: true, last: time.Date(2024, 6, 15, 12, 30, 0, 123456700, time.UTC), lastOK: true},
		{name: "other offset, converted to UTC", timer: `{"ScheduleStatus":{"Last":"2024-06-15T14:30:00+02:00"}}`,
			last: time.Date(2024, 6, 15, 12, 30, 0, 0, time.UTC), lastOK: true},
		{name: "Z", timer: `{"ScheduleStatus":{"Last":"2024-06-15T12:30:00Z"}}`,
			last: time.Date(2024, 6, 15, 12, 30, 0, 0, time.UTC), lastOK: true},
		{name: "ScheduleStatus null", timer: `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":true}`, pastDue: true},
		{name: "ScheduleStatus absent", timer: `{"IsPastDue":false}`},
		{name: "binding null", timer: `null`},
		{name: "camelCase keys", timer: `{"scheduleStatus":{"last":"2024-06-15T12:30:00"},"isPastDue":true}`,
			pastDue: true, last: time.Date(2024, 6, 15, 12, 30, 0, 0, time.UTC), lastOK: true},
		{name: "IsPastDue as string", timer: `{"IsPastDue":"True"}`, pastDue: true},
		{name: "unreadable date fails only the date", timer: `{"ScheduleStatus":{"Last":"yesterday"},"IsPastDue":true}`,
			pastDue: true, lastOK: true, lastErr: "Data.timer.ScheduleStatus.Last"},
		{name: "ScheduleStatus not an object", timer: `{"ScheduleStatus":"soon","IsPastDue":false}`,
			lastOK: true, lastErr: "Data.timer.ScheduleStatus: not a JSON object"},
		{name: "binding not an object", timer: `"tick"`,
			lastOK: true, lastErr: "Data.timer: not a JSON object", pastDueErr: "Data.timer: not a JSON object"},
		{name: "IsPastDue not a boolean", timer: `{"IsPastDue":"maybe"}`, pastDueErr: "Data.timer.IsPastDue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := DecodeBytes([]byte(`{"Data":{"timer":` + tc.timer + `},"Metadata":{}}`))
			if err != nil {
				t.Fatal(err)
			}
			tm := r.Timer("timer")
			pd, _, err := tm.IsPastDue.Lookup()
			if !matchErr(err, tc.pastDueErr) || (err == nil && pd != tc.pastDue) {
				t.Errorf("IsPastDue = %v, %v; want %v, error containing %q", pd, err, tc.pastDue, tc.pastDueErr)
			}
			last, ok, err := tm.Last.Lookup()
			if !matchErr(err, tc.lastErr) || ok != tc.lastOK || (err == nil && !last.Equal(tc.last)) {
				t.Errorf("Last = %v, %v, %v; want %v, %v, error containing %q", last, ok, err, tc.last, tc.lastOK, tc.lastErr)
			}
			if err == nil && ok && last.Location() != time.UTC {
				t.Errorf("Last not in UTC: %v", last.Location())
			}
		})
	}
	// An absent binding: every value absent, Get names what is missing.
	r, _ := DecodeBytes([]byte(`{"Data":{},"Metadata":{}}`))
	if _, err := r.Timer("timer").Next.Get(); err == nil || !strings.Contains(err.Error(), "Data.timer.ScheduleStatus.Next missing") || !errors.Is(err, ErrBadRequest) {
		t.Errorf("Get of an absent value: %v", err)
	}
}

func matchErr(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want) && errors.Is(err, ErrBadRequest)
}

func TestParseTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-06-15T12:34:56", utc(2024, 6, 15, 12, 34, 56, 0), true},
		{"0001-01-01T00:00:00", time.Time{}, true},
		{"2024-06-15T12:34:56.1234567", utc(2024, 6, 15, 12, 34, 56, 123456700), true},
		{"2024-06-15T12:34:56Z", utc(2024, 6, 15, 12, 34, 56, 0), true},
		{"2024-06-15T12:34:56+00:00", utc(2024, 6, 15, 12, 34, 56, 0), true},
		{"2024-06-15T12:34:56.5-05:00", utc(2024, 6, 15, 17, 34, 56, 500000000), true},
		{"0001-01-01T00:00:00+00:00", time.Time{}, true},
		{" 2024-06-15T12:34:56 ", utc(2024, 6, 15, 12, 34, 56, 0), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"2024-06-15", time.Time{}, false},
		{"2024-13-15T12:34:56", time.Time{}, false},
		{"2024-06-15 12:34:56", time.Time{}, false},
		{"2024-06-15T12:34:56+0000", time.Time{}, false},
	} {
		got, err := ParseTime(tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) || (err == nil && got.Location() != time.UTC) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
