//go:build chaos

package chaos

// RULE_CHANGES=1: the processors take their rules from a rules topic, and
// rule-set revisions are pushed during the faults. The expected answer
// replays each partition with the revisions it committed (processor eval
// --rules-at), so a change must apply exactly where the committed state says.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

type ruleFeed struct {
	topic    string
	versions []string          // rule directories pushed in turn
	dirs     map[string]string // revision -> directory
	pushes   int
}

// setupRules writes three rule sets made from the built-ins and pushes the
// first: v0 the built-ins; v1 changes a sequence rule's maxspan (a new
// state machine, version 2) and deletes the DPKG rule; v2 renames a rule
// (same fingerprint: its state is kept) and adds the DPKG rule back.
func (h *harness) setupRules(root string) {
	h.rules = &ruleFeed{topic: h.topics.group + "-rules", dirs: map[string]string{}}
	src := filepath.Join(root, "rules", "builtin")
	ents, err := os.ReadDir(src)
	if err != nil {
		h.t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			h.t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	edit := func(s, old, new string) string {
		out := strings.Replace(s, old, new, 1)
		if out == s {
			h.t.Fatalf("rule edit: %q not found", old)
		}
		return out
	}
	sets := []map[string]string{{}, {}, {}}
	for name, text := range files {
		sets[0][name], sets[1][name], sets[2][name] = text, text, text
	}
	net := "apt_package_manager_network_connection.toml"
	sets[1][net] = edit(edit(files[net], "maxspan=5s", "maxspan=6s"), "\nversion = 1\n", "\nversion = 2\n")
	delete(sets[1], "dpkg_unusual_execution.toml")
	sets[2][net] = sets[1][net]
	pers := "persistence_script_executable_bit.toml"
	sets[2][pers] = edit(files[pers], `name = "Executable Bit Set for Potential Persistence Script"`, `name = "Executable Bit Set for a Persistence Script"`)
	if h.p.suppression {
		// with SUPPRESSION=1 the suppression rules are in every set: v1
		// changes the 5 s rule's window to 7 s (a changed rule: its open
		// windows are dropped, and again when v0 comes back), the 2 h rule
		// is the same in all (its windows stay open across the changes and
		// are compared with the replay's at the end)
		td := filepath.Join(root, "rules", "suppress", "testdata")
		for _, f := range []string{"sudo_suppressed.toml", "sudo_per_host_2h.toml"} {
			b, err := os.ReadFile(filepath.Join(td, f))
			if err != nil {
				h.t.Fatal(err)
			}
			sets[0][f], sets[1][f], sets[2][f] = string(b), string(b), string(b)
		}
		sets[1]["sudo_suppressed.toml"] = edit(sets[0]["sudo_suppressed.toml"], "value = 5\n", "value = 7\n")
		sets[2]["sudo_suppressed.toml"] = sets[1]["sudo_suppressed.toml"]
	}
	for i, set := range sets {
		dir := filepath.Join(h.dir, fmt.Sprintf("rules-v%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			h.t.Fatal(err)
		}
		for name, text := range set {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				h.t.Fatal(err)
			}
		}
		h.rules.versions = append(h.rules.versions, dir)
	}
	h.pushRules(h.rules.versions[0])
}

var pushRevision = regexp.MustCompile(`at revision (\d+)`)

// pushRules pushes dir as the whole rule set and records its revision
// (from the chaos goroutines too: it only logs and reports errors).
func (h *harness) pushRules(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for attempt := 0; ; attempt++ {
		args := []string{"rules", "push", "--brokers", strings.Join(h.brokers, ","),
			"--topic", h.rules.topic, "--prune", "--replication-factor", "3"}
		args = append(append(args, h.exceptionArgs()...), dir)
		out, err := exec.CommandContext(ctx, h.bin, args...).CombinedOutput()
		m := pushRevision.FindSubmatch(out)
		if err == nil && m != nil {
			h.mu.Lock()
			h.rules.dirs[string(m[1])] = dir
			h.rules.pushes++
			h.mu.Unlock()
			h.logf("chaos: rules push %s: revision %s", filepath.Base(dir), m[1])
			return
		}
		// a broker may be down: the push is one transaction, retry it
		if attempt >= 5 || ctx.Err() != nil {
			h.t.Errorf("rules push %s: %v\n%s", dir, err, out) // not Fatal: called from a goroutine
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// changeRules pushes the next rule set every 4-8 s until ctx ends.
func (h *harness) changeRules(ctx context.Context, seed int64) {
	i := 0
	for {
		wait := time.Duration(4000+int(seed*7919+int64(i)*104729)%4000) * time.Millisecond
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		i++
		h.pushRules(h.rules.versions[i%len(h.rules.versions)])
	}
}

// rulesArgs are eval's rule flags for a partition: the first committed
// revision's rules, then a --rules-at for each change, at the line of its
// input offset (offsets lists the partition's record offsets).
func (h *harness) rulesArgs(ph *partHistory, offsets []int64) []string {
	if h.rules == nil || ph == nil || len(ph.Revisions) == 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	dir := func(rev string) string {
		d, ok := h.rules.dirs[rev]
		if !ok {
			h.t.Fatalf("a partition committed revision %s, which no push made (pushed: %v)", rev, h.rules.dirs)
		}
		return d
	}
	args := append(h.exceptionArgs(), "--rules", dir(ph.Revisions[0].Revision))
	for _, r := range ph.Revisions[1:] {
		line := sort.Search(len(offsets), func(i int) bool { return offsets[i] >= r.From })
		args = append(args, "--rules-at", strconv.Itoa(line)+"@"+strconv.FormatUint(r.Flushes, 10)+"="+dir(r.Revision))
	}
	return args
}

// exceptionArgs publish (rules push) and give (eval) the suppression
// rule's exception list when SUPPRESSION=1.
func (h *harness) exceptionArgs() []string {
	if !h.p.suppression {
		return nil
	}
	return []string{"--exceptions", filepath.Join(h.root, "rules", "suppress", "testdata", "sudo_tuning.ndjson")}
}

// revisionChanges counts the committed rule-set changes over partitions.
func revisionChanges(hist map[int32]*partHistory) int {
	n := 0
	for _, ph := range hist {
		n += max(len(ph.Revisions)-1, 0)
	}
	return n
}
