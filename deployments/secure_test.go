package deployments

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The secured deployments: every flag and EQLSTREAM_ variable the manifests
// set must exist in the processor's flag set (read from `processor <cmd> -h`
// of the binary built from this tree), secrets must reach the processor as
// files from mounted Secrets/volumes, and no password may be set as a flag or
// an environment variable.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	flagsMu   sync.Mutex
	flagCache = map[string]map[string]bool{}
	flagHelp  = map[string]string{}
)

var flagLineRe = regexp.MustCompile(`(?m)^\s+-([a-z0-9][a-z0-9-]*)`)

// processorFlags returns the flag names of `processor cmd` and its -h text.
func processorFlags(t *testing.T, cmd string) (map[string]bool, string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eqlstream-deployments-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "processor")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/processor").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building the processor: %v", buildErr)
	}
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagCache[cmd]; ok {
		return f, flagHelp[cmd]
	}
	out, _ := exec.Command(binPath, cmd, "-h").CombinedOutput() // -h exits 0 or 2
	flags := map[string]bool{}
	for _, m := range flagLineRe.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) < 3 {
		t.Fatalf("processor %s -h lists %d flags:\n%s", cmd, len(flags), out)
	}
	flagCache[cmd], flagHelp[cmd] = flags, string(out)
	return flags, string(out)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// envFlag is the flag an EQLSTREAM_ variable sets (cmd/processor envDefaults).
func envFlag(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "EQLSTREAM_")), "_", "-")
}

// checkArgs fails for every --flag in args that `processor cmd` lacks and
// for a password given as a flag.
func checkArgs(t *testing.T, where, cmd string, args []string) {
	t.Helper()
	flags, _ := processorFlags(t, cmd)
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			t.Errorf("%s: processor %s has no flag --%s", where, cmd, name)
		}
		if name == "sasl-password" {
			t.Errorf("%s: --sasl-password on the command line (visible in ps); use --sasl-password-file", where)
		}
	}
}

// checkEnv fails for every EQLSTREAM_ variable that is no flag of `processor
// cmd` (and not named in its help as a default) and for a password variable.
func checkEnv(t *testing.T, where, cmd string, names []string) {
	t.Helper()
	flags, help := processorFlags(t, cmd)
	for _, n := range names {
		if !strings.HasPrefix(n, "EQLSTREAM_") {
			continue
		}
		if !flags[envFlag(n)] && !strings.Contains(help, n) {
			t.Errorf("%s: %s sets --%s, which processor %s does not have", where, n, envFlag(n), cmd)
		}
		if n == "EQLSTREAM_SASL_PASSWORD" {
			t.Errorf("%s: the password as an environment variable; mount it and use EQLSTREAM_SASL_PASSWORD_FILE", where)
		}
	}
}

type secretVolume struct {
	SecretName string `yaml:"secretName"`
	Items      []struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	} `yaml:"items"`
}

type secureStatefulSet struct {
	Spec struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
					Env  []struct {
						Name      string `yaml:"name"`
						Value     string `yaml:"value"`
						ValueFrom *struct {
							SecretKeyRef *struct {
								Name string `yaml:"name"`
								Key  string `yaml:"key"`
							} `yaml:"secretKeyRef"`
						} `yaml:"valueFrom"`
					} `yaml:"env"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name   string        `yaml:"name"`
					Secret *secretVolume `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// exampleSecrets returns the keys of every Secret in the k8s manifests.
func exampleSecrets(t *testing.T, docs []*manifest) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	for _, d := range findKind(t, docs, "Secret") {
		var s struct {
			Data       map[string]string `yaml:"data"`
			StringData map[string]string `yaml:"stringData"`
		}
		d.decode(t, &s)
		keys := map[string]bool{}
		for k := range s.Data {
			keys[k] = true
		}
		for k := range s.StringData {
			keys[k] = true
		}
		out[d.Metadata.Name] = keys
	}
	return out
}

func TestStatefulSetFlagsAndSecrets(t *testing.T) {
	docs := k8sManifests(t)
	sm, _, _ := processorStatefulSet(t, docs)
	var ss secureStatefulSet
	sm.decode(t, &ss)
	c := ss.Spec.Template.Spec.Containers[0]
	checkArgs(t, "statefulset args", "run", c.Args)

	var names []string
	env := map[string]string{}
	for _, e := range c.Env {
		names = append(names, e.Name)
		env[e.Name] = e.Value
	}
	var cm configMap
	for _, d := range findKind(t, docs, "ConfigMap") {
		if d.Metadata.Name == "eqlstream-config" {
			d.decode(t, &cm)
		}
	}
	for k := range cm.Data {
		names = append(names, k)
	}
	checkEnv(t, "statefulset env and eqlstream-config", "run", names)

	secrets := exampleSecrets(t, docs)
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if !secrets[ref.Name][ref.Key] {
			t.Errorf("env %s: no Secret %q with key %q (kafka-secrets.example.yaml)", e.Name, ref.Name, ref.Key)
		}
	}

	// The secured connection: TLS with a CA file, SASL with a password file.
	for _, n := range []string{"EQLSTREAM_TLS_CA", "EQLSTREAM_SASL_PASSWORD_FILE"} {
		file := env[n]
		if file == "" {
			t.Errorf("%s is not set to a file", n)
			continue
		}
		// the file lies in a mounted Secret that has its key
		var vol string
		for _, m := range c.VolumeMounts {
			if path.Dir(file) == m.MountPath {
				vol = m.Name
			}
		}
		if vol == "" {
			t.Errorf("%s=%s: its directory is not a volume mount", n, file)
			continue
		}
		for _, v := range ss.Spec.Template.Spec.Volumes {
			if v.Name != vol {
				continue
			}
			if v.Secret == nil {
				t.Errorf("%s=%s: volume %s is not a Secret", n, file, vol)
				continue
			}
			key := path.Base(file)
			for _, it := range v.Secret.Items {
				if it.Path == key {
					key = it.Key
				}
			}
			if !secrets[v.Secret.SecretName][key] {
				t.Errorf("%s=%s: Secret %q (volume %s) has no key %q", n, file, v.Secret.SecretName, vol, key)
			}
		}
	}
	if cm.Data["EQLSTREAM_TLS"] != "true" || cm.Data["EQLSTREAM_SASL_MECHANISM"] == "" {
		t.Errorf("eqlstream-config: EQLSTREAM_TLS=%q EQLSTREAM_SASL_MECHANISM=%q, want TLS on and a mechanism", cm.Data["EQLSTREAM_TLS"], cm.Data["EQLSTREAM_SASL_MECHANISM"])
	}

	// The example Secrets are not applied by kustomize (they hold placeholders).
	var k struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, filepath.Join("k8s", "kustomization.yaml"))[0].decode(t, &k)
	for _, r := range k.Resources {
		if strings.Contains(r, "secret") {
			t.Errorf("kustomization lists %s: placeholder secrets would overwrite real ones", r)
		}
	}
}

// kedaAuthParams are the kafka scaler's TriggerAuthentication parameters.
var kedaAuthParams = []string{"sasl", "username", "password", "tls", "ca", "cert", "key", "keyPassword"}

func TestKEDATriggerAuthentication(t *testing.T) {
	docs := k8sManifests(t)
	var so struct {
		Spec struct {
			Triggers []struct {
				AuthenticationRef *struct {
					Name string `yaml:"name"`
				} `yaml:"authenticationRef"`
			} `yaml:"triggers"`
		} `yaml:"spec"`
	}
	findKind(t, docs, "ScaledObject")[0].decode(t, &so)
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].AuthenticationRef == nil {
		t.Fatal("the kafka trigger has no authenticationRef")
	}
	want := so.Spec.Triggers[0].AuthenticationRef.Name
	secrets := exampleSecrets(t, docs)
	var found bool
	for _, d := range findKind(t, docs, "TriggerAuthentication") {
		if d.Metadata.Name != want {
			continue
		}
		found = true
		var ta struct {
			Spec struct {
				SecretTargetRef []struct {
					Parameter string `yaml:"parameter"`
					Name      string `yaml:"name"`
					Key       string `yaml:"key"`
				} `yaml:"secretTargetRef"`
			} `yaml:"spec"`
		}
		d.decode(t, &ta)
		params := map[string]bool{}
		for _, r := range ta.Spec.SecretTargetRef {
			params[r.Parameter] = true
			if !slices.Contains(kedaAuthParams, r.Parameter) {
				t.Errorf("parameter %q is not one of the kafka scaler's %v", r.Parameter, kedaAuthParams)
			}
			if !secrets[r.Name][r.Key] {
				t.Errorf("parameter %s: no Secret %q with key %q", r.Parameter, r.Name, r.Key)
			}
		}
		for _, p := range []string{"sasl", "username", "password", "tls", "ca"} {
			if !params[p] {
				t.Errorf("TriggerAuthentication %s does not set %s", want, p)
			}
		}
	}
	if !found {
		t.Errorf("no TriggerAuthentication %q", want)
	}
}

type composeFile struct {
	Services map[string]struct {
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]any    `yaml:"depends_on"`
	} `yaml:"services"`
}

// TestComposeFlagsExist: both compose files set only flags and variables the
// processor has.
func TestComposeFlagsExist(t *testing.T) {
	for _, f := range []string{"docker-compose.yml", "docker-compose.secure.yml"} {
		var c composeFile
		readYAML(t, f)[0].decode(t, &c)
		p := c.Services["processor"]
		if len(p.Command) == 0 || p.Command[0] != "run" {
			t.Errorf("%s: processor command %q, want run ...", f, p.Command)
			continue
		}
		checkArgs(t, f+" processor", "run", p.Command[1:])
		var names []string
		for k := range p.Environment {
			names = append(names, k)
		}
		checkEnv(t, f+" processor", "run", names)
		names = names[:0]
		for k := range c.Services["generator"].Environment {
			names = append(names, k)
		}
		checkEnv(t, f+" generator", "produce", names)
	}
}

// TestComposeSecure: the secured compose file reads the processor's and the
// generator's secrets from files in their volumes, grants the processor what
// it needs, and mounts what `kafka-local.sh compose-secrets` writes.
func TestComposeSecure(t *testing.T) {
	var c composeFile
	readYAML(t, "docker-compose.secure.yml")[0].decode(t, &c)
	for _, s := range []string{"secrets", "kafka", "kafka-setup", "processor", "generator"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("no %s service", s)
		}
	}
	mounted := func(service, file string) bool {
		for _, v := range c.Services[service].Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && strings.HasPrefix(file, strings.TrimSuffix(parts[1], "/")+"/") {
				return true
			}
		}
		return false
	}
	p := c.Services["processor"]
	arg := func(name string) string {
		if i := slices.Index(p.Command, name); i >= 0 && i+1 < len(p.Command) {
			return p.Command[i+1]
		}
		return ""
	}
	for _, f := range []string{"--tls-ca", "--sasl-password-file"} {
		if v := arg(f); v == "" || !mounted("processor", v) {
			t.Errorf("processor %s %q: not a file in one of its volumes %v", f, v, p.Volumes)
		}
	}
	g := c.Services["generator"]
	for _, n := range []string{"EQLSTREAM_TLS_CA", "EQLSTREAM_SASL_PASSWORD_FILE"} {
		if v := g.Environment[n]; v == "" || !mounted("generator", v) {
			t.Errorf("generator %s=%q: not a file in one of its volumes %v", n, v, g.Volumes)
		}
	}

	// kafka-setup grants the processor's topics, group and transactional IDs.
	setup := strings.Join(c.Services["kafka-setup"].Command, " ")
	group := arg("--group")
	for _, want := range []string{
		"--topic " + arg("--input-topic"), "--topic " + arg("--alerts-topic"), "--topic " + arg("--dlq-topic"),
		"--topic " + group + "-state", "--group " + group,
		"--resource-pattern-type prefixed --transactional-id eqlstream-" + group + "-",
		"--allow-principal User:" + arg("--sasl-username"),
		"--allow-principal User:" + g.Environment["EQLSTREAM_SASL_USERNAME"],
	} {
		if !strings.Contains(setup, want) {
			t.Errorf("kafka-setup does not contain %q", want)
		}
	}

	// compose-secrets writes every file the services read.
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not found: cannot run kafka-local.sh compose-secrets")
	}
	dir := t.TempDir()
	out, err := exec.Command(filepath.Join("kafka", "kafka-local.sh"), "compose-secrets", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-local.sh compose-secrets: %v\n%s", err, out)
	}
	secrets := strings.Join(c.Services["secrets"].Command, " ")
	kafka := strings.Join(c.Services["kafka"].Command, " ")
	for _, f := range []string{"server.properties", "scram.args", "cluster.id", "admin.properties",
		"tls/ca.crt", "tls/server.p12", "users/processor.password", "users/producer.password"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("compose-secrets did not write %s: %v", f, err)
		}
	}
	for _, ref := range []string{"/in/tls/ca.crt", "/in/users/processor.password", "/in/users/producer.password"} {
		if !strings.Contains(secrets, ref) {
			t.Errorf("the secrets service does not copy %s", ref)
		}
	}
	for _, ref := range []string{"$$S/scram.args", "$$S/cluster.id", "$$S/server.properties"} {
		if !strings.Contains(kafka, ref) {
			t.Errorf("the kafka service does not read %s", ref)
		}
	}
	props, err := os.ReadFile(filepath.Join(dir, "server.properties"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"advertised.listeners=EXTERNAL://kafka:9093", "allow.everyone.if.no.acl.found=false",
		"ssl.keystore.location=/etc/kafka/secure/tls/server.p12", "super.users=User:admin"} {
		if !strings.Contains(string(props), want) {
			t.Errorf("server.properties has no %q", want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "users", "processor.password")); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("users/processor.password has mode %o, want 0600", fi.Mode().Perm())
	}
	cert, err := exec.Command("openssl", "x509", "-in", filepath.Join(dir, "tls", "server.crt"), "-noout", "-ext", "subjectAltName").CombinedOutput()
	if err != nil || !strings.Contains(string(cert), "DNS:kafka") {
		t.Errorf("the broker certificate is not valid for kafka: %v\n%s", err, cert)
	}
}

// TestSecureScriptParses: the sourced library of kafka-local.sh parses.
func TestSecureScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	if out, err := exec.Command(bash, "-n", filepath.Join("kafka", "kafka-local-secure.sh")).CombinedOutput(); err != nil {
		t.Errorf("bash -n kafka-local-secure.sh: %v\n%s", err, out)
	}
}
