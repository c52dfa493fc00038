package readme

// Markers (an HTML comment on the line before a fenced block):
//
//	<!-- test: run -->         run this sh block (bash -eo pipefail), from the
//	                           repository root, stdout and stderr together
//	<!-- test: run kafka -->   the same, only where a Kafka broker can be had
//	                           (the block starts it with kafka-local.sh, which
//	                           the test points at its own ports and state)
//	<!-- test: background -->  start this block and leave it running; it is
//	                           stopped (SIGTERM to its process group) when the
//	                           test ends, and its output is checked like others
//	<!-- test: output -->      the output the previous run block must print
//
// Output matching: line by line after trimming trailing spaces; "…" inside a
// line matches any text; a line that is exactly "..." matches any number of
// lines (including none). Anything else must be equal, so counts and alert
// IDs shown in the README are checked.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

type block struct {
	line   int    // line of the opening fence
	mode   string // run, run kafka, background, output
	text   string
	expect *block // the output block that follows a run block
}

var markerRE = regexp.MustCompile(`^<!-- test: ([a-z ]+) -->$`)

func parse(t *testing.T, path string) []*block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*block
	var pending string
	var cur *block
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if cur != nil {
			if strings.HasPrefix(l, "```") {
				if cur.mode == "output" {
					if len(out) == 0 || out[len(out)-1].mode == "output" {
						t.Fatalf("README.md:%d: an output block must follow a run block", cur.line)
					}
					out[len(out)-1].expect = cur
				} else {
					out = append(out, cur)
				}
				cur = nil
				continue
			}
			cur.text += l + "\n"
			continue
		}
		if m := markerRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			switch m[1] {
			case "run", "run kafka", "background", "output":
			default:
				t.Fatalf("README.md:%d: unknown marker %q", n, m[1])
			}
			pending = m[1]
			continue
		}
		if strings.HasPrefix(l, "```") {
			if pending != "" {
				cur = &block{line: n, mode: pending}
				pending = ""
			}
			continue
		}
		if pending != "" && strings.TrimSpace(l) != "" {
			t.Fatalf("README.md:%d: a test marker must be followed by a fenced block", n)
		}
	}
	return out
}

// match reports whether got matches the expected output want.
func match(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for i := 0; i <= len(got); i++ {
			if match(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 || !lineMatch(want[0], got[0]) {
		return false
	}
	return match(want[1:], got[1:])
}

func lineMatch(want, got string) bool {
	if !strings.Contains(want, "…") {
		return want == got
	}
	parts := strings.Split(want, "…")
	var re strings.Builder
	re.WriteString("^")
	for i, p := range parts {
		if i > 0 {
			re.WriteString(".*?")
		}
		re.WriteString(regexp.QuoteMeta(p))
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(got)
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.TrimRight(l, " \t"))
	}
	return out
}

func TestMatch(t *testing.T) {
	cases := []struct {
		want, got string
		ok        bool
	}{
		{"a\nb", "a\nb", true},
		{"a\nb", "a\nc", false},
		{"x … y", "x 12 ms y", true},
		{"x … y", "x 12 ms z", false},
		{"a\n...\nz", "a\nb\nc\nz", true},
		{"a\n...\nz", "a\nz", true},
		{"a\n...\nz", "a\nb", false},
		{"eval: 3 alerts in …s", "eval: 4 alerts in 1s", false},
	}
	for _, c := range cases {
		if got := match(lines(c.want), lines(c.got)); got != c.ok {
			t.Errorf("match(%q, %q) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}

func TestReadme(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := parse(t, filepath.Join(root, "README.md"))
	if len(blocks) == 0 {
		t.Fatal("README.md has no blocks marked <!-- test: run -->")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "processor"), "./cmd/processor")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	work := t.TempDir()
	// Blocks run in the repository root (go run ./cmd/processor needs it);
	// files they create there are removed afterwards.
	before := untracked(t, root)
	defer func() {
		for f := range untracked(t, root) {
			if !before[f] {
				os.RemoveAll(filepath.Join(root, f))
			}
		}
	}()
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GOFLAGS=" + os.Getenv("GOFLAGS"), "GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"),
		"GOPATH=" + goEnv(t, "GOPATH"), "TMPDIR=" + work, "LANG=C.UTF-8",
		// processors the blocks start serve /metrics on a free port: other
		// test packages run processors at the same time (go test ./...)
		"EQLSTREAM_METRICS_ADDR=127.0.0.1:0",
		// the README's Kafka cluster gets its own state and ports, so it
		// never touches another cluster on this machine
		"EQLSTREAM_KAFKA_STATE=" + filepath.Join(work, "kafka"), "EQLSTREAM_KAFKA_BROKER_PORT=" + port(t, "README_KAFKA_PORT", 38092),
		"EQLSTREAM_KAFKA_CONTROLLER_PORT=" + port(t, "README_KAFKA_CONTROLLER_PORT", 38093)}
	if h := os.Getenv("EQLSTREAM_KAFKA_HOME"); h != "" {
		env = append(env, "EQLSTREAM_KAFKA_HOME="+h)
	}
	kafkaOK := os.Getenv("CI") == "true" || haveKafkaTools()
	var bg []*exec.Cmd
	var bgOut []*bytes.Buffer
	defer func() {
		for _, c := range bg {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		}
		for _, c := range bg {
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			}
		}
		down := exec.Command(filepath.Join(root, "deployments/kafka/kafka-local.sh"), "down")
		down.Env = env
		_ = down.Run()
	}()
	for _, b := range blocks {
		if b.mode == "run kafka" && !kafkaOK {
			t.Logf("README.md:%d: skipped: needs java and mvn for kafka-local.sh", b.line)
			continue
		}
		if b.mode == "background" {
			var out bytes.Buffer
			c := exec.Command("bash", "-eo", "pipefail", "-c", b.text)
			c.Dir, c.Env, c.Stdout, c.Stderr = root, env, &out, &out
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := c.Start(); err != nil {
				t.Fatalf("README.md:%d: %v", b.line, err)
			}
			bg, bgOut = append(bg, c), append(bgOut, &out)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		c := exec.CommandContext(ctx, "bash", "-eo", "pipefail", "-c", b.text)
		c.Dir, c.Env = root, env
		start := time.Now()
		out, err := c.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README.md:%d: the block failed (%v) after %s:\n%s\noutput:\n%s", b.line, err, time.Since(start).Round(time.Millisecond), b.text, out)
		}
		t.Logf("README.md:%d: ran in %s", b.line, time.Since(start).Round(time.Millisecond))
		if b.expect != nil && !match(lines(b.expect.text), lines(string(out))) {
			t.Errorf("README.md:%d: the output shown at README.md:%d is not what the block prints.\nshown:\n%s\nprinted:\n%s",
				b.line, b.expect.line, b.expect.text, out)
		}
	}
	_ = bgOut
}

// untracked lists the files git does not track or ignore below root.
func untracked(t *testing.T, root string) map[string]bool {
	c := exec.Command("git", "ls-files", "--others", "--exclude-standard")
	c.Dir = root
	out, err := c.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	m := map[string]bool{}
	for _, f := range strings.Fields(string(out)) {
		m[f] = true
	}
	return m
}

func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func port(t *testing.T, env string, def int) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return fmt.Sprint(def)
}

func haveKafkaTools() bool {
	_, errJ := exec.LookPath("java")
	_, errM := exec.LookPath("mvn")
	return errJ == nil && errM == nil
}
