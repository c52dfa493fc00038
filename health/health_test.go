package health

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type tp string

func (s tp) String() string { return string(s) }

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTest() (*Tracker, *clock) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	return newAt(10*time.Second, 70*time.Second, c.now), c
}

func wantReady(t *testing.T, tr *Tracker, ready bool, contains string) {
	t.Helper()
	ok, msg := tr.Ready()
	if ok != ready || !strings.Contains(msg, contains) {
		t.Fatalf("Ready() = %v, %q; want %v containing %q", ok, msg, ready, contains)
	}
}

func TestReadiness(t *testing.T) {
	tr, c := newTest()
	wantReady(t, tr, false, "not a group member yet")
	tr.Joined()
	wantReady(t, tr, false, "no broker round trip succeeded")
	tr.Restoring(tp("in/0"), tp("in/1"), tp("in/2"))
	tr.Broker(nil)
	wantReady(t, tr, false, "not ready: restoring 3 partitions (in/0, in/1, in/2)")
	tr.Restored(tp("in/0"), tp("in/1"), tp("in/2"))
	wantReady(t, tr, true, "ready")

	// the broker stops answering: not ready at the first failed round
	// trip, and when none succeeded for BrokerBound
	c.advance(5 * time.Second)
	tr.Broker(errors.New("dial tcp: connection refused"))
	wantReady(t, tr, false, "not ready: brokers unreachable: dial tcp: connection refused (last successful round trip 5s ago)")
	tr.Broker(nil)
	wantReady(t, tr, true, "ready")
	c.advance(11 * time.Second)
	wantReady(t, tr, false, "not ready: no broker round trip succeeded for 11s")
	tr.Broker(nil)
	wantReady(t, tr, true, "ready")

	// a poll error, then a good poll
	tr.Poll(errors.New("in/3: NOT_LEADER_FOR_PARTITION"))
	wantReady(t, tr, false, "polling failed: in/3: NOT_LEADER_FOR_PARTITION")
	tr.Poll(nil)
	wantReady(t, tr, true, "ready")

	// an abort for an error keeps it not ready until a commit; a refused
	// commit (rebalance) does not
	tr.TxnBegun()
	tr.TxnEnded(false, `producing to "alerts" failed: NOT_ENOUGH_REPLICAS`)
	wantReady(t, tr, false, `retrying: producing to "alerts" failed`)
	tr.TxnBegun()
	tr.TxnEnded(true, "")
	wantReady(t, tr, true, "ready")
	tr.TxnBegun()
	tr.TxnEnded(false, "")
	wantReady(t, tr, true, "ready")

	tr.GroupLost()
	wantReady(t, tr, false, "the group session was lost")
	tr.Joined()
	wantReady(t, tr, true, "ready")
	tr.Stopping()
	wantReady(t, tr, false, "shutting down")
}

func TestLiveness(t *testing.T) {
	tr, c := newTest()
	tr.Joined()
	tr.Broker(nil)
	if ok, _ := tr.Live(); !ok {
		t.Fatal("not live at start")
	}
	// idle for a long time: live
	c.advance(10 * time.Minute)
	tr.Broker(nil)
	if ok, msg := tr.Live(); !ok {
		t.Fatalf("idle instance not live: %s", msg)
	}
	// input waits and transactions end: live
	tr.Pending(true)
	for i := 0; i < 10; i++ {
		c.advance(30 * time.Second)
		tr.Broker(nil)
		tr.TxnBegun()
		tr.TxnEnded(true, "")
	}
	if ok, msg := tr.Live(); !ok {
		t.Fatalf("working instance not live: %s", msg)
	}
	// input waits, no transaction ends: wedged after the bound
	c.advance(60 * time.Second)
	tr.Broker(nil)
	if ok, _ := tr.Live(); !ok {
		t.Fatal("not live before the bound")
	}
	c.advance(11 * time.Second)
	tr.Broker(nil)
	ok, msg := tr.Live()
	if ok || msg != "wedged: input is waiting and no transaction has ended for 1m11s (bound 1m10s)" {
		t.Fatalf("Live() = %v, %q; want wedged", ok, msg)
	}
	// brokers gone: restarting would not help; live again
	c.advance(11 * time.Second)
	if ok, msg := tr.Live(); !ok {
		t.Fatalf("not live while brokers do not answer: %s", msg)
	}
	// an open transaction that never ends is wedged even without brokers
	tr.TxnBegun()
	c.advance(71 * time.Second)
	if ok, msg := tr.Live(); ok || !strings.Contains(msg, "a transaction is open") {
		t.Fatalf("Live() = %v, %q; want wedged with a transaction open", ok, msg)
	}
}

func TestHandlers(t *testing.T) {
	tr, _ := newTest()
	rec := httptest.NewRecorder()
	tr.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.HasPrefix(rec.Body.String(), "not ready: not a group member yet") {
		t.Fatalf("/readyz = %d %q", rec.Code, rec.Body.String())
	}
	tr.Joined()
	tr.Broker(nil)
	rec = httptest.NewRecorder()
	tr.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ready\n" {
		t.Fatalf("/readyz = %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	tr.LiveHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Fatalf("/healthz = %d %q", rec.Code, rec.Body.String())
	}
}
