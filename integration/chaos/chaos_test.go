//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type params struct {
	seed       int64
	duration   time.Duration
	events     int
	hosts      int
	attackRate float64
	mode       string // "" (exactly-once), keep-state-on-abort, at-least-once, flush-unrecorded, wrong-rule
	partitions int32
	preFrac    float64
	// ruleChanges (RULE_CHANGES=1): rules from a rules topic, changed
	// during the faults (rules_test.go)
	ruleChanges bool
	// suppression (CHAOS_SUPPRESSION=1) adds a rule with alert
	// suppression and an exception list to the built-in rules.
	suppression bool
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func loadParams(t *testing.T) params {
	p := params{seed: 1, duration: 3 * time.Minute, events: 200_000, hosts: 1000, attackRate: 0.02, partitions: 12, preFrac: 0.5}
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
		p.seed = s
	}
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CHAOS_DURATION: %v", err)
		}
		p.duration = d
	}
	p.events = envInt("CHAOS_EVENTS", p.events)
	p.hosts = envInt("CHAOS_HOSTS", p.hosts)
	if v := os.Getenv("CHAOS_ATTACK_RATE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("CHAOS_ATTACK_RATE: %v", err)
		}
		p.attackRate = f
	}
	p.ruleChanges = os.Getenv("RULE_CHANGES") == "1"
	p.suppression = os.Getenv("CHAOS_SUPPRESSION") != "" && os.Getenv("CHAOS_SUPPRESSION") != "0"
	p.mode = os.Getenv("CHAOS_MODE")
	switch p.mode {
	case "", "keep-state-on-abort", "at-least-once", "flush-unrecorded", "wrong-rule":
	default:
		t.Fatalf("CHAOS_MODE %q: want empty, keep-state-on-abort, at-least-once, flush-unrecorded or wrong-rule", p.mode)
	}
	return p
}

type harness struct {
	t        *testing.T
	p        params
	root     string                      // the repository
	windows  map[int32]map[string]string // committed suppression windows (suppression_test.go)
	bin      string
	dir      string
	brokers  []string
	kafka    string // kafka-local.sh
	topics   struct{ in, alerts, dlq, state, group string }
	mu       sync.Mutex
	procs    map[string]*proc // by instance id
	nextInst int
	counters struct{ kills, sigterms, rebalances, brokerKills, brokerPauses atomic.Int64 }
	// uncleanExits counts processors that did not exit 0 after SIGTERM.
	uncleanExits atomic.Int64
	logs         []string
	alertsSeen   *atomic.Int64 // alerts the concurrent reader has seen
	adm          *kadm.Client
	admCl        *kgo.Client
	rng          *rand.Rand
	schedule     []string
	brokerOut    int       // broker down or paused (0: none)
	rules        *ruleFeed // RULE_CHANGES=1
	// lines is the generated input; injections the generator's ground truth.
	lines      [][]byte
	injections []gen.Injection
	// wrongArgs are the --rules flags of the wrong-rule control's
	// processors and replays (none: see ruleArgs).
	wrongArgs []string
}

type proc struct {
	id   string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func repoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func (h *harness) logf(format string, args ...any) {
	h.t.Logf("[%s] %s", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func TestChaos(t *testing.T) {
	p := loadParams(t)
	brokers := os.Getenv("KAFKA_BROKERS")
	kafka := os.Getenv("KAFKA_LOCAL")
	if brokers == "" || kafka == "" {
		t.Fatal("the chaos test needs KAFKA_BROKERS (a 3-node cluster from deployments/kafka/kafka-local.sh up 3) and KAFKA_LOCAL (the script, for broker faults); `make chaos` sets both")
	}
	root := repoRoot(t)
	// logs and data stay for a failed run (the path is printed), go on success
	dir, err := os.MkdirTemp("", "eqlstream-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("run data and processor logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	h := &harness{t: t, p: p, root: root, dir: dir, brokers: strings.Split(brokers, ","), kafka: kafka, procs: map[string]*proc{},
		rng: rand.New(rand.NewPCG(uint64(p.seed), 0x9e3779b97f4a7c15))}
	suffix := fmt.Sprintf("%d-%d", p.seed, time.Now().UnixNano()%1e6)
	h.topics.in, h.topics.alerts, h.topics.dlq = "chaos-in-"+suffix, "chaos-alerts-"+suffix, "chaos-dlq-"+suffix
	h.topics.group = "chaos-" + suffix
	h.topics.state = h.topics.group + "-state"

	h.bin = filepath.Join(dir, "processor")
	build := exec.Command("go", "build", "-o", h.bin, "./cmd/processor")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	h.admCl, err = kgo.NewClient(kgo.SeedBrokers(h.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer h.admCl.Close()
	h.adm = kadm.NewClient(h.admCl)

	// input
	attacks := h.generate()
	if p.mode == "wrong-rule" {
		h.wrongArgs = []string{"--rules", wrongRules(t, root, dir)}
	}
	h.createTopics()
	lines := h.lines
	// The processors run with their default flags, idle flush on: the
	// quiet periods of the production schedule below make partitions idle,
	// their reorder buffers are flushed, and events arriving after a flush
	// with older timestamps are late. Each flush is recorded in the state the
	// transaction commits; the checker replays the input with the recorded
	// flush points and must get the online answer exactly.
	if p.ruleChanges {
		h.setupRules(root)
	}
	pre := int(float64(len(lines)) * p.preFrac)
	h.produce(lines[:pre])
	h.logf("produced %d of %d events before the chaos", pre, len(lines))

	// processors and the concurrent read_committed reader
	for i := 0; i < 3; i++ {
		h.start()
	}
	readerCtx, stopReader := context.WithCancel(context.Background())
	readerDone := make(chan struct{})
	var readerDup, readerSeen atomic.Int64
	h.alertsSeen = &readerSeen
	go func() {
		defer close(readerDone)
		h.reader(readerCtx, &readerSeen, &readerDup)
	}()

	// chaos, with the rest of the input produced during it
	chaosCtx, stopChaos := context.WithTimeout(context.Background(), p.duration)
	prodDone := make(chan struct{})
	var quiet atomic.Int64
	go func() {
		defer close(prodDone)
		// Its own seeded generator: the chaos goroutine owns h.rng.
		rng := rand.New(rand.NewPCG(uint64(p.seed), 0x5eed))
		rest := lines[pre:]
		chunks := max(int(p.duration/(3200*time.Millisecond)), 4)
		for i := 0; i < chunks; i++ {
			lo, hi := len(rest)*i/chunks, len(rest)*(i+1)/chunks
			h.produce(rest[lo:hi])
			// A quiet period or a short gap. A quiet period starts once the
			// processors have caught up (else the partitions are not idle,
			// only lagging) and lasts longer than the default idle flush
			// (2s) plus its end-offset check.
			gap := time.Duration(500+rng.IntN(1000)) * time.Millisecond
			if i < chunks-1 && rng.IntN(100) < 40 {
				gap = time.Duration(4000+rng.IntN(3000)) * time.Millisecond
				h.waitCaughtUp(chaosCtx, 30*time.Second)
				quiet.Add(1)
			}
			select {
			case <-chaosCtx.Done():
			case <-time.After(gap):
			}
		}
	}()
	rulesDone := make(chan struct{})
	go func() {
		defer close(rulesDone)
		if p.ruleChanges {
			h.changeRules(chaosCtx, p.seed)
		}
	}()
	h.chaos(chaosCtx)
	stopChaos()
	<-prodDone
	<-rulesDone
	h.logf("chaos over: restoring brokers and 3 processors, draining")
	h.heal()
	drained := h.drain(10 * time.Minute)
	// the input's end is a last quiet period: let the idle flushes run
	time.Sleep(8 * time.Second)
	h.stopAll()
	stopReader()
	<-readerDone

	// checks
	openTxns := h.openTransactions()
	got := h.readAlerts()
	hist := h.readFlushHistory()
	expected, expOrder, replayed, expBodies, input := h.expected(hist)
	missing, dup, unexpected := compare(expected, got.ids)
	bodyMismatches := h.compareBodies(got, expBodies)
	truth := h.checkTruth(got, input, hist)
	order := h.orderViolations(expOrder, got.byHost)
	aborted := h.abortedTxns()
	var flushes, late int64
	for _, ph := range hist {
		flushes += int64(len(ph.Points))
		if st, err := engine.MetaStats(ph.Last.Engine); err == nil {
			late += int64(st.Late)
		}
	}
	stateMismatches := h.compareState(hist, replayed)
	historyErrors := h.crossCheckFlushesCLI(hist)
	for _, ph := range hist {
		if ph.err != nil {
			historyErrors++
		}
	}
	if p.suppression {
		var sup, sums, open int
		for _, rs := range replayed {
			sup, sums, open = sup+rs.Suppressed, sums+rs.Summaries, open+len(rs.SuppressionWindows)
		}
		h.logf("suppression: %d alerts suppressed, %d summaries, %d windows open at the end (replay)", sup, sums, open)
		if sup == 0 || sums == 0 {
			t.Errorf("suppression on, but the replay suppressed %d alerts and wrote %d summaries: the rule was not exercised", sup, sums)
		}
	}
	line := fmt.Sprintf("eos: events=%d expected=%d read=%d missing=%d duplicated=%d unexpected=%d body_mismatches=%d idle_flushes=%d late_events=%d state_mismatches=%d history_errors=%d quiet_periods=%d kills=%d sigterms=%d rebalances=%d broker_kills=%d broker_pauses=%d aborted_txns=%d open_txns=%d order_violations=%d reader_dups=%d attack_chains=%d truth_ok=%d truth_missing=%d truth_unexpected=%d truth_excused=%d truth_late_alerted=%d truth_pending=%d truth_late_chain_events=%d truth_unexplained=%d drained=%v seed=%d mode=%s",
		len(lines), len(expected), len(got.ids), missing, dup, unexpected, bodyMismatches, flushes, late, stateMismatches, historyErrors, quiet.Load(),
		h.counters.kills.Load(), h.counters.sigterms.Load(),
		h.counters.rebalances.Load(), h.counters.brokerKills.Load(), h.counters.brokerPauses.Load(), aborted, openTxns, order,
		readerDup.Load(), attacks, truth.ok, truth.missing, truth.unexpected, truth.excused, truth.lateAlerted, truth.pending,
		truth.lateChainEvents, truth.unexplained, drained, p.seed, modeName(p.mode))
	if h.rules != nil {
		line += fmt.Sprintf(" rule_pushes=%d rule_changes_committed=%d", h.rules.pushes, revisionChanges(hist))
	}
	if p.suppression {
		line += " suppression=on"
	}
	fmt.Println(line)
	t.Log(line)
	failed := missing+dup+unexpected+bodyMismatches+openTxns+order+int(readerDup.Load())+stateMismatches+historyErrors > 0 || !drained
	// the ground truth, independent of the engine and of eval
	// RULE_CHANGES=1 pushes rule sets that change and delete the built-in
	// detections the chains target: its expected answer is the replay of
	// the committed revisions, not the generator's chains.
	truthFailed := !p.ruleChanges && (truth.missing+truth.unexpected+truth.unexplained > 0 || truth.chains != attacks)
	switch p.mode {
	case "":
		if failed {
			h.dumpLogs()
			t.Fatalf("exactly-once violated: %s", line)
		}
		if truthFailed {
			t.Fatalf("alerts differ from the generator's injected chains: %s", line)
		}
		if len(expected) == 0 {
			t.Fatal("no alerts expected: the input has no attack chains, the test proves nothing")
		}
		if flushes == 0 || late == 0 {
			t.Fatalf("the run had %d committed idle flushes and %d late events: the default configuration's wall-clock decisions were not exercised: %s", flushes, late, line)
		}
		return
	// negative controls: the checker must catch each by its own violation
	case "keep-state-on-abort":
		// records of an aborted transaction are skipped on the retry
		if missing == 0 {
			t.Fatalf("negative control %s was NOT detected (want missing > 0): %s", p.mode, line)
		}
	case "at-least-once":
		// records replayed after a crash produce their alerts again
		if dup == 0 {
			t.Fatalf("negative control %s was NOT detected (want duplicated > 0): %s", p.mode, line)
		}
	case "flush-unrecorded":
		// the replay lacks flushes the online run made; they are not in
		// the committed state, so the processors' logs tell whether any ran
		logged := h.countLogs(`msg="idle flush"`)
		h.logf("negative control %s: the processors logged %d idle flushes", p.mode, logged)
		if logged == 0 {
			t.Fatalf("negative control %s is inconclusive: no idle flush ran (processors never caught up?), so there was nothing to catch: %s", p.mode, line)
		}
		if stateMismatches == 0 {
			t.Fatalf("negative control %s was NOT detected (want state_mismatches > 0): %s", p.mode, line)
		}
	case "wrong-rule":
		// a detection bug shared by the pipeline and eval: the
		// exactly-once comparison agrees, only the ground truth sees it
		if failed {
			t.Fatalf("negative control %s: the exactly-once checks must pass (the bug is in the rule, not the pipeline): %s", p.mode, line)
		}
		if truth.missing == 0 {
			t.Fatalf("negative control %s was NOT detected (want truth_missing > 0): %s", p.mode, line)
		}
	}
	fmt.Printf("negative control %s: detected as failing, as it must be\n", p.mode)
}

func modeName(m string) string {
	if m == "" {
		return "exactly-once"
	}
	return m
}

// generate builds the input with internal/gen (what `processor gen` runs)
// and keeps its ground truth; it returns the number of attack chains.
func (h *harness) generate() int {
	p := h.p
	g, err := gen.New(gen.Config{Seed: p.seed, Events: p.events, Hosts: p.hosts, AttackRate: p.attackRate,
		LookalikeRate: p.attackRate * 2, Disorder: 500 * time.Millisecond, Rate: 2000})
	if err != nil {
		h.t.Fatal(err)
	}
	var buf []byte
	for {
		var ok bool
		start := len(buf)
		if buf, _, ok = g.Next(buf); !ok {
			break
		}
		h.lines = append(h.lines, buf[start:len(buf):len(buf)])
	}
	h.injections = g.Injections()
	st := g.Stats()
	h.logf("generated: %d events, %d attack chains %v, %d look-alikes", st.Events, st.Chains, st.ChainsByKind, st.Lookalikes)
	return st.Chains
}

// wrongRules writes the built-in rules with one planted detection bug (the
// APT network connection rule's maxspan cut from 5s to 4s) for the
// wrong-rule negative control, and returns the directory.
func wrongRules(t *testing.T, root, dir string) string {
	out := filepath.Join(dir, "wrong-rules")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "rules", "builtin")
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	planted := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "apt_package_manager_network_connection.toml" {
			planted = bytes.Count(b, []byte("maxspan=5s"))
			b = bytes.ReplaceAll(b, []byte("maxspan=5s"), []byte("maxspan=4s"))
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if planted != 1 {
		t.Fatalf("wrong-rule: planted %d maxspan changes, want 1", planted)
	}
	return out
}

func (h *harness) createTopics() {
	ctx := context.Background()
	rf := int16(3)
	minISR := "2"
	compact := "compact"
	for _, tp := range []string{h.topics.in, h.topics.alerts, h.topics.dlq, h.topics.state} {
		cfg := map[string]*string{"min.insync.replicas": &minISR}
		if tp == h.topics.state {
			cfg["cleanup.policy"] = &compact
		}
		resp, err := h.adm.CreateTopic(ctx, h.p.partitions, rf, cfg, tp)
		if err != nil || resp.Err != nil {
			h.t.Fatalf("create topic %s: %v %v", tp, err, resp.Err)
		}
	}
	// wait for metadata
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := h.adm.ListTopics(ctx, h.topics.in, h.topics.alerts, h.topics.dlq, h.topics.state)
		ok := err == nil
		for _, td := range d {
			if td.Err != nil || len(td.Partitions) != int(h.p.partitions) {
				ok = false
			}
		}
		if ok && len(d) == 4 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("topics not visible: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hostOf returns host.id of an event (nested or dotted), the record key.
func hostOf(line []byte) []byte {
	var doc struct {
		Host struct {
			ID string `json:"id"`
		} `json:"host"`
		HostID string `json:"host.id"`
	}
	if err := json.Unmarshal(line, &doc); err != nil {
		return nil
	}
	if doc.HostID != "" {
		return []byte(doc.HostID)
	}
	if doc.Host.ID != "" {
		return []byte(doc.Host.ID)
	}
	return nil
}

// produce publishes lines keyed by host.id with an idempotent producer,
// retrying through broker faults.
func (h *harness) produce(lines [][]byte) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...), kgo.DefaultProduceTopic(h.topics.in),
		kgo.RecordDeliveryTimeout(5*time.Minute), kgo.MaxBufferedRecords(50000))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	var failed atomic.Int64
	for _, l := range lines {
		cl.Produce(context.Background(), &kgo.Record{Key: hostOf(l), Value: l}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		h.t.Fatalf("produce flush: %v", err)
	}
	if failed.Load() > 0 {
		h.t.Fatalf("%d records failed to produce", failed.Load())
	}
}

func (h *harness) start() *proc {
	// the lowest instance id not held by a live processor (a dead one's id
	// is reused, as a supervisor restarting it would)
	h.mu.Lock()
	id := ""
	for i := 1; id == ""; i++ {
		cand := fmt.Sprintf("p%d", i)
		p := h.procs[cand]
		if p == nil {
			id = cand
			break
		}
		select {
		case <-p.done:
			delete(h.procs, cand)
			id = cand
		default:
		}
	}
	h.mu.Unlock()
	return h.startID(id)
}

func (h *harness) startID(id string) *proc {
	logPath := filepath.Join(h.dir, fmt.Sprintf("%s-%d.log", id, time.Now().UnixNano()))
	f, err := os.Create(logPath)
	if err != nil {
		h.t.Fatal(err)
	}
	args := []string{"run", "--brokers", strings.Join(h.brokers, ","), "--input-topic", h.topics.in,
		"--alerts-topic", h.topics.alerts, "--dlq-topic", h.topics.dlq, "--group", h.topics.group,
		"--instance-id", id, "--metrics-addr", ""}
	if h.rules != nil {
		args = append(args, "--rules-topic", h.rules.topic)
	} else {
		args = append(args, h.ruleArgs()...)
	}
	// Every other flag keeps its default (commit interval 100ms, idle
	// flush 2s, allowed disorder 2s, transaction timeout 10s): the proof
	// covers the configuration users run.
	switch h.p.mode {
	case "", "wrong-rule": // wrong-rule: the processors are right, the rule is not
	case "keep-state-on-abort", "at-least-once":
		// long transactions, so that rebalances abort transactions with
		// records in them
		args = append(args, "--unsafe-test-mode", h.p.mode, "--commit-interval", "1s")
	default:
		args = append(args, "--unsafe-test-mode", h.p.mode)
	}
	cmd := exec.Command(h.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	pr := &proc{id: id, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(pr.done)
	}()
	h.mu.Lock()
	h.procs[id] = pr
	h.logs = append(h.logs, logPath)
	h.mu.Unlock()
	h.counters.rebalances.Add(1)
	h.logf("start processor %s (pid %d)", id, cmd.Process.Pid)
	return pr
}

func (h *harness) running() []*proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*proc
	for _, p := range h.procs {
		select {
		case <-p.done:
		default:
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (h *harness) forget(p *proc) {
	h.mu.Lock()
	if h.procs[p.id] == p {
		delete(h.procs, p.id)
	}
	h.mu.Unlock()
}

func (h *harness) kill9(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	h.forget(p)
	h.counters.kills.Add(1)
	h.counters.rebalances.Add(1)
}

func (h *harness) sigterm(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		if h.p.mode == "" {
			h.t.Errorf("processor %s did not exit within 60s of SIGTERM", p.id)
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		h.uncleanExits.Add(1)
		if h.p.mode == "" {
			h.t.Errorf("processor %s exited %d after SIGTERM (log %s)", p.id, code, p.log)
		} else {
			h.logf("processor %s exited %d after SIGTERM (negative control mode; not judged)", p.id, code)
		}
	}
	h.forget(p)
	h.counters.sigterms.Add(1)
	h.counters.rebalances.Add(1)
}

func (h *harness) script(args ...string) error {
	cmd := exec.Command(h.kafka, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka-local.sh %v: %v: %s", args, err, out)
	}
	return nil
}

// chaos runs the seeded fault schedule until ctx ends; dead processors are
// restarted (unless the schedule scaled down).
func (h *harness) chaos(ctx context.Context) {
	target := 3
	first := true
	for {
		wait := time.Duration(2000+h.rng.IntN(4000)) * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		// restart processors that died on their own (fatal errors exit non-zero)
		run := h.running()
		for len(run) < target {
			h.start()
			run = h.running()
		}
		action := h.rng.IntN(100)
		if first {
			action, first = 0, false // every schedule starts with a kill -9 of a processor
		}
		switch {
		case action < 70 && h.p.mode == "at-least-once":
			// The control's duplicates come from alerts produced for
			// records whose offsets are not committed yet (they are
			// committed every second): crash every processor as soon as
			// a new alert is visible.
			h.waitNewAlert(ctx, 5*time.Second)
			h.step("kill -9 all %d processors", len(run))
			for _, p := range run {
				h.kill9(p)
			}
			time.Sleep(time.Duration(300+h.rng.IntN(1500)) * time.Millisecond)
			for _, p := range run {
				h.startID(p.id)
			}
		case action < 35: // kill -9 a processor (most often inside an open transaction)
			p := run[h.rng.IntN(len(run))]
			h.step("kill -9 processor %s", p.id)
			h.kill9(p)
			time.Sleep(time.Duration(300+h.rng.IntN(1500)) * time.Millisecond)
			h.startID(p.id)
		case action < 50: // SIGTERM and restart
			p := run[h.rng.IntN(len(run))]
			h.step("SIGTERM processor %s", p.id)
			h.sigterm(p)
			h.startID(p.id)
		case action < 70: // scale between 1 and 4
			target = 1 + h.rng.IntN(4)
			h.step("scale to %d processors", target)
			for len(h.running()) > target {
				r := h.running()
				h.sigterm(r[len(r)-1])
			}
			for len(h.running()) < target {
				h.start()
			}
		case action < 85: // kill -9 a broker, restart it later
			if h.brokerOut != 0 {
				continue
			}
			n := 1 + h.rng.IntN(3)
			h.step("kill -9 broker %d", n)
			if err := h.script("kill", strconv.Itoa(n)); err != nil {
				h.logf("%v", err)
				continue
			}
			h.brokerOut = n
			h.counters.brokerKills.Add(1)
			go func(n int) {}(n)
			time.Sleep(time.Duration(3000+h.rng.IntN(4000)) * time.Millisecond)
			h.step("restart broker %d", n)
			if err := h.script("start", strconv.Itoa(n)); err != nil {
				h.t.Fatalf("restarting broker %d: %v", n, err)
			}
			h.brokerOut = 0
		default: // SIGSTOP a broker for a few seconds (delayed transaction markers)
			if h.brokerOut != 0 {
				continue
			}
			n := 1 + h.rng.IntN(3)
			h.step("pause broker %d", n)
			if err := h.script("pause", strconv.Itoa(n)); err != nil {
				h.logf("%v", err)
				continue
			}
			h.brokerOut = n
			h.counters.brokerPauses.Add(1)
			time.Sleep(time.Duration(2000+h.rng.IntN(3000)) * time.Millisecond)
			h.step("resume broker %d", n)
			if err := h.script("resume", strconv.Itoa(n)); err != nil {
				h.t.Fatalf("resuming broker %d: %v", n, err)
			}
			h.brokerOut = 0
		}
	}
}

func (h *harness) step(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	h.schedule = append(h.schedule, s)
	h.logf("chaos: %s", s)
}

func (h *harness) heal() {
	for n := 1; n <= 3; n++ {
		_ = h.script("resume", strconv.Itoa(n))
		_ = h.script("start", strconv.Itoa(n))
	}
	for len(h.running()) < 3 {
		h.start()
	}
}

// drain waits until the group's committed offsets reach the input's end,
// restarting processors that die.
func (h *harness) drain(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for len(h.running()) < 3 {
			h.start()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ends, err1 := h.adm.ListEndOffsets(ctx, h.topics.in)
		com, err2 := h.adm.FetchOffsets(ctx, h.topics.group)
		cancel()
		if err1 == nil && err2 == nil {
			done := true
			lag := int64(0)
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := com.Lookup(o.Topic, o.Partition)
				if !ok || c.At < o.Offset {
					done = false
					if ok {
						lag += o.Offset - c.At
					} else {
						lag += o.Offset
					}
				}
			})
			if done {
				h.logf("drained")
				return true
			}
			h.logf("draining: lag %d", lag)
		}
		time.Sleep(2 * time.Second)
	}
	return false
}

// waitNewAlert waits until the concurrent reader sees a new alert (or ctx
// ends, or timeout passes).
func (h *harness) waitNewAlert(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n := h.alertsSeen.Load()
	for ctx.Err() == nil && h.alertsSeen.Load() == n {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitCaughtUp waits until the group's committed offsets reach the input's
// end (or ctx ends, or timeout passes).
func (h *harness) waitCaughtUp(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for ctx.Err() == nil {
		ends, err1 := h.adm.ListEndOffsets(ctx, h.topics.in)
		com, err2 := h.adm.FetchOffsets(ctx, h.topics.group)
		if err1 == nil && err2 == nil {
			done := true
			ends.Each(func(o kadm.ListedOffset) {
				if c, ok := com.Lookup(o.Topic, o.Partition); !ok || c.At < o.Offset {
					done = false
				}
			})
			if done {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (h *harness) stopAll() {
	for _, p := range h.running() {
		h.sigterm(p)
	}
}

// reader reads the alerts topic with read_committed during the whole run and
// counts alert IDs seen twice.
func (h *harness) reader(ctx context.Context, seen, dup *atomic.Int64) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...), kgo.ConsumeTopics(h.topics.alerts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		h.t.Error(err)
		return
	}
	defer cl.Close()
	ids := map[string]bool{}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			id := header(r, "eqlstream.alert_id")
			seen.Add(1)
			if ids[id] {
				dup.Add(1)
			}
			ids[id] = true
		})
	}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func (h *harness) abortedTxns() int { return h.countLogs("transaction aborted") }

// countLogs counts a string in every processor log.
func (h *harness) countLogs(s string) int {
	n := 0
	for _, l := range h.logs {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		n += bytes.Count(b, []byte(s))
	}
	return n
}

func (h *harness) dumpLogs() {
	for _, l := range h.logs {
		b, _ := os.ReadFile(l)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		h.t.Logf("---- %s\n%s", filepath.Base(l), strings.Join(lines, "\n"))
	}
}
