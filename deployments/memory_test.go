package deployments

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// goRuntimeEnv are the environment variables of the StatefulSet that are
// read by the Go runtime rather than the processor (GOMEMLIMIT, and the
// limit in MiB it is built from).
var goRuntimeEnv = map[string]bool{"GOMEMLIMIT": true, "MEMORY_LIMIT_MIB": true}

// Measured (README "Memory sizing"): RSS per pending partial match with the
// event body it holds (~2.5 KB generated events), and the processor's
// baseline under load.
const (
	measuredBytesPerState = 4400
	measuredBaseline      = 128 << 20
)

// quantityBytes parses a Kubernetes memory quantity with a binary suffix.
func quantityBytes(t *testing.T, q string) int64 {
	t.Helper()
	for suf, mul := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(q, suf); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("memory quantity %q: %v", q, err)
			}
			return v * mul
		}
	}
	t.Fatalf("memory quantity %q: want a Ki, Mi or Gi suffix", q)
	return 0
}

// The memory limit holds --max-states pending partial matches on every
// partition an instance can own while one pod is down, and GOMEMLIMIT is
// derived from the limit, below it; the alert rule and the dashboard use the
// same --max-states.
func TestMemorySizing(t *testing.T) {
	docs := k8sManifests(t)
	sm, _, _ := processorStatefulSet(t, docs)
	var full struct {
		Spec struct {
			Replicas int `yaml:"replicas"`
			Template struct {
				Spec struct {
					Containers []struct {
						Name string `yaml:"name"`
						Env  []struct {
							Name      string `yaml:"name"`
							Value     string `yaml:"value"`
							ValueFrom *struct {
								ResourceFieldRef *struct {
									ContainerName string `yaml:"containerName"`
									Resource      string `yaml:"resource"`
									Divisor       string `yaml:"divisor"`
								} `yaml:"resourceFieldRef"`
							} `yaml:"valueFrom"`
						} `yaml:"env"`
						Resources struct {
							Requests map[string]string `yaml:"requests"`
							Limits   map[string]string `yaml:"limits"`
						} `yaml:"resources"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	sm.decode(t, &full)
	c := full.Spec.Template.Spec.Containers[0]
	limitQ := c.Resources.Limits["memory"]
	if limitQ == "" {
		t.Fatal("no memory limit")
	}
	limit := quantityBytes(t, limitQ)
	if req := c.Resources.Requests["memory"]; req == "" || quantityBytes(t, req) != limit {
		t.Errorf("memory request %q, want the limit %s: the sizing assumes the memory is there", req, limitQ)
	}

	env := map[string]string{}
	var mib string
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
			r := e.ValueFrom.ResourceFieldRef
			if r.Resource != "limits.memory" || r.Divisor != "1Mi" || r.ContainerName != c.Name {
				t.Errorf("env %s: resourceFieldRef %+v, want limits.memory of %s in 1Mi", e.Name, *r, c.Name)
			}
			mib = e.Name
		}
	}
	if mib == "" {
		t.Fatal("no env var from resourceFieldRef limits.memory")
	}
	// GOMEMLIMIT is "$(MIB)" followed by zeros: limit/2^20 * 10^k bytes
	m := regexp.MustCompile(`^\$\(` + regexp.QuoteMeta(mib) + `\)(0*)$`).FindStringSubmatch(env["GOMEMLIMIT"])
	if m == nil {
		t.Fatalf("GOMEMLIMIT = %q, want $(%s) followed by zeros (bytes)", env["GOMEMLIMIT"], mib)
	}
	gomemlimit := float64(limit>>20) * pow10(len(m[1]))
	ratio := gomemlimit / float64(limit)
	if ratio < 0.85 || ratio > 0.97 {
		t.Errorf("GOMEMLIMIT is %.1f%% of the memory limit, want 85%%..97%%", 100*ratio)
	}

	maxStates, err := strconv.Atoi(env["EQLSTREAM_MAX_STATES"])
	if err != nil || maxStates <= 0 {
		t.Fatalf("EQLSTREAM_MAX_STATES = %q: want the bound the memory limit is sized for", env["EQLSTREAM_MAX_STATES"])
	}
	var inputParts int
	for _, d := range findKind(t, docs, "KafkaTopic") {
		var tp struct {
			Spec struct {
				TopicName  string `yaml:"topicName"`
				Partitions int    `yaml:"partitions"`
			} `yaml:"spec"`
		}
		d.decode(t, &tp)
		if tp.Spec.TopicName == configValue(t, docs, "EQLSTREAM_INPUT_TOPIC") {
			inputParts = tp.Spec.Partitions
		}
	}
	if inputParts == 0 || full.Spec.Replicas < 2 {
		t.Fatalf("input partitions %d, replicas %d", inputParts, full.Spec.Replicas)
	}
	// while one pod is down (the PodDisruptionBudget allows one) the others
	// own all partitions
	perInstance := (inputParts + full.Spec.Replicas - 2) / (full.Spec.Replicas - 1)
	need := float64(measuredBaseline) + float64(perInstance)*float64(maxStates)*measuredBytesPerState
	t.Logf("limit %s, GOMEMLIMIT %.0f MiB (%.1f%%), %d partitions x %d states x %d B + %d MiB = %.0f MiB",
		limitQ, gomemlimit/(1<<20), 100*ratio, perInstance, maxStates, measuredBytesPerState, measuredBaseline>>20, need/(1<<20))
	if need > gomemlimit {
		t.Errorf("%d partitions x %d states x %d B + baseline = %.0f MiB does not fit GOMEMLIMIT %.0f MiB: raise the limit or lower EQLSTREAM_MAX_STATES",
			perInstance, maxStates, measuredBytesPerState, need/(1<<20), gomemlimit/(1<<20))
	}

	// the alert rule and the dashboard assume the same bound
	bound := strconv.Itoa(maxStates)
	for expr, where := range ruleExprs(t) {
		if strings.Contains(expr, "eqlstream_live_sequence_states") && !strings.Contains(expr, "("+bound+" *") {
			t.Errorf("%s does not use --max-states %s: %s", where, bound, expr)
		}
	}
	for _, v := range readDashboard(t).Templating.List {
		if v.Name == "max_states" && v.Query != bound {
			t.Errorf("dashboard variable max_states = %v, want %s", v.Query, bound)
		}
	}
}

func pow10(n int) float64 {
	f := 1.0
	for range n {
		f *= 10
	}
	return f
}

func configValue(t *testing.T, docs []*manifest, key string) string {
	t.Helper()
	for _, d := range findKind(t, docs, "ConfigMap") {
		var cm configMap
		d.decode(t, &cm)
		if v, ok := cm.Data[key]; ok {
			return v
		}
	}
	t.Fatalf("no ConfigMap key %s", key)
	return ""
}
