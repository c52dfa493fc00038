package deployments

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	metricsPort  = 9464
	rulesMount   = "/etc/eqlstream/rules"
	nonRootUser  = 65532
	instanceEnv  = "EQLSTREAM_INSTANCE_ID"
	processorPkg = "./cmd/processor"
)

// manifest is one YAML document with the fields every Kubernetes object has.
type manifest struct {
	file string
	node yaml.Node

	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

// decode fills v from the document's YAML.
func (m *manifest) decode(t *testing.T, v any) {
	t.Helper()
	if err := m.node.Decode(v); err != nil {
		t.Fatalf("%s: decode %s %q: %v", m.file, m.Kind, m.Metadata.Name, err)
	}
}

// readYAML decodes every document of a (possibly multi-document) YAML file.
func readYAML(t *testing.T, path string) []*manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*manifest
	for {
		m := &manifest{file: path}
		err := dec.Decode(&m.node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		if err := m.node.Decode(m); err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		docs = append(docs, m)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML documents", path)
	}
	return docs
}

// yamlFiles lists every .yaml/.yml file under dir, sorted.
func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// k8sManifests returns every document under k8s/, optional/ included.
func k8sManifests(t *testing.T) []*manifest {
	t.Helper()
	var all []*manifest
	for _, f := range yamlFiles(t, "k8s") {
		all = append(all, readYAML(t, f)...)
	}
	return all
}

func findKind(t *testing.T, docs []*manifest, kind string) []*manifest {
	t.Helper()
	var out []*manifest
	for _, d := range docs {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s in the manifests", kind)
	}
	return out
}

func TestAllYAMLParses(t *testing.T) {
	files := yamlFiles(t, ".")
	if len(files) < 5 {
		t.Fatalf("found only %d YAML files: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			for i, d := range readYAML(t, f) {
				if d.node.Kind == 0 {
					t.Errorf("document %d is empty", i+1)
				}
				if !strings.HasPrefix(f, "k8s"+string(filepath.Separator)) {
					continue
				}
				if d.APIVersion == "" || d.Kind == "" {
					t.Errorf("document %d has no apiVersion or kind", i+1)
				}
				if d.Kind != "Kustomization" && d.Metadata.Name == "" {
					t.Errorf("document %d (%s) has no metadata.name", i+1, d.Kind)
				}
			}
		})
	}
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
		ConfigMapKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"configMapKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string    `yaml:"path"`
		Port yaml.Node `yaml:"port"`
	} `yaml:"httpGet"`
}

type securityContext struct {
	RunAsNonRoot *bool `yaml:"runAsNonRoot"`
	RunAsUser    *int  `yaml:"runAsUser"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []envVar `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe   *probe           `yaml:"livenessProbe"`
	ReadinessProbe  *probe           `yaml:"readinessProbe"`
	SecurityContext *securityContext `yaml:"securityContext"`
	VolumeMounts    []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type statefulSet struct {
	Spec struct {
		ServiceName string `yaml:"serviceName"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext *securityContext `yaml:"securityContext"`
				Containers      []container      `yaml:"containers"`
				Volumes         []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type configMap struct {
	Data map[string]string `yaml:"data"`
}

func processorStatefulSet(t *testing.T, docs []*manifest) (*manifest, statefulSet, container) {
	t.Helper()
	sets := findKind(t, docs, "StatefulSet")
	if len(sets) != 1 {
		t.Fatalf("want 1 StatefulSet, got %d", len(sets))
	}
	var ss statefulSet
	sets[0].decode(t, &ss)
	cs := ss.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want 1 container, got %d", len(cs))
	}
	return sets[0], ss, cs[0]
}

// portNumber resolves a probe port (a number or a container port name).
func portNumber(t *testing.T, c container, port yaml.Node) int {
	t.Helper()
	var n int
	if err := port.Decode(&n); err == nil {
		return n
	}
	for _, p := range c.Ports {
		if p.Name == port.Value {
			return p.ContainerPort
		}
	}
	t.Fatalf("probe port %q is not a container port", port.Value)
	return 0
}

func TestStatefulSetProbes(t *testing.T) {
	_, _, c := processorStatefulSet(t, k8sManifests(t))
	for _, tc := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
	} {
		if tc.probe == nil || tc.probe.HTTPGet == nil {
			t.Errorf("%s: no httpGet probe", tc.name)
			continue
		}
		if tc.probe.HTTPGet.Path != tc.path {
			t.Errorf("%s path = %q, want %q", tc.name, tc.probe.HTTPGet.Path, tc.path)
		}
		if got := portNumber(t, c, tc.probe.HTTPGet.Port); got != metricsPort {
			t.Errorf("%s port = %d, want %d", tc.name, got, metricsPort)
		}
	}
}

func TestStatefulSetRunsAsNonRoot(t *testing.T) {
	_, ss, c := processorStatefulSet(t, k8sManifests(t))
	for name, sc := range map[string]*securityContext{
		"pod":       ss.Spec.Template.Spec.SecurityContext,
		"container": c.SecurityContext,
	} {
		if sc == nil {
			t.Errorf("%s: no securityContext", name)
			continue
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot is not true", name)
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != nonRootUser {
			t.Errorf("%s: runAsUser must be %d, the image's user", name, nonRootUser)
		}
	}
}

func TestStatefulSetEnvAndArgs(t *testing.T) {
	docs := k8sManifests(t)
	sm, ss, c := processorStatefulSet(t, docs)

	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args = %q, want them to start with run", c.Args)
	}
	if i := slices.Index(c.Args, "--rules"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != rulesMount {
		t.Errorf("args = %q, want --rules %s", c.Args, rulesMount)
	}

	env := map[string]envVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	id, ok := env[instanceEnv]
	switch {
	case !ok:
		t.Errorf("no %s env var", instanceEnv)
	case id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.name":
		t.Errorf("%s must come from fieldRef metadata.name", instanceEnv)
	}
	if _, ok := env["EQLSTREAM_BROKERS"]; !ok {
		t.Error("no EQLSTREAM_BROKERS env var")
	}

	// Every configMapKeyRef names a ConfigMap and key that exist.
	cms := map[string]configMap{}
	for _, d := range findKind(t, docs, "ConfigMap") {
		var cm configMap
		d.decode(t, &cm)
		cms[d.Metadata.Name] = cm
	}
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, "EQLSTREAM_") && !goRuntimeEnv[e.Name] {
			t.Errorf("env %s: want the EQLSTREAM_ prefix", e.Name)
		}
		if e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.ConfigMapKeyRef
		cm, ok := cms[ref.Name]
		if !ok {
			t.Errorf("env %s: no ConfigMap %q", e.Name, ref.Name)
			continue
		}
		if _, ok := cm.Data[ref.Key]; !ok {
			t.Errorf("env %s: ConfigMap %q has no key %q", e.Name, ref.Name, ref.Key)
		}
	}
	if addr := cms["eqlstream-config"].Data["EQLSTREAM_METRICS_ADDR"]; addr != ":9464" {
		t.Errorf("EQLSTREAM_METRICS_ADDR = %q, want :9464", addr)
	}

	// The rules are a ConfigMap mounted at rulesMount.
	var rulesVolume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == rulesMount {
			rulesVolume = m.Name
		}
	}
	if rulesVolume == "" {
		t.Fatalf("nothing mounted at %s", rulesMount)
	}
	found := false
	for _, v := range ss.Spec.Template.Spec.Volumes {
		if v.Name != rulesVolume {
			continue
		}
		found = true
		if v.ConfigMap == nil {
			t.Errorf("volume %s is not a ConfigMap", v.Name)
		} else if cm, ok := cms[v.ConfigMap.Name]; !ok || len(cm.Data) == 0 {
			t.Errorf("volume %s: ConfigMap %q is missing or empty", v.Name, v.ConfigMap.Name)
		}
	}
	if !found {
		t.Errorf("no volume %q", rulesVolume)
	}

	// Labels: the selector matches the pod template.
	for k, v := range ss.Spec.Selector.MatchLabels {
		if ss.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("%s: selector %s=%s does not match the pod labels", sm.Metadata.Name, k, v)
		}
	}
}

type servicePort struct {
	Name string `yaml:"name"`
	Port int    `yaml:"port"`
}

func TestServiceSelectsProcessor(t *testing.T) {
	docs := k8sManifests(t)
	sm, ss, _ := processorStatefulSet(t, docs)
	var svc struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []servicePort     `yaml:"ports"`
		} `yaml:"spec"`
	}
	var found bool
	for _, d := range findKind(t, docs, "Service") {
		if d.Metadata.Name == ss.Spec.ServiceName {
			found = true
			d.decode(t, &svc)
		}
	}
	if !found {
		t.Fatalf("StatefulSet %s: no Service %q", sm.Metadata.Name, ss.Spec.ServiceName)
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("service has no selector")
	}
	for k, v := range svc.Spec.Selector {
		if ss.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("service selector %s=%s does not match the pod labels", k, v)
		}
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p servicePort) bool { return p.Port == metricsPort }) {
		t.Errorf("service does not expose port %d", metricsPort)
	}
}

func TestKEDAScaledObject(t *testing.T) {
	docs := k8sManifests(t)
	sm, _, _ := processorStatefulSet(t, docs)
	var so struct {
		Spec struct {
			ScaleTargetRef struct {
				Kind string `yaml:"kind"`
				Name string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			Triggers []struct {
				Type     string            `yaml:"type"`
				Metadata map[string]string `yaml:"metadata"`
			} `yaml:"triggers"`
		} `yaml:"spec"`
	}
	objs := findKind(t, docs, "ScaledObject")
	if !strings.Contains(filepath.ToSlash(objs[0].file), "k8s/optional/") {
		t.Errorf("ScaledObject is in %s, want it under k8s/optional/", objs[0].file)
	}
	objs[0].decode(t, &so)
	if so.Spec.ScaleTargetRef.Kind != "StatefulSet" || so.Spec.ScaleTargetRef.Name != sm.Metadata.Name {
		t.Errorf("scaleTargetRef = %+v, want StatefulSet %s", so.Spec.ScaleTargetRef, sm.Metadata.Name)
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("want one kafka trigger, got %+v", so.Spec.Triggers)
	}
	for _, k := range []string{"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} {
		if so.Spec.Triggers[0].Metadata[k] == "" {
			t.Errorf("kafka trigger has no %s", k)
		}
	}
}

func TestKustomizationListsManifests(t *testing.T) {
	var k struct {
		Resources []string `yaml:"resources"`
	}
	docs := readYAML(t, filepath.Join("k8s", "kustomization.yaml"))
	docs[0].decode(t, &k)
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
		}
	}
	for _, want := range []string{"statefulset.yaml", "service.yaml", "configmap.yaml"} {
		if !slices.Contains(k.Resources, want) {
			t.Errorf("kustomization does not list %s", want)
		}
	}
}

func TestComposeServices(t *testing.T) {
	var compose struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build *struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
				Target     string `yaml:"target"`
			} `yaml:"build"`
			Command   []string       `yaml:"command"`
			DependsOn map[string]any `yaml:"depends_on"`
		} `yaml:"services"`
	}
	docs := readYAML(t, "docker-compose.yml")
	docs[0].decode(t, &compose)
	for _, name := range []string{"kafka", "processor", "generator"} {
		if _, ok := compose.Services[name]; !ok {
			t.Errorf("no %s service", name)
		}
	}
	if img := compose.Services["kafka"].Image; !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image = %q, want apache/kafka", img)
	}

	p := compose.Services["processor"]
	if p.Build == nil || p.Build.Dockerfile != "deployments/Dockerfile" {
		t.Errorf("processor must build deployments/Dockerfile, got %+v", p.Build)
	}
	if len(p.Command) == 0 || p.Command[0] != "run" {
		t.Errorf("processor command = %q, want run ...", p.Command)
	}
	if i := slices.Index(p.Command, "--brokers"); i < 0 || i+1 >= len(p.Command) || p.Command[i+1] != "kafka:9092" {
		t.Errorf("processor command = %q, want --brokers kafka:9092", p.Command)
	}
	if !slices.Contains(p.Command, "--create-topics") {
		t.Errorf("processor command = %q, want --create-topics", p.Command)
	}
	if _, ok := p.DependsOn["kafka"]; !ok {
		t.Error("processor does not depend on kafka")
	}

	g := compose.Services["generator"]
	script := strings.Join(g.Command, " ")
	if !strings.Contains(script, "processor gen") || !strings.Contains(script, "| processor produce") {
		t.Errorf("generator command = %q, want processor gen | processor produce", script)
	}

	// Build targets named in compose exist in the Dockerfile.
	stages := dockerStages(t)
	for name, s := range compose.Services {
		if s.Build != nil && s.Build.Target != "" && !slices.ContainsFunc(stages, func(st stage) bool { return st.name == s.Build.Target }) {
			t.Errorf("service %s: Dockerfile has no stage %q", name, s.Build.Target)
		}
	}
}

// stage is one FROM ... block of the Dockerfile, with continuation lines joined.
type stage struct {
	from, name string
	lines      []string
}

func dockerStages(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cont string
	args := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		fields := strings.Fields(line)
		// Global ARGs (before the first FROM) are the images' defaults: a
		// FROM ${BASE} stage is checked with BASE's default.
		if strings.EqualFold(fields[0], "ARG") && len(stages) == 0 && len(fields) > 1 {
			if k, v, ok := strings.Cut(fields[1], "="); ok {
				args[k] = os.Expand(v, func(name string) string { return args[name] })
			}
			continue
		}
		if strings.EqualFold(fields[0], "FROM") {
			s := stage{from: os.Expand(fields[1], func(name string) string { return args[name] })}
			if len(fields) >= 4 && strings.EqualFold(fields[2], "AS") {
				s.name = fields[3]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(stages))
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := dockerStages(t)

	var built bool
	for _, s := range stages {
		for _, l := range s.lines {
			if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") &&
				strings.Contains(l, processorPkg) && strings.Contains(l, "CGO_ENABLED=0") {
				built = true
			}
		}
	}
	if !built {
		t.Errorf("no RUN CGO_ENABLED=0 go build ... %s", processorPkg)
	}

	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") && final.from != "scratch" {
		t.Errorf("final stage is FROM %s, want distroless/static or scratch", final.from)
	}
	// Every stage that ships the binary runs as a non-root user.
	for _, s := range stages[1:] {
		var user string
		for _, l := range s.lines {
			if f := strings.Fields(l); strings.EqualFold(f[0], "USER") && len(f) > 1 {
				user = f[1]
			}
		}
		uid, _, _ := strings.Cut(user, ":")
		if uid == "" || uid == "0" || uid == "root" {
			t.Errorf("stage %s (FROM %s): USER %q, want non-root", s.name, s.from, user)
		}
	}
}

func TestShellScriptsParse(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	for _, script := range []string{
		filepath.Join("kafka", "kafka-local.sh"),
		filepath.Join("..", ".ci", "run"),
		filepath.Join("..", ".ci", "containers.sh"),
		filepath.Join("kafka", "image", "entrypoint.sh"),
	} {
		t.Run(filepath.Base(script), func(t *testing.T) {
			fi, err := os.Stat(script)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o111 == 0 {
				t.Errorf("%s is not executable", script)
			}
			out, err := exec.Command(bash, "-n", script).CombinedOutput()
			if err != nil {
				t.Errorf("bash -n %s: %v\n%s", script, err, out)
			}
		})
	}
}
