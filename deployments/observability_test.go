package deployments

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	dashboardFile = "observability/grafana-dashboard.json"
	rulesFile     = "observability/prometheus-rules.yaml"
	promRuleFile  = "k8s/optional/prometheusrule.yaml"
	scrapeJob     = "eqlstream-processor"
)

// externalMetrics are used by a panel or rule but come from elsewhere than
// the processor's /metrics, each with its source.
var externalMetrics = map[string]string{
	"kube_pod_status_ready": "kube-state-metrics",
	"up":                    "Prometheus (one per scrape target)",
}

// afterFirstObservation would list label-vector metrics that appear in
// /metrics only once a label value has been observed. It is empty: the
// pipeline starts every known label value at 0 (pipeline/metrics.go), so
// every metric a panel or rule uses must be in the scrape.
var afterFirstObservation = map[string]string{}

// --- PromQL metric names ---------------------------------------------------

var promqlKeywords = map[string]bool{
	// binary and set operators, modifiers
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
	// aggregation operators (may be followed by by/without instead of "(")
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

// metricNames returns the metric names a PromQL expression selects (with
// Grafana's $variables): identifiers that are not functions, keywords,
// label names inside {...} or label lists after by/without/on/ignoring/
// group_left/group_right, strings, numbers or durations.
func metricNames(expr string) ([]string, error) {
	var names []string
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipString := func(i int) (int, error) {
		q := expr[i]
		for j := i + 1; j < len(expr); j++ {
			if expr[j] == '\\' && q != '`' {
				j++
				continue
			}
			if expr[j] == q {
				return j + 1, nil
			}
		}
		return 0, fmt.Errorf("unterminated string at %d", i)
	}
	// skipTo returns the index after the bracket closing the one at i.
	skipTo := func(i int, open, close byte) (int, error) {
		depth := 0
		for j := i; j < len(expr); j++ {
			switch c := expr[j]; {
			case c == '"' || c == '\'' || c == '`':
				k, err := skipString(j)
				if err != nil {
					return 0, err
				}
				j = k - 1
			case c == open:
				depth++
			case c == close:
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c at %d", open, i)
	}
	nextNonSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
			i++
		}
		return i
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j, err := skipString(i)
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{':
			j, err := skipTo(i, '{', '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j, err := skipTo(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '$': // Grafana variable: $name or ${name}
			i++
			if i < len(expr) && expr[i] == '{' {
				j, err := skipTo(i, '{', '}')
				if err != nil {
					return nil, err
				}
				i = j
				continue
			}
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.' ||
				(expr[i] == '+' || expr[i] == '-') && (expr[i-1] == 'e' || expr[i-1] == 'E')) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := nextNonSpace(j)
			switch {
			case word == "by" || word == "without" || word == "on" || word == "ignoring" ||
				word == "group_left" || word == "group_right":
				// a label list follows (optional for group_left/right)
				if k < len(expr) && expr[k] == '(' {
					e, err := skipTo(k, '(', ')')
					if err != nil {
						return nil, err
					}
					j = e
				}
			case promqlKeywords[strings.ToLower(word)]:
			case k < len(expr) && expr[k] == '(':
				// a function call
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names, nil
}

func TestMetricNamesParser(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (topic, le) (rate(a_total{job=~"$job", x="by (y)"}[$__rate_interval]))`, []string{"a_total"}},
		{`histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) * 60`, []string{"h_bucket"}},
		{`x / ignoring (reason) group_left sum without (a) (y) > 1e6 and on (j) z offset 5m`, []string{"x", "y", "z"}},
		{`$max_states * count by (instance) (g{a="b"}) < bool 0.8`, []string{"g"}},
		{`deriv(sum by (job) (lag{job="j"})[15m:1m]) > 0 unless max(up)`, []string{"lag", "up"}},
	} {
		got, err := metricNames(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%s) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// --- the dashboard and the rules -------------------------------------------

type grafanaPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Title      string         `json:"title"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardExprs maps each panel expression to "panel title (refId)".
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			out[tg.Expr] = fmt.Sprintf("panel %q (%s)", p.Title, tg.RefID)
		}
	}
	return out
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleGroups struct {
	Groups []struct {
		Name  string      `yaml:"name"`
		Rules []alertRule `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleGroups {
	t.Helper()
	var g ruleGroups
	readYAML(t, rulesFile)[0].decode(t, &g)
	return g
}

func ruleExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			out[r.Expr] = "alert " + r.Alert
		}
	}
	return out
}

func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard has no uid or title")
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Errorf("no datasource variable (type datasource): %v", vars)
	}
	ids := map[int]bool{}
	targets := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no gridPos", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			targets++
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: empty expression", p.Title)
			}
		}
	}
	// what the operator kit promises to show
	exprs := strings.Join(slices.Collect(mapKeys(dashboardExprs(t))), "\n")
	for _, m := range []string{
		"eqlstream_events_in_total", "eqlstream_consumer_lag_records", "eqlstream_alerts_out_total",
		"eqlstream_dead_letters_total", "eqlstream_late_events_total", "eqlstream_event_to_alert_seconds_bucket",
		"eqlstream_transactions_total", "eqlstream_transaction_duration_seconds_bucket",
		"eqlstream_live_sequence_states", "$max_states", "eqlstream_state_evictions_total",
		"eqlstream_state_restores_total", "eqlstream_state_restore_records_total", "kube_pod_status_ready",
		"process_resident_memory_bytes", "process_cpu_seconds_total", "go_gc_duration_seconds", "go_gc_gomemlimit_bytes",
	} {
		if !strings.Contains(exprs, m) {
			t.Errorf("no dashboard panel uses %s", m)
		}
	}
	t.Logf("%d panels, %d queries", len(d.Panels), targets)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestAlertRules(t *testing.T) {
	g := readRules(t)
	if len(g.Groups) == 0 {
		t.Fatal("no rule groups")
	}
	var alerts []string
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without alert name (recording rules do not belong here)", grp.Name)
				continue
			}
			alerts = append(alerts, r.Alert)
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: no expr", r.Alert)
			}
			if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			// runbook-style: says what it means and what to check
			if d := r.Annotations["description"]; len(d) < 200 {
				t.Errorf("%s: description of %d characters is too short to be a runbook", r.Alert, len(d))
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if !strings.Contains(r.Expr, `job="`+scrapeJob+`"`) && !strings.Contains(r.Expr, "kube_pod_status_ready") {
				t.Errorf("%s: expr does not select job=%q", r.Alert, scrapeJob)
			}
		}
	}
	for _, want := range []string{
		"EqlstreamConsumerLagGrowing", "EqlstreamNoProgress", "EqlstreamDeadLetters", "EqlstreamTransactionAborts",
		"EqlstreamNotReady", "EqlstreamRestarting", "EqlstreamStateEvictions", "EqlstreamStateNearBound",
	} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
}

// The PrometheusRule for the Prometheus Operator holds exactly the groups of
// the plain rules file.
func TestPrometheusRuleMatchesRulesFile(t *testing.T) {
	var pr struct {
		Spec ruleGroups `yaml:"spec"`
	}
	docs := readYAML(t, promRuleFile)
	if len(docs) != 1 || docs[0].Kind != "PrometheusRule" {
		t.Fatalf("%s: want one PrometheusRule", promRuleFile)
	}
	docs[0].decode(t, &pr)
	if plain := readRules(t); !reflect.DeepEqual(pr.Spec, plain) {
		t.Errorf("%s spec.groups differ from %s; regenerate it (see its header)", promRuleFile, rulesFile)
	}
}

func TestServiceMonitorAndPDB(t *testing.T) {
	docs := k8sManifests(t)
	_, ss, _ := processorStatefulSet(t, docs)
	pods := ss.Spec.Template.Metadata.Labels

	var svcLabels map[string]string
	for _, d := range findKind(t, docs, "Service") {
		if d.Metadata.Name == ss.Spec.ServiceName {
			var s struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
			}
			d.decode(t, &s)
			svcLabels = s.Metadata.Labels
		}
	}
	var sm struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Endpoints []struct {
				Port string `yaml:"port"`
				Path string `yaml:"path"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	mons := findKind(t, docs, "ServiceMonitor")
	mons[0].decode(t, &sm)
	if len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Error("ServiceMonitor selects nothing")
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svcLabels[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match the Service %s's labels %v", k, v, ss.Spec.ServiceName, svcLabels)
		}
	}
	if mons[0].Metadata.Name != scrapeJob && ss.Spec.ServiceName != scrapeJob {
		t.Errorf("the rules expect job=%q, the Service's name; it is %q", scrapeJob, ss.Spec.ServiceName)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v, want port metrics, path /metrics", sm.Spec.Endpoints)
	}

	var pdb struct {
		Spec struct {
			MaxUnavailable *int `yaml:"maxUnavailable"`
			MinAvailable   any  `yaml:"minAvailable"`
			Selector       struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	pdbs := findKind(t, docs, "PodDisruptionBudget")
	if strings.Contains(filepath.ToSlash(pdbs[0].file), "/optional/") {
		t.Errorf("the PodDisruptionBudget is in %s; it needs no CRD and belongs to the base", pdbs[0].file)
	}
	pdbs[0].decode(t, &pdb)
	if pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget: want maxUnavailable 1 only")
	}
	if len(pdb.Spec.Selector.MatchLabels) == 0 {
		t.Error("PodDisruptionBudget selects nothing")
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if pods[k] != v {
			t.Errorf("PodDisruptionBudget selector %s=%s does not match the pod labels", k, v)
		}
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join("k8s", "kustomization.yaml"))[0].decode(t, &k)
	if !slices.Contains(k.Resources, "pdb.yaml") {
		t.Error("kustomization does not list pdb.yaml")
	}
}

// Strimzi topics: the names the ConfigMap configures, a compacted state
// topic with the input's partition count, retention on the others.
func TestStrimziTopics(t *testing.T) {
	docs := k8sManifests(t)
	cms := map[string]configMap{}
	for _, d := range findKind(t, docs, "ConfigMap") {
		var cm configMap
		d.decode(t, &cm)
		cms[d.Metadata.Name] = cm
	}
	cfg := cms["eqlstream-config"].Data
	group := cfg["EQLSTREAM_GROUP"]
	if group == "" {
		t.Fatal("ConfigMap eqlstream-config has no EQLSTREAM_GROUP")
	}
	state := cfg["EQLSTREAM_STATE_TOPIC"]
	if state == "" {
		state = group + "-state" // the processor's default
	}
	type topic struct {
		Metadata struct {
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			TopicName  string            `yaml:"topicName"`
			Partitions int               `yaml:"partitions"`
			Replicas   int               `yaml:"replicas"`
			Config     map[string]string `yaml:"config"`
		} `yaml:"spec"`
	}
	byName := map[string]topic{}
	for _, d := range findKind(t, docs, "KafkaTopic") {
		var tp topic
		d.decode(t, &tp)
		name := tp.Spec.TopicName
		if name == "" {
			name = d.Metadata.Name
		}
		if tp.Metadata.Labels["strimzi.io/cluster"] == "" {
			t.Errorf("KafkaTopic %s: no strimzi.io/cluster label", name)
		}
		if mis := tp.Spec.Config["min.insync.replicas"]; tp.Spec.Replicas < 3 || mis != "2" {
			t.Errorf("KafkaTopic %s: replicas %d, min.insync.replicas %q; want 3 and 2", name, tp.Spec.Replicas, mis)
		}
		byName[name] = tp
	}
	input, ok := byName[cfg["EQLSTREAM_INPUT_TOPIC"]]
	if !ok {
		t.Fatalf("no KafkaTopic for the input topic %q", cfg["EQLSTREAM_INPUT_TOPIC"])
	}
	st, ok := byName[state]
	switch {
	case !ok:
		t.Errorf("no KafkaTopic for the state topic %q", state)
	case st.Spec.Config["cleanup.policy"] != "compact":
		t.Errorf("state topic %s: cleanup.policy %q, want compact", state, st.Spec.Config["cleanup.policy"])
	case st.Spec.Partitions != input.Spec.Partitions:
		t.Errorf("state topic %s has %d partitions, the input %d: the processor refuses to start", state, st.Spec.Partitions, input.Spec.Partitions)
	}
	for _, key := range []string{"EQLSTREAM_INPUT_TOPIC", "EQLSTREAM_ALERTS_TOPIC", "EQLSTREAM_DLQ_TOPIC"} {
		tp, ok := byName[cfg[key]]
		if !ok {
			t.Errorf("no KafkaTopic for %s=%q", key, cfg[key])
			continue
		}
		if tp.Spec.Config["cleanup.policy"] != "delete" || tp.Spec.Config["retention.ms"] == "" {
			t.Errorf("topic %s: want cleanup.policy delete and an explicit retention.ms, got %v", cfg[key], tp.Spec.Config)
		}
	}
	if len(byName) != 4 {
		t.Errorf("want 4 KafkaTopics (input, alerts, DLQ, state), got %d", len(byName))
	}
}

// --- every metric used exists in /metrics of a running processor ------------

// buildProcessor builds ./cmd/processor into a temporary directory.
func buildProcessor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "processor")
	args := []string{"build", "-o", bin}
	if os.Getenv("PROCESSOR_RACE") == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, processorPkg)...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", processorPkg, err, out)
	}
	return bin
}

var typeLine = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$`)

// scrapeWhileRunning starts `processor run --embedded` and scrapes its
// /metrics until it exits, returning every metric family seen (name ->
// type) and the number of scrapes that saw events processed.
func scrapeWhileRunning(t *testing.T, bin string) (map[string]string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--embedded", "--embedded-events", "100000",
		"--metrics-addr", "127.0.0.1:0", "--log-level", "info", "--log-format", "json")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	var logTail []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if len(logTail) < 50 {
				logTail = append(logTail, line)
			}
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "metrics listening" {
				addrc <- rec.Addr
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-logDone; exited <- cmd.Wait() }()

	var addr string
	select {
	case addr = <-addrc:
	case err := <-exited:
		t.Fatalf("processor exited (%v) before serving /metrics:\n%s", err, strings.Join(logTail, "\n"))
	case <-time.After(2 * time.Minute):
		t.Fatalf("no \"metrics listening\" log line within 2m:\n%s", strings.Join(logTail, "\n"))
	}
	families := map[string]string{}
	busy := 0
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("processor run --embedded: %v\n%s", err, strings.Join(logTail, "\n"))
			}
			return families, busy
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get("http://" + addr + "/metrics")
		if err != nil {
			continue // not yet, or already shutting down
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /metrics: %s", resp.Status)
		}
		for _, line := range strings.Split(string(body), "\n") {
			if m := typeLine.FindStringSubmatch(line); m != nil {
				families[m[1]] = m[2]
			}
			if strings.HasPrefix(line, "eqlstream_events_in_total{") && !strings.HasSuffix(line, " 0") {
				busy++
			}
		}
	}
}

// resolve maps a name used in an expression to the family that exposes it:
// name itself, or for _bucket/_sum/_count the histogram or summary.
func resolve(name string, families map[string]string) (string, bool) {
	if _, ok := families[name]; ok {
		return name, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		typ := families[base]
		if typ == "histogram" || (typ == "summary" && suf != "_bucket") {
			return base, true
		}
	}
	return "", false
}

func TestDashboardAndRuleMetricsExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the processor; skipped with -short")
	}
	used := map[string][]string{} // metric -> where
	for _, src := range []map[string]string{dashboardExprs(t), ruleExprs(t)} {
		for expr, where := range src {
			names, err := metricNames(expr)
			if err != nil {
				t.Fatalf("%s: %v\n%s", where, err, expr)
			}
			if len(names) == 0 {
				t.Errorf("%s selects no metric: %s", where, expr)
			}
			for _, n := range names {
				used[n] = append(used[n], where)
			}
		}
	}

	families, busy := scrapeWhileRunning(t, buildProcessor(t))
	if busy == 0 {
		t.Fatal("no scrape saw eqlstream_events_in_total above 0: the demo ran too fast to observe, or /metrics does not show the pipeline")
	}
	t.Logf("%d metric families in /metrics over the run; %d scrapes saw events flowing", len(families), busy)

	src, err := pipelineSource()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		where := used[n]
		slices.Sort(where)
		where = slices.Compact(where)
		if fam, ok := resolve(n, families); ok {
			if _, listed := afterFirstObservation[fam]; listed {
				t.Errorf("%s now appears in /metrics: remove it from afterFirstObservation", fam)
			}
			continue
		}
		if source, ok := externalMetrics[n]; ok {
			t.Logf("%s: from %s, not the processor (used by %s)", n, source, strings.Join(where, ", "))
			continue
		}
		if short, ok := afterFirstObservation[n]; ok {
			if !strings.Contains(src, `"`+short+`"`) {
				t.Errorf("%s (used by %s) is defined nowhere in pipeline/: renamed or removed?", n, strings.Join(where, ", "))
			} else {
				t.Logf("%s: defined in pipeline/, absent from /metrics until its first observation (used by %s)", n, strings.Join(where, ", "))
			}
			continue
		}
		t.Errorf("%s is not in /metrics of a running processor (used by %s)", n, strings.Join(where, ", "))
	}
}

// pipelineSource is the text of pipeline/*.go (not tests), where the
// processor's metrics are defined.
func pipelineSource() (string, error) {
	files, err := filepath.Glob(filepath.Join("..", "pipeline", "*.go"))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		b.Write(data)
	}
	return b.String(), nil
}
