package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one `processor run` subprocess. Its stdout and stderr go to a log
// file under the test's temporary directory; the last lines are printed when
// the test fails. A goroutine owned by the proc waits for the process and
// closes done; exitCode is written before done is closed and read only
// after, so the test never races with it.
type proc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	done    chan struct{}

	exitCode int // -1 when killed by a signal; valid once done is closed
	waitErr  error
}

// runArgs is the processor command line for n with an instance id.
// EQLSTREAM_IT_RUN_ARGS adds flags to every processor (space separated), e.g.
// "--unsafe-test-mode=at-least-once" to see the checks catch a broken mode.
func (e *env) runArgs(n names, instance string, extra ...string) []string {
	args := []string{"run",
		"--brokers", e.brokerList(),
		"--input-topic", n.Input, "--alerts-topic", n.Alerts, "--dlq-topic", n.DLQ,
		"--group", n.Group, "--instance-id", instance,
		"--create-topics", "--partitions", strconv.Itoa(partitions),
		"--replication-factor", strconv.Itoa(int(e.rf)),
		"--metrics-addr", "127.0.0.1:0",
	}
	args = append(args, extra...)
	return append(args, strings.Fields(os.Getenv("EQLSTREAM_IT_RUN_ARGS"))...)
}

// startProcessor starts `processor run` with args. When the test ends the
// process is killed if it still runs, and its log tail is printed if the
// test failed. Logs are written under the test's temporary directory, or
// under $EQLSTREAM_IT_LOG_DIR/<test> (kept) when that is set.
func (e *env) startProcessor(name string, args ...string) *proc {
	e.t.Helper()
	return e.startProcessorBin(processorBin, name, args...)
}

// startProcessorBin is startProcessor with another processor binary (a
// benchmark's baseline build).
func (e *env) startProcessorBin(bin, name string, args ...string) *proc {
	e.t.Helper()
	dir := e.t.TempDir()
	if keep := os.Getenv("EQLSTREAM_IT_LOG_DIR"); keep != "" {
		dir = filepath.Join(keep, unsafeName.ReplaceAllString(e.t.Name(), "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	p := &proc{t: e.t, name: name, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	setDeathSignal(p.cmd)
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		e.t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		err := p.cmd.Wait()
		f.Close()
		p.waitErr = err
		p.exitCode = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	e.t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if log := p.log(); strings.Contains(log, "WARNING: DATA RACE") || strings.Contains(log, "\npanic: ") {
			e.t.Errorf("%s reported a data race or panicked; see %s", p.name, p.logPath)
		}
		if e.t.Failed() {
			e.t.Logf("--- %s (%s, exit %d): last lines of %s\n%s", p.name, strings.Join(args[:1], " "), p.exitCode, p.logPath, tail(p.logPath, 40))
		}
	})
	e.t.Logf("%s: started pid %d, log %s", name, p.cmd.Process.Pid, p.logPath)
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// terminate sends SIGTERM and waits up to timeout for the process to exit;
// it returns the exit code and how long the exit took. A process still
// running after timeout is killed and the test fails.
func (p *proc) terminate(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.exited() {
		p.t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case <-p.done:
		return p.exitCode, time.Since(start)
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("%s did not exit within %s of SIGTERM (killed it)", p.name, timeout)
		return -1, time.Since(start)
	}
}

// kill9 sends SIGKILL and waits for the process to be gone.
func (p *proc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !p.exited() {
		p.t.Fatalf("%s: SIGKILL: %v", p.name, err)
	}
	<-p.done
}

// requireRunning fails the test if the process has exited.
func (p *proc) requireRunning() {
	p.t.Helper()
	if p.exited() {
		p.t.Fatalf("%s exited unexpectedly with code %d (%v); last lines:\n%s", p.name, p.exitCode, p.waitErr, tail(p.logPath, 40))
	}
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

var metricsAddrRe = regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)

// metricsAddr waits for the "metrics listening" log line and returns its
// address.
func (p *proc) metricsAddr(timeout time.Duration) string {
	p.t.Helper()
	var addr string
	waitFor(p.t, timeout, p.name+` to log "metrics listening"`, func() bool {
		if m := metricsAddrRe.FindStringSubmatch(p.log()); m != nil {
			addr = m[1]
			return true
		}
		p.requireRunning()
		return false
	})
	return addr
}

// scrape returns the text exposition of the processor's /metrics.
func (p *proc) scrape(addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return string(b), nil
}

var (
	assignedRe = regexp.MustCompile(`msg="partition assigned, state restored" topic=\S+ partition=(\d+) next_offset=(\d+) live_states=(\d+)`)
	droppedRe  = regexp.MustCompile(`msg="partition (revoked|lost)" topic=\S+ partition=(\d+)`)
)

// restore is one "partition assigned, state restored" log line.
type restore struct {
	Partition  int32
	NextOffset int64
	LiveStates int
}

// restores returns the partitions the process restored, in log order.
func (p *proc) restores() []restore {
	var out []restore
	for _, m := range assignedRe.FindAllStringSubmatch(p.log(), -1) {
		part, _ := strconv.Atoi(m[1])
		next, _ := strconv.ParseInt(m[2], 10, 64)
		live, _ := strconv.Atoi(m[3])
		out = append(out, restore{Partition: int32(part), NextOffset: next, LiveStates: live})
	}
	return out
}

// owned returns the partitions the process owns according to its log:
// restored and not revoked or lost since.
func (p *proc) owned() map[int32]bool {
	out := map[int32]bool{}
	for _, line := range strings.Split(p.log(), "\n") {
		if m := assignedRe.FindStringSubmatch(line); m != nil {
			part, _ := strconv.Atoi(m[1])
			out[int32(part)] = true
		} else if m := droppedRe.FindStringSubmatch(line); m != nil {
			part, _ := strconv.Atoi(m[2])
			delete(out, int32(part))
		}
	}
	return out
}

func describe(ps []*proc) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n--- %s exited with code %d (%v); last lines:\n%s", p.name, p.exitCode, p.waitErr, tail(p.logPath, 25))
	}
	return b.String()
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// runTool runs a processor subcommand that must succeed and returns its
// stdout.
func runTool(t testing.TB, timeout time.Duration, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, processorBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("processor %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// execTool runs a processor subcommand and returns its combined output; for
// goroutines that must not call t.Fatal.
func execTool(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, processorBin, args...).CombinedOutput()
}
