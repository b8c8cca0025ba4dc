package nexus

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// FormatTimestamp writes t in UTC as Python's datetime.isoformat writes an
// aware UTC datetime, the form of every nexus-control timestamp:
// "2025-01-15T10:00:00.123456+00:00", with the fraction left out when the
// microseconds are zero. Digests over events depend on this exact form.
func FormatTimestamp(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// errNaive is returned by parseTimestamp for a timestamp without offset.
var errNaive = errors.New("has no UTC offset")

// parseTimestamp reads an ISO 8601 timestamp the way Python 3.11's
// datetime.fromisoformat reads the extended forms: "YYYY-MM-DD", then any
// single separator and "HH[:MM[:SS[.fff…]]]" (a comma may replace the
// point; digits beyond microseconds are dropped), then "Z" or an offset
// "±HH[:MM[:SS[.ffffff]]]" or "±HHMM". A timestamp without offset is
// refused with errNaive: nexus-control cannot compare it with the clock
// and fails to load the decision. The basic (compact) and week-date forms
// that Python also accepts are refused.
func parseTimestamp(s string) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 timestamp: %s", s, why)
	}
	p := 0
	num := func(n int) (int, bool) {
		if p+n > len(s) {
			return 0, false
		}
		v := 0
		for i := 0; i < n; i++ {
			c := s[p+i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		p += n
		return v, true
	}
	lit := func(c byte) bool {
		if p < len(s) && s[p] == c {
			p++
			return true
		}
		return false
	}
	year, ok1 := num(4)
	ok2 := lit('-')
	month, ok3 := num(2)
	ok4 := lit('-')
	day, ok5 := num(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return bad("want a date YYYY-MM-DD")
	}
	if month < 1 || month > 12 {
		return bad("month must be in 1..12")
	}
	if day < 1 || day > daysIn(year, month) {
		return bad("day is out of range for month")
	}
	var hour, minute, sec, micro int
	if p < len(s) {
		_, n := utf8.DecodeRuneInString(s[p:])
		p += n // any single separator
		var ok bool
		if hour, ok = num(2); !ok {
			return bad("want an hour after the date")
		}
		if lit(':') {
			if minute, ok = num(2); !ok {
				return bad("want minutes")
			}
			if lit(':') {
				if sec, ok = num(2); !ok {
					return bad("want seconds")
				}
				if lit('.') || lit(',') {
					start := p
					for p < len(s) && s[p] >= '0' && s[p] <= '9' {
						if p-start < 6 {
							micro = micro*10 + int(s[p]-'0')
						}
						p++
					}
					n := p - start
					if n == 0 {
						return bad("want digits after the decimal point")
					}
					for ; n < 6; n++ {
						micro *= 10
					}
				}
			}
		}
		if hour > 23 {
			return bad("hour must be in 0..23")
		}
		if minute > 59 {
			return bad("minute must be in 0..59")
		}
		if sec > 59 {
			return bad("second must be in 0..59")
		}
	}
	if p == len(s) {
		return time.Time{}, errNaive
	}
	var offset, offMicro int // seconds and microseconds east of UTC
	switch {
	case lit('Z'):
	case p < len(s) && (s[p] == '+' || s[p] == '-'):
		sign := 1
		if s[p] == '-' {
			sign = -1
		}
		p++
		oh, ok := num(2)
		if !ok {
			return bad("want offset hours")
		}
		var om, os int
		if lit(':') {
			if om, ok = num(2); !ok {
				return bad("want offset minutes")
			}
			if lit(':') {
				if os, ok = num(2); !ok {
					return bad("want offset seconds")
				}
				if lit('.') {
					start := p
					for p < len(s) && s[p] >= '0' && s[p] <= '9' {
						offMicro = offMicro*10 + int(s[p]-'0')
						p++
					}
					n := p - start
					if n == 0 || n > 6 {
						return bad("offset fraction must have 1 to 6 digits")
					}
					for ; n < 6; n++ {
						offMicro *= 10
					}
				}
			}
		} else if p < len(s) {
			if om, ok = num(2); !ok {
				return bad("want offset minutes")
			}
		}
		if oh > 23 || om > 59 || os > 59 {
			return bad("offset is out of range")
		}
		offset = sign * (oh*3600 + om*60 + os)
		offMicro *= sign
	default:
		return bad("want Z or an offset after the time")
	}
	if p != len(s) {
		return bad("unexpected text after the offset")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, time.UTC)
	return t.Add(-time.Duration(offset)*time.Second - time.Duration(offMicro)*time.Microsecond), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
