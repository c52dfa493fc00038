package rules

import (
	"errors"
	"fmt"
	"time"
)

// AlertSuppression is a rule's [rule.alert_suppression] table, in Elastic's
// rule schema (security_solution common/api/detection_engine/model/
// rule_schema: AlertSuppressionGroupBy, AlertSuppressionDuration with unit
// s, m or h, AlertSuppressionMissingFieldsStrategy suppress|doNotSuppress).
// It is read and validated, but not applied yet: Compile refuses a rule that
// has one (ErrSuppressionNotApplied) rather than run it without it.
type AlertSuppression struct {
	GroupBy []string // 1 to 3 fields
	// Duration is the suppression window; zero means none was given (Elastic
	// then suppresses within one rule execution).
	Duration time.Duration
	// MissingFieldsStrategy is "suppress" (the default) or "doNotSuppress".
	MissingFieldsStrategy string
}

// ErrSuppressionNotApplied refuses rules with alert_suppression until the
// engine applies it.
var ErrSuppressionNotApplied = errors.New("alert_suppression is not applied yet by eqlstream; remove [rule.alert_suppression] to run the rule without suppression")

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
	if dv, ok := m["duration"]; ok {
		dm := d.table(dv, at+".duration")
		if dm == nil {
			return s
		}
		n := d.int(dm, at+".duration", "value")
		var unit time.Duration
		switch u := d.str(dm, at+".duration", "unit"); u {
		case "s":
			unit = time.Second
		case "m":
			unit = time.Minute
		case "h":
			unit = time.Hour
		default:
			d.failMsg(at+".duration.unit", fmt.Sprintf(`want "s", "m" or "h", found %q`, u))
		}
		if n < 1 {
			d.failMsg(at+".duration.value", fmt.Sprintf("want a positive integer, found %d", n))
		}
		s.Duration = time.Duration(n) * unit
	}
	return s
}

func (s *AlertSuppression) String() string {
	return fmt.Sprintf("group_by %v, duration %s, missing fields %s", s.GroupBy, s.Duration, s.MissingFieldsStrategy)
}

// failMsg reports a bad value at key with a message of its own.
func (d *decoder) failMsg(key, msg string) {
	at := d.lay.pos(d.data, d.lay.find(key))
	d.errs = append(d.errs, &Error{Path: d.path, Line: at.line, Col: at.col, text: at.text, Msg: key + ": " + msg})
}
