package rules

import (
	"fmt"
	"strconv"
	"time"
)

// AlertSuppression is a rule's [rule.alert_suppression] table, in Elastic's
// rule schema (security_solution common/api/detection_engine/model/
// rule_schema: AlertSuppressionGroupBy, AlertSuppressionDuration with unit
// s, m or h, AlertSuppressionMissingFieldsStrategy suppress|doNotSuppress).
// Package rules/suppress applies it (see its doc comment for the semantics
// in a stream).
type AlertSuppression struct {
	GroupBy []string // 1 to 3 fields
	// Duration is the suppression window; zero means none was given (Elastic
	// then suppresses within one rule execution).
	Duration time.Duration
	// Interval is the rule's `interval` (Elastic's schedule, default 5m):
	// without Duration, a stream suppresses within interval-aligned windows
	// of event time, one per rule execution Kibana would have run.
	Interval time.Duration
	// MissingFieldsStrategy is "suppress" (the default) or "doNotSuppress".
	MissingFieldsStrategy string
}

// alertSuppression reads [rule.alert_suppression].
func (d *decoder) alertSuppression(rt map[string]any) *AlertSuppression {
	v, ok := rt["alert_suppression"]
	if !ok {
		return nil
	}
	const at = "rule.alert_suppression"
	m := d.table(v, at)
	if m == nil {
		return nil
	}
	s := &AlertSuppression{GroupBy: d.strs(m, at, "group_by"), MissingFieldsStrategy: d.str(m, at, "missing_fields_strategy")}
	if n := len(s.GroupBy); n < 1 || n > 3 {
		d.failMsg(at+".group_by", fmt.Sprintf("want 1 to 3 field names, found %d", n))
	}
	switch s.MissingFieldsStrategy {
	case "":
		s.MissingFieldsStrategy = "suppress"
	case "suppress", "doNotSuppress":
	default:
		d.failMsg(at+".missing_fields_strategy", fmt.Sprintf(`want "suppress" or "doNotSuppress", found %q`, s.MissingFieldsStrategy))
	}
	s.Interval = 5 * time.Minute
	if iv, ok := rt["interval"]; ok {
		str, _ := iv.(string)
		if iv, ok := parseInterval(str); ok {
			s.Interval = iv
		} else {
			d.failMsg("rule.interval", fmt.Sprintf(`want <number><unit> with unit s, m or h (e.g. "5m"), found %v`, iv))
		}
	}
	if dv, ok := m["duration"]; ok {
		dm := d.table(dv, at+".duration")
		if dm == nil {
			return s
		}
		n := d.int(dm, at+".duration", "value")
		u := d.str(dm, at+".duration", "unit")
		unit := spanUnit(u, false)
		if len(u) != 1 || unit == 0 {
			d.failMsg(at+".duration.unit", fmt.Sprintf(`want "s", "m" or "h", found %q`, u))
		}
		if n < 1 {
			d.failMsg(at+".duration.value", fmt.Sprintf("want a positive integer, found %d", n))
		}
		s.Duration = time.Duration(n) * unit
	}
	return s
}

// variant is the suppression configuration as engine.RuleDef.Variant: a
// change of it makes the rule a new rule at a rule-set change, so its open
// suppression windows (and partial matches) start empty ("" without
// suppression).
func (s *AlertSuppression) variant() string {
	if s == nil {
		return ""
	}
	return fmt.Sprintf("suppress\x00%q\x00%d\x00%d\x00%s", s.GroupBy, s.Duration, s.Interval, s.MissingFieldsStrategy)
}

func (s *AlertSuppression) String() string {
	return fmt.Sprintf("group_by %v, duration %s, missing fields %s", s.GroupBy, s.Duration, s.MissingFieldsStrategy)
}

// parseInterval reads a rule interval such as "5m", "30s" or "1h".
func parseInterval(s string) (time.Duration, bool) {
	if len(s) < 2 {
		return 0, false
	}
	unit := spanUnit(s[len(s)-1:], false)
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 32)
	if unit == 0 || err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * unit, true
}

// spanUnit is the duration of a time unit of Elastic's rule schema: s, m,
// h, and d when days are allowed (0: not a unit).
func spanUnit(u string, days bool) time.Duration {
	switch u {
	case "s":
		return time.Second
	case "m":
		return time.Minute
	case "h":
		return time.Hour
	case "d":
		if days {
			return 24 * time.Hour
		}
	}
	return 0
}

// failMsg reports a bad value at key with a message of its own.
func (d *decoder) failMsg(key, msg string) {
	at := d.lay.pos(d.data, d.lay.find(key))
	d.errs = append(d.errs, &Error{Path: d.path, Line: at.line, Col: at.col, text: at.text, Msg: key + ": " + msg})
}
