package gen

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file evaluates the four Elastic rules the generator targets, written
// out by hand from their published queries, over parsed output. It is an
// oracle for the generator's ground truth, independent of the project's EQL
// engine.

// doc is one event with every field under its dotted path, whether it was
// written nested or with dotted keys.
type doc struct {
	fields  map[string]any
	ts      int64
	arrival int
}

func flattenInto(out map[string]any, prefix string, v any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			flattenInto(out, prefix+k+".", x)
		}
		return
	}
	key := strings.TrimSuffix(prefix, ".")
	if _, dup := out[key]; dup {
		panic("duplicate field " + key)
	}
	out[key] = v
}

func parseDoc(t testing.TB, line []byte, arrival int) doc {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("line %d: %v: %s", arrival, err, line)
	}
	d := doc{fields: map[string]any{}, arrival: arrival}
	flattenInto(d.fields, "", m)
	ts, err := time.Parse(time.RFC3339Nano, d.str("@timestamp"))
	if err != nil {
		t.Fatalf("line %d: @timestamp: %v", arrival, err)
	}
	d.ts = ts.UnixMilli()
	return d
}

// vals returns the string values of a field (one for a scalar, all for an
// array, none when missing).
func (d doc) vals(f string) []string {
	switch v := d.fields[f].(type) {
	case nil:
		return nil
	case string:
		return []string{v}
	case float64:
		return []string{fmt.Sprint(v)}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	default:
		return []string{fmt.Sprint(v)}
	}
}

func (d doc) str(f string) string {
	if v := d.vals(f); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (d doc) exists(f string) bool { return len(d.vals(f)) > 0 }

// eq is `f == v` / `f in (vs)`: any value equals any of vs.
func (d doc) eq(f string, vs ...string) bool {
	for _, x := range d.vals(f) {
		if slices.Contains(vs, x) {
			return true
		}
	}
	return false
}

// like is `f like (ps)`; insensitive makes it `f : (ps)`.
func (d doc) like(f string, insensitive bool, ps ...string) bool {
	for _, x := range d.vals(f) {
		for _, p := range ps {
			if insensitive {
				if wildcard(strings.ToLower(p), strings.ToLower(x)) {
					return true
				}
			} else if wildcard(p, x) {
				return true
			}
		}
	}
	return false
}

// wildcard matches s against p, where * is any run and ? one byte.
func wildcard(p, s string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcard(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcard(p[1:], s[1:])
	default:
		return s != "" && s[0] == p[0] && wildcard(p[1:], s[1:])
	}
}

func (d doc) cidr(f string, cidrs ...string) bool {
	for _, x := range d.vals(f) {
		a, err := netip.ParseAddr(x)
		if err != nil {
			continue
		}
		for _, c := range cidrs {
			if !strings.Contains(c, "/") {
				if b, err := netip.ParseAddr(c); err == nil && b == a {
					return true
				}
				continue
			}
			if netip.MustParsePrefix(c).Contains(a) {
				return true
			}
		}
	}
	return false
}

var shells = []string{"bash", "dash", "sh", "tcsh", "csh", "zsh", "ksh", "fish"}

func isProcessStart(d doc, actions ...string) bool {
	return d.eq("host.os.type", "linux") && d.eq("event.category", "process") && d.eq("event.type", "start") && d.eq("event.action", actions...)
}

// Suspicious APT Package Manager Execution.
func aptShellStage1(d doc) bool {
	return isProcessStart(d, "exec", "start", "ProcessRollup2") &&
		d.eq("process.parent.name", "apt") && d.eq("process.args", "-c") && d.eq("process.name", shells...) &&
		!d.eq("process.executable", "/usr/lib/venv-salt-minion/bin/python.original")
}

func aptShellStage2(d doc) bool {
	return isProcessStart(d, "exec", "start", "ProcessRollup2") &&
		d.like("process.name", false, "bash", "dash", "sh", "tcsh", "csh", "zsh", "ksh", "fish", "python*", "php*",
			"perl", "ruby", "lua*", "openssl", "nc", "netcat", "ncat", "telnet", "awk") &&
		!(d.like("process.parent.executable", false, "/run/k3s/containerd*", "/tmp/newroot/*", "/usr/share/debconf/frontend",
			"/var/tmp/buildah*", "./merged/*", "./*/vz/root/*", "/usr/bin/adequate") ||
			d.like("process.executable", false, "/usr/lib/venv-salt-minion/bin/python.original", "./merged/var/lib/containers/*") ||
			d.eq("process.command_line",
				"python3 /usr/sbin/omv-mkaptidx", "python3 /usr/local/bin/abr-upgrade --upgrade",
				"sh -c apt-get indextargets -o Dir::State::lists=/var/lib/apt/lists/ --format='$(FILENAME)' 'Created-By: Packages'",
				"/usr/bin/perl /usr/sbin/dpkg-preconfigure --apt", "/bin/sh -e /usr/lib/update-notifier/update-motd-updates-available",
				"/usr/bin/python3 /usr/lib/cnf-update-db", "/usr/bin/python3 /usr/bin/apt-listchanges --apt",
				"/usr/bin/perl -w /usr/sbin/dpkg-preconfigure --apt", "/bin/sh /usr/lib/needrestart/apt-pinvoke",
				"/bin/sh /usr/bin/kali-check-apt-sources", "/bin/sh /usr/lib/needrestart/apt-pinvoke -m u",
				"/usr/bin/perl /usr/sbin/needrestart", "/usr/bin/perl -w /usr/bin/apt-show-versions -i",
				"/usr/bin/perl -w /bin/apt-show-versions -i", "/usr/bin/perl /bin/adequate --help",
				"/usr/bin/perl /usr/sbin/needrestart -m u", "/usr/bin/perl -w /usr/share/debconf/frontend /usr/sbin/needrestart",
				"/usr/bin/python3 /sbin/katello-tracer-upload", "/usr/bin/python3 /usr/bin/package-profile-upload") ||
			d.like("process.parent.command_line", false, "sh -c if [ -x*", "sh -c -- if [ -x*") ||
			d.eq("process.args", "/usr/sbin/needrestart", "/usr/lib/needrestart/apt-pinvoke", "/usr/share/proxmox-ve/pve-apt-hook", "/usr/bin/dpkg-source") ||
			d.eq("process.parent.args", "/usr/share/debconf/frontend"))
}

// Suspicious APT Package Manager Network Connection.
func aptNetconStage1(d doc) bool {
	return isProcessStart(d, "exec") && d.eq("process.parent.name", "apt") && d.eq("process.args", "-c") &&
		d.eq("process.name", shells...) && !d.eq("process.args", "/usr/bin/apt-listbugs apt")
}

func aptNetconStage2(d doc) bool {
	return d.eq("host.os.type", "linux") && d.eq("event.category", "network") && d.eq("event.action", "connection_attempted") &&
		d.eq("event.type", "start") &&
		!(!d.exists("destination.ip") || d.eq("destination.ip", "0.0.0.0") || d.cidr("destination.ip",
			"10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.0.0/29",
			"192.0.0.8/32", "192.0.0.9/32", "192.0.0.10/32", "192.0.0.170/32", "192.0.0.171/32", "192.0.2.0/24",
			"192.31.196.0/24", "192.52.193.0/24", "192.168.0.0/16", "192.88.99.0/24", "224.0.0.0/4", "100.64.0.0/10",
			"192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "::1", "FE80::/10",
			"FF00::/8", "172.31.0.0/16")) &&
		!d.eq("process.executable", "/usr/bin/apt-listbugs")
}

// Unusual DPKG Execution.
func dpkgUnusual(d doc) bool {
	return isProcessStart(d, "exec") && d.like("process.executable", true, "/var/lib/dpkg/info/*") &&
		d.exists("process.session_leader.name") && d.exists("process.group_leader.name") &&
		!(d.eq("process.parent.name", "dpkg", "dpkg-reconfigure", "frontend") ||
			d.eq("process.session_leader.name", "dpkg") || d.eq("process.group_leader.name", "dpkg") ||
			d.eq("process.parent.executable", "/usr/share/debconf/frontend", "/usr/bin/unattended-upgrade"))
}

// Executable Bit Set for Potential Persistence Script.
func chmodPersistence(d doc) bool {
	return isProcessStart(d, "exec", "exec_event", "start") &&
		d.like("process.args", true,
			"/etc/rc.local", "/etc/rc.common", "/etc/rc.d/rc.local", "/etc/init.d/*", "/etc/update-motd.d/*",
			"/etc/apt/apt.conf.d/*", "/etc/cron*", "/etc/init/*", "/etc/NetworkManager/dispatcher.d/*",
			"/lib/dracut/modules.d/*", "/usr/lib/dracut/modules.d/*",
			"/etc/xdg/autostart/*", "/home/*/.config/autostart/*", "/root/.config/autostart/*",
			"/home/*/.local/share/autostart/*", "/root/.local/share/autostart/*", "/home/*/.config/autostart-scripts/*",
			"/root/.config/autostart-scripts/*", "/etc/xdg/autostart/*", "/usr/share/autostart/*",
			"/lib/udev/*", "/etc/udev/rules.d/*", "/usr/lib/udev/rules.d/*", "/run/udev/rules.d/*") &&
		((d.eq("process.name", "chmod") && d.like("process.args", true, "+x*", "1*", "3*", "5*", "7*")) ||
			(d.eq("process.name", "install") && d.like("process.args", true, "-m*") && d.like("process.args", true, "7*", "5*", "3*", "1*"))) &&
		!(d.like("process.parent.executable", true, "/var/lib/dpkg/*") ||
			d.eq("process.command_line", "chmod 777 /etc/update-motd.d/", "chmod 755 /etc/update-motd.d/"))
}

// alert is one rule match: the rule's kind and the process.entity_id of
// each matched event.
type alert struct {
	kind string
	ids  string
}

// seqRule is a two-stage "sequence by host.id with maxspan=5s".
type seqRule struct {
	kind           string
	stage1, stage2 func(doc) bool
	key1, key2     string
}

// evaluate runs the four rules over docs; sequences see each host's events
// in @timestamp order, then arrival order.
func evaluate(docs []doc) []alert {
	seqs := []seqRule{
		{KindAPTShell, aptShellStage1, aptShellStage2, "process.entity_id", "process.parent.entity_id"},
		{KindAPTNetcon, aptNetconStage1, aptNetconStage2, "process.entity_id", "process.parent.entity_id"},
	}
	var alerts []alert
	byHost := map[string][]doc{}
	var hosts []string
	for _, d := range docs {
		h := d.str("host.id")
		if _, ok := byHost[h]; !ok {
			hosts = append(hosts, h)
		}
		byHost[h] = append(byHost[h], d)
		if dpkgUnusual(d) {
			alerts = append(alerts, alert{KindDPKGUnusual, d.str("process.entity_id")})
		}
		if chmodPersistence(d) {
			alerts = append(alerts, alert{KindChmodPersistence, d.str("process.entity_id")})
		}
	}
	for _, h := range hosts {
		ds := byHost[h]
		slices.SortStableFunc(ds, func(a, b doc) int {
			if a.ts != b.ts {
				return int(a.ts - b.ts)
			}
			return a.arrival - b.arrival
		})
		for _, r := range seqs {
			type partial struct {
				ts int64
				id string
			}
			pending := map[string]partial{}
			for _, d := range ds {
				if r.stage2(d) {
					for _, k := range d.vals(r.key2) {
						if p, ok := pending[k]; ok {
							delete(pending, k)
							if d.ts-p.ts <= 5000 {
								alerts = append(alerts, alert{r.kind, p.id + " " + d.str("process.entity_id")})
							}
						}
					}
				}
				if r.stage1(d) {
					for _, k := range d.vals(r.key1) {
						pending[k] = partial{d.ts, d.str("process.entity_id")}
					}
				}
			}
		}
	}
	return alerts
}

func generateDocs(t testing.TB, cfg Config) ([]doc, *Generator) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var docs []doc
	var buf []byte
	for {
		var ok bool
		buf, _, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		docs = append(docs, parseDoc(t, buf, len(docs)))
	}
	return docs, g
}

func TestRulesMatchInjectedChains(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 42, Events: 50000, Hosts: 12, AttackRate: 0.04, LookalikeRate: 0.04, Disorder: 3 * time.Second}
	if testing.Short() || raceEnabled {
		cfg.Events = 15000
	}
	docs, g := generateDocs(t, cfg)
	st := g.Stats()
	alerts := evaluate(docs)

	expected := map[alert]bool{}
	lookalike := map[alert]string{}
	// the events a chain's Lines point at are the ones its rule's stages
	// match (a consumer uses them to tell whether a stage arrived late)
	stages := map[string][]func(doc) bool{
		KindAPTShell:         {aptShellStage1, aptShellStage2},
		KindAPTNetcon:        {aptNetconStage1, aptNetconStage2},
		KindDPKGUnusual:      {dpkgUnusual},
		KindChmodPersistence: {chmodPersistence},
	}
	for _, inj := range g.Injections() {
		if !inj.Lookalike {
			for i, n := range inj.Lines {
				if i >= len(stages[inj.Kind]) || !stages[inj.Kind][i](docs[n]) {
					t.Errorf("%s/%s: stage %d's line %d does not match the stage: %v", inj.Kind, inj.Variant, i+1, n, docs[n].fields["event.action"])
				}
			}
		}
		a := alert{inj.Kind, strings.Join(inj.EntityIDs, " ")}
		if inj.Lookalike {
			lookalike[a] = inj.Variant
		} else {
			expected[a] = true
		}
	}
	got := map[string]int{}
	for _, a := range alerts {
		got[a.kind]++
		if v, ok := lookalike[a]; ok {
			t.Errorf("look-alike %s/%s raised an alert: %s", a.kind, v, a.ids)
			continue
		}
		if !expected[a] {
			t.Errorf("unexpected %s alert (background matched): %s", a.kind, a.ids)
			continue
		}
		delete(expected, a)
	}
	for a := range expected {
		t.Errorf("injected %s chain not detected: %s", a.kind, a.ids)
	}
	for _, k := range Kinds() {
		if got[k] != st.ChainsByKind[k] {
			t.Errorf("%s: %d alerts, Stats says %d chains", k, got[k], st.ChainsByKind[k])
		}
		if st.ChainsByKind[k] == 0 {
			t.Errorf("%s: no chain injected; raise the rate or events", k)
		}
	}
	t.Logf("%d events, %d chains %v, %d look-alikes", st.Events, st.Chains, st.ChainsByKind, st.Lookalikes)
}

// TestLookalikesRaiseNoAlert runs only look-alikes and background: the rules
// must stay silent, and every look-alike variant must occur.
func TestLookalikesRaiseNoAlert(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 7, Events: 50000, Hosts: 8, LookalikeRate: 0.4, Disorder: time.Second}
	short := testing.Short() || raceEnabled
	if short {
		cfg.Events = 15000
	}
	docs, g := generateDocs(t, cfg)
	for _, a := range evaluate(docs) {
		t.Errorf("unexpected %s alert: %s", a.kind, a.ids)
	}
	st := g.Stats()
	if st.Chains != 0 {
		t.Errorf("Stats.Chains = %d with AttackRate 0", st.Chains)
	}
	if !short {
		for _, v := range LookalikeVariants() {
			if st.LookalikesByVariant[v] == 0 {
				t.Errorf("look-alike %s never generated", v)
			}
		}
	}
	for _, inj := range g.Injections() {
		if len(inj.EntityIDs) == 0 {
			t.Errorf("look-alike %s/%s marked no event", inj.Kind, inj.Variant)
		}
	}
}

func TestWildcard(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"/etc/cron*", "/etc/crontab", true},
		{"/etc/cron*", "/etc/cron.d/x", true},
		{"+x*", "+x", true},
		{"+x*", "u+x", false},
		{"7*", "0755", false},
		{"python*", "python3.12", true},
		{"/home/*/.config/autostart/*", "/home/alice/.config/autostart/x.desktop", true},
		{"sh -c if [ -x*", "sh -c if [ -x /usr/bin/etckeeper ]; then etckeeper post-install; fi", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
	} {
		if got := wildcard(c.p, c.s); got != c.want {
			t.Errorf("wildcard(%q, %q) = %v", c.p, c.s, got)
		}
	}
}
