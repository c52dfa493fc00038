package rulesets

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// configMap lays out dir as Kubernetes mounts a ConfigMap: the files in a
// hidden timestamped directory, "..data" a symlink to it, and each file a
// symlink through "..data". swap replaces the content the way the kubelet
// does: a new directory, a new symlink renamed over "..data".
type configMap struct {
	t   *testing.T
	dir string
	n   int
}

func (c *configMap) swap(files map[string][]byte) {
	c.t.Helper()
	c.n++
	ts := "..2026_12_08_00_00_0" + string(rune('0'+c.n))
	if err := os.Mkdir(filepath.Join(c.dir, ts), 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(c.dir, ts, name), b, 0o644); err != nil {
			c.t.Fatal(err)
		}
		link := filepath.Join(c.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	// then the kubelet removes the links of keys that are gone
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, e := range ents {
		if _, ok := files[e.Name()]; !ok && !strings.HasPrefix(e.Name(), "..") {
			if err := os.Remove(filepath.Join(c.dir, e.Name())); err != nil {
				c.t.Fatal(err)
			}
		}
	}
}

func waitRevision(t *testing.T, l *Live, not string, what string) *rules.RuleSet {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s := l.Current(); s.Revision != not {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still at revision %s", what, not)
	return nil
}

// TestFilesReload: a ConfigMap-style symlink swap reloads the rules; a
// swap to a broken rule keeps the running revision and counts a failure;
// SIGHUP reloads after an in-place edit.
func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	cm := &configMap{t: t, dir: dir}
	files := map[string][]byte{}
	for id, b := range rules.BuiltinFiles() {
		files[id+".toml"] = b
	}
	cm.swap(files)
	opts := engine.Options{}
	m := NewMetrics(nil)
	l := NewLive(slog.New(slog.DiscardHandler), m)
	set, errs := LoadFiles([]string{dir}, nil, nil, opts)
	if len(errs) != 0 || len(set.Program.Rules()) != 4 || !strings.HasPrefix(set.Revision, "files:") {
		t.Fatalf("initial load: %d rules, revision %q, %v", len(set.Program.Rules()), set.Revision, errs)
	}
	l.Offer(set, errs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &Files{Paths: []string{dir}, Live: l, Log: slog.New(slog.DiscardHandler), Debounce: 50 * time.Millisecond,
		Load: func() (*rules.RuleSet, []error, error) {
			s, e := LoadFiles([]string{dir}, nil, nil, opts)
			return s, e, nil
		}}
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}

	delete(files, dpkg+".toml")
	cm.swap(files)
	s2 := waitRevision(t, l, set.Revision, "after a ConfigMap swap")
	if d := DiffSets(set, s2); len(d.Deleted) != 1 || d.Deleted[0] != dpkg {
		t.Fatalf("diff after the swap %+v, want %s deleted", d, dpkg)
	}

	bad := map[string][]byte{}
	for k, v := range files {
		bad[k] = v
	}
	bad["broken.toml"] = []byte("[rule\n")
	failures := value(m.ReloadFailures)
	cm.swap(bad)
	deadline := time.Now().Add(10 * time.Second)
	for value(m.ReloadFailures) <= failures && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if value(m.ReloadFailures) <= failures || l.Current() != s2 || value(m.RuleErrors) < 1 {
		t.Fatalf("a broken file: reload failures %v, rule errors %v, running %s (want %s)", value(m.ReloadFailures), value(m.RuleErrors), l.Current().Revision, s2.Revision)
	}

	// SIGHUP: a watcher whose file events would reload only after an
	// hour sees the broken file removed
	cancel()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	f2 := *f
	f2.Debounce = time.Hour
	if err := f2.Start(ctx2); err != nil {
		t.Fatal(err)
	}
	cur, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, cur, "broken.toml"), filepath.Join(dir, "broken.toml")} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if value(m.RuleErrors) == 0 {
		t.Fatal("reloaded without SIGHUP")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for value(m.RuleErrors) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if value(m.RuleErrors) != 0 || l.Current() != s2 {
		t.Fatalf("after SIGHUP: rule errors %v, revision %s (want %s, the same files as before the broken one)", value(m.RuleErrors), l.Current().Revision, s2.Revision)
	}
}
