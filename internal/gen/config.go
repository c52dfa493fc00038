package gen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultRate = 1000.0
)

// DefaultStart is the event time of the first event when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Limits checked by Validate.
const (
	maxHosts    = 1 << 20
	maxDisorder = time.Hour
)

// Config describes a generated stream. The same Config always yields the
// same bytes.
type Config struct {
	Seed int64
	// Events is the total number of events to emit; attack and look-alike
	// events count towards it.
	Events int
	// Hosts is the number of distinct hosts (host.id, host.name); at least 1.
	Hosts int
	// AttackRate is the probability, per chain slot, that an attack chain is
	// injected instead of background activity. A chain slot is one unit of
	// activity (a small process tree, a connection, a file write, an apt run);
	// there are about Events/6 of them. Chains are spread over hosts.
	AttackRate float64
	// LookalikeRate is the same for documented false-positive look-alikes and
	// near misses.
	LookalikeRate float64
	// Disorder is the maximum timestamp disorder: within one host, an emitted
	// event's @timestamp is never earlier than the greatest @timestamp emitted
	// before it for that host minus Disorder. Zero emits in @timestamp order.
	// Resolution is one millisecond.
	Disorder time.Duration
	// Start is the event time of the first event (DefaultStart if zero).
	Start time.Time
	// Rate is the average number of events per second of event time across
	// all hosts (DefaultRate if zero).
	Rate float64
}

// Validate reports whether c can be generated. Zero Start and Rate are valid
// and mean their defaults.
func (c Config) Validate() error {
	var errs []error
	if c.Events < 0 {
		errs = append(errs, fmt.Errorf("events must not be negative, got %d", c.Events))
	}
	if c.Hosts < 1 || c.Hosts > maxHosts {
		errs = append(errs, fmt.Errorf("hosts must be in [1, %d], got %d", maxHosts, c.Hosts))
	}
	if !isProbability(c.AttackRate) {
		errs = append(errs, fmt.Errorf("attack rate must be in [0, 1], got %v", c.AttackRate))
	}
	if !isProbability(c.LookalikeRate) {
		errs = append(errs, fmt.Errorf("look-alike rate must be in [0, 1], got %v", c.LookalikeRate))
	}
	if isProbability(c.AttackRate) && isProbability(c.LookalikeRate) && c.AttackRate+c.LookalikeRate > 1 {
		errs = append(errs, fmt.Errorf("attack rate + look-alike rate must not exceed 1, got %v", c.AttackRate+c.LookalikeRate))
	}
	if c.Disorder < 0 || c.Disorder > maxDisorder {
		errs = append(errs, fmt.Errorf("disorder must be in [0, %v], got %v", maxDisorder, c.Disorder))
	}
	if math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate must be a positive number of events per second, got %v", c.Rate))
	}
	if !c.Start.IsZero() && (c.Start.Year() < 1970 || c.Start.Year() > 9000) {
		errs = append(errs, fmt.Errorf("start must be between 1970 and 9000, got %v", c.Start))
	}
	return errors.Join(errs...)
}

func isProbability(p float64) bool { return p >= 0 && p <= 1 } // false for NaN

func (c Config) withDefaults() Config {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	return c
}
