package invoke

import "time"

// Timer is Data.<name> of a timer trigger: the host's TimerInfo,
// {"Schedule":{"AdjustForDST":…},"ScheduleStatus":{"Last","Next","LastUpdated"}|null,"IsPastDue":…}.
//
// ScheduleStatus is null when the schedule monitor is off (useMonitor
// false) and its dates come with or without an offset (a timer that never
// ran reports "Last":"0001-01-01T00:00:00"); either way the values are only
// decoded, and can only fail, when read.
type Timer struct {
	IsPastDue    Field[bool]      // the run started later than scheduled
	AdjustForDST Field[bool]      // Schedule.AdjustForDST
	Last         Field[time.Time] // ScheduleStatus.Last, UTC; absent when ScheduleStatus is null
	Next         Field[time.Time] // ScheduleStatus.Next, UTC
	LastUpdated  Field[time.Time] // ScheduleStatus.LastUpdated, UTC
}

// Timer returns the timer payload bound as name in function.json. It never
// fails: an absent binding has absent values, and a binding that is not an
// object makes each value report that when read.
func (r *Request) Timer(name string) Timer {
	base := "Data." + name
	top, err := object(base, r.Data[name])
	schedule, serr := object(base+".Schedule", lookupKey(top, "Schedule"))
	status, sterr := object(base+".ScheduleStatus", lookupKey(top, "ScheduleStatus"))
	return Timer{
		IsPastDue:    member(base, top, err, "IsPastDue", decodeBool),
		AdjustForDST: member(base+".Schedule", schedule, firstErr(err, serr), "AdjustForDST", decodeBool),
		Last:         member(base+".ScheduleStatus", status, firstErr(err, sterr), "Last", decodeTime),
		Next:         member(base+".ScheduleStatus", status, firstErr(err, sterr), "Next", decodeTime),
		LastUpdated:  member(base+".ScheduleStatus", status, firstErr(err, sterr), "LastUpdated", decodeTime),
	}
}
