// Package health owns the instance's answers to /readyz and /healthz: what
// the pipeline reports (group membership, partitions restoring, polls,
// transaction ends, broker round trips, retries) is kept here, and readiness
// and liveness are computed from it with the reason in words.
//
// Ready (200 on /readyz) means all of:
//   - the instance is a member of its consumer group (assigned, not lost);
//   - no assigned partition is still restoring its state;
//   - the last broker round trip (the pipeline probes every few seconds)
//     succeeded, and one succeeded within BrokerBound;
//   - the last poll returned no error, and the last transaction end
//     neither failed nor was retried (a transaction aborted for an error
//     keeps the instance not ready until one commits);
//   - the instance is not shutting down.
//
// Live (200 on /healthz) fails only when the pipeline is wedged: work is
// pending (a transaction is open, or brokers answer and report input the
// instance has not committed) and no transaction has ended for WedgedBound.
// A broker that does not answer does not make the instance not live:
// restarting it would not help.
package health

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Tracker collects the pipeline's reports. The zero value is not usable;
// use New. All methods are safe for concurrent use.
type Tracker struct {
	BrokerBound time.Duration
	WedgedBound time.Duration
	now         func() time.Time

	mu          sync.Mutex
	member      bool
	lost        bool
	restoring   map[string]bool
	lastBroker  time.Time
	brokerErr   error
	pollErr     error
	retrying    string
	txnOpen     bool
	lagPending  bool
	lastTxnEnd  time.Time
	stopping    bool
	startedAt   time.Time
	lastRestore time.Time
	// pendingSince is when work last became pending (zero: none is)
	pendingSince time.Time
}

// New returns a tracker: not ready until the instance joins its group and a
// broker answers.
func New(brokerBound, wedgedBound time.Duration) *Tracker {
	return newAt(brokerBound, wedgedBound, time.Now)
}

func newAt(brokerBound, wedgedBound time.Duration, now func() time.Time) *Tracker {
	t := &Tracker{BrokerBound: brokerBound, WedgedBound: wedgedBound, now: now, restoring: map[string]bool{}}
	t.startedAt = now()
	t.lastTxnEnd = t.startedAt
	return t
}

// Joined: partitions were assigned in a group session.
func (t *Tracker) Joined() {
	t.mu.Lock()
	t.member, t.lost = true, false
	t.mu.Unlock()
}

// GroupLost: the group session failed; the instance owns nothing until it
// joins again.
func (t *Tracker) GroupLost() {
	t.mu.Lock()
	t.member, t.lost = false, true
	t.restoring = map[string]bool{}
	t.mu.Unlock()
}

// Restoring: these partitions are being restored.
func (t *Tracker) Restoring(parts ...fmt.Stringer) {
	t.mu.Lock()
	for _, p := range parts {
		t.restoring[p.String()] = true
	}
	t.mu.Unlock()
}

// Restored: these partitions are restored (or their restore was given up).
func (t *Tracker) Restored(parts ...fmt.Stringer) {
	t.mu.Lock()
	for _, p := range parts {
		delete(t.restoring, p.String())
	}
	t.lastRestore = t.now()
	t.mu.Unlock()
}

// Unassigned: the partition was revoked or lost.
func (t *Tracker) Unassigned(p fmt.Stringer) { t.Restored(p) }

// Broker records the outcome of a broker round trip (nil: it answered).
func (t *Tracker) Broker(err error) {
	t.mu.Lock()
	if err == nil {
		t.lastBroker = t.now()
	}
	t.brokerErr = err
	t.mu.Unlock()
}

// Pending records whether brokers report input beyond what is committed.
func (t *Tracker) Pending(lag bool) {
	t.mu.Lock()
	t.lagPending = lag
	t.updatePending()
	t.mu.Unlock()
}

// Poll records the outcome of a poll (nil: no error).
func (t *Tracker) Poll(err error) {
	t.mu.Lock()
	t.pollErr = err
	t.mu.Unlock()
}

// TxnBegun: a transaction is open.
func (t *Tracker) TxnBegun() {
	t.mu.Lock()
	t.txnOpen = true
	t.updatePending()
	t.mu.Unlock()
}

// TxnEnded records a transaction end: committed, or aborted with a cause
// ("" when the abort is expected, e.g. a rebalance; anything else keeps the
// instance not ready until a transaction commits).
func (t *Tracker) TxnEnded(committed bool, cause string) {
	t.mu.Lock()
	t.txnOpen = false
	t.lastTxnEnd = t.now()
	switch {
	case committed:
		t.retrying = ""
		t.lastBroker = t.lastTxnEnd
	case cause != "":
		t.retrying = cause
	}
	t.updatePending()
	t.mu.Unlock()
}

// Retrying: the pipeline is retrying after a healable error (cause is
// shown in /readyz) until TxnEnded(true, "") or Retrying("").
func (t *Tracker) Retrying(cause string) {
	t.mu.Lock()
	t.retrying = cause
	t.mu.Unlock()
}

// Stopping: shutdown began.
func (t *Tracker) Stopping() {
	t.mu.Lock()
	t.stopping = true
	t.mu.Unlock()
}

// Ready reports readiness and, when not ready, why.
func (t *Tracker) Ready() (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var why []string
	switch {
	case t.stopping:
		why = append(why, "shutting down")
	case t.lost:
		why = append(why, "the group session was lost; rejoining")
	case !t.member:
		why = append(why, "not a group member yet")
	}
	if n := len(t.restoring); n > 0 {
		parts := make([]string, 0, n)
		for p := range t.restoring {
			parts = append(parts, p)
		}
		sort.Strings(parts)
		if len(parts) > 6 {
			parts = append(parts[:6], "...")
		}
		why = append(why, fmt.Sprintf("restoring %d partitions (%s)", n, strings.Join(parts, ", ")))
	}
	switch {
	case t.brokerErr != nil:
		why = append(why, fmt.Sprintf("brokers unreachable: %v (last successful round trip %s ago)", t.brokerErr, now.Sub(maxTime(t.lastBroker, t.startedAt)).Round(time.Second)))
	case t.lastBroker.IsZero() || now.Sub(t.lastBroker) > t.BrokerBound:
		why = append(why, fmt.Sprintf("no broker round trip succeeded for %s", now.Sub(maxTime(t.lastBroker, t.startedAt)).Round(time.Second)))
	}
	if t.pollErr != nil {
		why = append(why, fmt.Sprintf("polling failed: %v", t.pollErr))
	}
	if t.retrying != "" {
		why = append(why, "retrying: "+t.retrying)
	}
	if len(why) > 0 {
		return false, "not ready: " + strings.Join(why, "; ")
	}
	return true, "ready"
}

// Live reports liveness and, when not live, why.
func (t *Tracker) Live() (bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	brokersAnswer := !t.lastBroker.IsZero() && now.Sub(t.lastBroker) <= t.BrokerBound
	if t.pendingSince.IsZero() || (!t.txnOpen && !brokersAnswer) {
		return true, "ok"
	}
	if since := now.Sub(maxTime(t.pendingSince, t.lastTxnEnd)); since > t.WedgedBound {
		what := "a transaction is open"
		if !t.txnOpen {
			what = "input is waiting"
		}
		return false, fmt.Sprintf("wedged: %s and no transaction has ended for %s (bound %s)", what, since.Round(time.Second), t.WedgedBound)
	}
	return true, "ok"
}

// updatePending keeps pendingSince; t.mu is held.
func (t *Tracker) updatePending() {
	pending := t.txnOpen || t.lagPending
	switch {
	case pending && t.pendingSince.IsZero():
		t.pendingSince = t.now()
	case !pending:
		t.pendingSince = time.Time{}
	}
}

// ReadyHandler serves /readyz: 200 "ready" or 503 with the reason.
func (t *Tracker) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { serve(w, t.Ready) })
}

// LiveHandler serves /healthz: 200 "ok" or 503 with the reason.
func (t *Tracker) LiveHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { serve(w, t.Live) })
}

func serve(w http.ResponseWriter, check func() (bool, string)) {
	ok, msg := check()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, msg)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
