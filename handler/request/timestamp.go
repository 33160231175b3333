package request

import (
	"errors"
	"time"
)

// ParseDateTime parses s as an RFC 3339 date-time (RFC 3339 §5.6), exactly:
//
//	date-time    = full-date "T" full-time         ; "T" or "t"
//	full-date    = 4DIGIT "-" 2DIGIT "-" 2DIGIT    ; month 01-12, day valid for the month and year
//	full-time    = partial-time time-offset
//	partial-time = 2DIGIT ":" 2DIGIT ":" 2DIGIT ["." 1*DIGIT]   ; hour 00-23, minute 00-59, second 00-60
//	time-offset  = "Z" / ("+" / "-") 2DIGIT ":" 2DIGIT        ; "Z" or "z"; offset hour 00-23, minute 00-59
//
// Every field has exactly its number of digits (no "T1:00:00"), and nothing
// else is accepted (no space for "T", no offset without a colon, no
// trailing text). Fractional seconds may have any number of digits; digits
// past nanoseconds are dropped. "-00:00" (offset unknown, §4.3) is UTC. The
// result is in UTC; an instant outside the years 0000–9999 there (e.g.
// 0000-01-01T00:00:00+01:00) is refused.
//
// Second 60 is a leap second. RFC 3339 allows it where the leap-second
// rules do: a leap second is the last second of a UTC month (ITU-R TF.460),
// so :60 is accepted only when the time, moved to UTC, is 23:59:60 on the
// last day of a month. time.Time cannot hold it: it is normalised to
// 23:59:59.999999999 UTC of that day, the last representable instant
// before the following second, so order against every other time is kept.
func ParseDateTime(s string) (time.Time, error) {
	p := dtParser{s: s}
	year := p.digits(4)
	p.lit('-')
	month := p.digits(2)
	p.lit('-')
	day := p.digits(2)
	p.litFold('T')
	hour := p.digits(2)
	p.lit(':')
	min := p.digits(2)
	p.lit(':')
	sec := p.digits(2)
	nsec := 0
	if p.peek('.') {
		p.i++
		nsec = p.fraction()
	}
	offset := 0
	switch {
	case p.peekFold('Z'):
		p.i++
	case p.peek('+'), p.peek('-'):
		sign := 1
		if p.s[p.i] == '-' {
			sign = -1
		}
		p.i++
		oh := p.digits(2)
		p.lit(':')
		om := p.digits(2)
		if oh > 23 || om > 59 {
			p.fail()
		}
		offset = sign * (oh*3600 + om*60)
	default:
		p.fail()
	}
	if p.err != nil || p.i != len(s) {
		return time.Time{}, errDateTime
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 || min > 59 || sec > 60 {
		return time.Time{}, errDateTime
	}
	leap := sec == 60
	if leap {
		sec = 59
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	if leap {
		// In UTC a leap second is 23:59:60 of a month's last day.
		if t.Hour() != 23 || t.Minute() != 59 || t.Day() != daysIn(t.Month(), t.Year()) {
			return time.Time{}, errDateTime
		}
		t = time.Date(t.Year(), t.Month(), t.Day(), 23, 59, 59, 999999999, time.UTC)
	}
	if t.Year() < 0 || t.Year() > 9999 {
		// An offset moved it out of what a date-time can write in UTC.
		return time.Time{}, errDateTime
	}
	return t, nil
}

var errDateTime = errors.New("not an RFC 3339 date-time")

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// dtParser reads s left to right; the first mismatch sets err and every
// later read is a no-op.
type dtParser struct {
	s   string
	i   int
	err error
}

func (p *dtParser) fail() {
	if p.err == nil {
		p.err = errDateTime
	}
}

func (p *dtParser) digits(n int) int {
	if p.err != nil || p.i+n > len(p.s) {
		p.fail()
		return 0
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if c < '0' || c > '9' {
			p.fail()
			return 0
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v
}

// fraction reads 1*DIGIT as nanoseconds (digits past the ninth dropped).
func (p *dtParser) fraction() int {
	start, ns, scale := p.i, 0, 100000000
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		ns += int(p.s[p.i]-'0') * scale
		scale /= 10
		p.i++
	}
	if p.i == start {
		p.fail()
	}
	return ns
}

func (p *dtParser) peek(c byte) bool { return p.err == nil && p.i < len(p.s) && p.s[p.i] == c }

// peekFold matches an upper-case ASCII letter in either case.
func (p *dtParser) peekFold(c byte) bool { return p.peek(c) || p.peek(c+'a'-'A') }

func (p *dtParser) lit(c byte) {
	if !p.peek(c) {
		p.fail()
		return
	}
	p.i++
}

func (p *dtParser) litFold(c byte) {
	if !p.peekFold(c) {
		p.fail()
		return
	}
	p.i++
}
