package fieldtype

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Instant is a point in time: seconds since the Unix epoch and nanoseconds
// within the second (0..999,999,999). date fields hold milliseconds,
// date_nanos nanoseconds.
type Instant struct {
	Sec  int64
	Nano int32
}

// Compare returns -1, 0 or 1.
func (a Instant) Compare(b Instant) int {
	switch {
	case a.Sec < b.Sec:
		return -1
	case a.Sec > b.Sec:
		return 1
	case a.Nano < b.Nano:
		return -1
	case a.Nano > b.Nano:
		return 1
	}
	return 0
}

// Truncate returns a at the resolution of a date (milliseconds) or
// date_nanos (nanoseconds) field.
func (a Instant) Truncate(t Type) Instant {
	if t == Date {
		a.Nano -= a.Nano % 1_000_000
	}
	return a
}

func (a Instant) String() string {
	return time.Unix(a.Sec, int64(a.Nano)).UTC().Format(time.RFC3339Nano)
}

// DateFormat is the list of formats of a date field, tried in order ("||").
type DateFormat []dateParser

type dateParser uint8

const (
	isoOptionalTime dateParser = iota // strict_date_optional_time, date_optional_time (and _nanos)
	epochMillis
	epochSecond
)

// DateFormatOf parses a mapping's format ("" is the default,
// strict_date_optional_time||epoch_millis). The ISO formats and the epoch
// formats are supported; others are an error.
func DateFormatOf(s string) (DateFormat, error) {
	if s == "" {
		s = "strict_date_optional_time||epoch_millis"
	}
	var f DateFormat
	for _, p := range strings.Split(s, "||") {
		switch strings.TrimSpace(p) {
		case "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos", "iso8601":
			f = append(f, isoOptionalTime)
		case "epoch_millis":
			f = append(f, epochMillis)
		case "epoch_second":
			f = append(f, epochSecond)
		default:
			return nil, fmt.Errorf("date format %q is not supported (strict_date_optional_time, date_optional_time, epoch_millis and epoch_second are)", p)
		}
	}
	return f, nil
}

// Parse reads s with the format. roundUp fills the components s leaves out
// as Elasticsearch does for the upper end of a range (and for `gt`): month
// and day 1, hour 23, minute and second 59, nanosecond 999,999,999; without
// it they are the lowest values (JavaDateMathParser with the round-up
// formatter; the range query reference's "missing date components").
func (f DateFormat) Parse(s string, roundUp bool) (Instant, bool) {
	for _, p := range f {
		var (
			t  Instant
			ok bool
		)
		switch p {
		case isoOptionalTime:
			t, ok = parseISO(s, roundUp)
		case epochMillis:
			t, ok = parseEpoch(s, 1e6)
		case epochSecond:
			t, ok = parseEpoch(s, 1e9)
		}
		if ok {
			return t, true
		}
	}
	return Instant{}, false
}

// FromNumber reads a JSON number in a date field as Elasticsearch does: as
// its text, with the first epoch format of the list (epoch_millis by
// default); a format without one cannot read numbers.
func (f DateFormat) FromNumber(v float64) (Instant, bool) {
	for _, p := range f {
		switch p {
		case epochMillis:
			return fromUnits(v, 1e6)
		case epochSecond:
			return fromUnits(v, 1e9)
		}
	}
	return Instant{}, false
}

func fromUnits(v, nanosPerUnit float64) (Instant, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Instant{}, false
	}
	ns := v * nanosPerUnit
	sec := math.Floor(ns / 1e9)
	if math.Abs(sec) > 1<<53 {
		return Instant{}, false
	}
	nano := math.Round(ns - sec*1e9)
	if nano >= 1e9 {
		sec++
		nano -= 1e9
	}
	return Instant{Sec: int64(sec), Nano: int32(nano)}, true
}

// parseEpoch reads epoch_millis / epoch_second text: an optional minus, digits
// and an optional fraction of the unit, exactly (no float rounding).
func parseEpoch(s string, nanosPerUnit float64) (Instant, bool) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(body, ".")
	unitDigits := 6 // nanoseconds per millisecond
	if nanosPerUnit == 1e9 {
		unitDigits = 9
	}
	if intPart == "" || len(intPart) > 15 || !allDigits(intPart) ||
		hasFrac && (frac == "" || len(frac) > unitDigits || !allDigits(frac)) {
		return Instant{}, false
	}
	units, _ := strconv.ParseInt(intPart, 10, 64)
	fracNanos := int64(0)
	if hasFrac {
		fracNanos, _ = strconv.ParseInt(frac+strings.Repeat("0", unitDigits-len(frac)), 10, 64)
	}
	per := int64(nanosPerUnit)
	sec, rem := units, int64(0)
	if per == 1e6 {
		sec, rem = units/1000, units%1000*1e6
	}
	nano := rem + fracNanos
	if neg {
		sec, nano = -sec, -nano
	}
	for nano < 0 {
		sec--
		nano += 1e9
	}
	for nano >= 1e9 {
		sec++
		nano -= 1e9
	}
	return Instant{Sec: sec, Nano: int32(nano)}, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseISO reads strict_date_optional_time: yyyy[-MM[-dd]], then optionally
// 'T' HH[:mm[:ss[(.|,)fraction]]] and an offset (Z, ±HH, ±HHmm, ±HH:mm).
func parseISO(s string, roundUp bool) (Instant, bool) {
	p := isoScanner{s: s}
	year, ok := p.digits(4)
	if !ok {
		return Instant{}, false
	}
	month, day, hour, minute, sec, nano := 1, 1, 0, 0, 0, 0
	if roundUp {
		hour, minute, sec, nano = 23, 59, 59, 999_999_999
	}
	if p.lit('-') {
		if month, ok = p.digits(2); !ok {
			return Instant{}, false
		}
		if p.lit('-') {
			if day, ok = p.digits(2); !ok {
				return Instant{}, false
			}
		}
	}
	loc := time.UTC
	if p.lit('T') {
		if h, ok := p.digits(2); ok {
			hour = h
			if p.lit(':') {
				if minute, ok = p.digits(2); !ok {
					return Instant{}, false
				}
				if p.lit(':') {
					if sec, ok = p.digits(2); !ok {
						return Instant{}, false
					}
					if p.lit('.') || p.lit(',') {
						n, ok := p.fraction()
						if !ok {
							return Instant{}, false
						}
						nano = n
					}
				}
			}
			if z, ok := p.offset(); ok {
				loc = z
			} else if !p.done() {
				return Instant{}, false
			}
		}
	}
	if !p.done() {
		return Instant{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return Instant{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nano, loc)
	return Instant{Sec: t.Unix(), Nano: int32(t.Nanosecond())}, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

type isoScanner struct {
	s string
	i int
}

func (p *isoScanner) done() bool { return p.i == len(p.s) }

func (p *isoScanner) lit(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *isoScanner) digits(n int) (int, bool) {
	if p.i+n > len(p.s) || !allDigits(p.s[p.i:p.i+n]) {
		return 0, false
	}
	v, _ := strconv.Atoi(p.s[p.i : p.i+n])
	p.i += n
	return v, true
}

// fraction reads 1 to 9 digits of a second.
func (p *isoScanner) fraction() (int, bool) {
	start := p.i
	for p.i < len(p.s) && p.i-start < 9 && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n := p.i - start
	if n == 0 {
		return 0, false
	}
	v, _ := strconv.Atoi(p.s[start:p.i])
	for ; n < 9; n++ {
		v *= 10
	}
	return v, true
}

func (p *isoScanner) offset() (*time.Location, bool) {
	if p.lit('Z') {
		return time.UTC, true
	}
	if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
		return nil, false
	}
	sign := 1
	if p.s[p.i] == '-' {
		sign = -1
	}
	p.i++
	h, ok := p.digits(2)
	if !ok {
		return nil, false
	}
	m := 0
	if p.lit(':') {
		if m, ok = p.digits(2); !ok {
			return nil, false
		}
	} else if mm, ok := p.digits(2); ok {
		m = mm
	}
	if h > 18 || m > 59 {
		return nil, false
	}
	return time.FixedZone("", sign*(h*3600+m*60)), true
}
