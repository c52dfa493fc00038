package rulesets

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/exceptions"
	"github.com/fsnotify/fsnotify"
)

// Files reloads a rule set from files (--rules, --exceptions) into a Live on
// SIGHUP and when a watched file or directory changes. Directories are
// watched with every subdirectory that is not hidden; a file is watched
// through its directory, so an editor's rename-over and a Kubernetes
// ConfigMap's "..data" symlink swap (a new hidden directory, the symlink
// renamed over) both trigger a reload. Changes are debounced.
type Files struct {
	Paths []string // rule files and directories, and exception list files
	// Load loads and compiles the files; a non-nil error means nothing
	// could be built (unreadable files): the running revision stays.
	Load     func() (*rules.RuleSet, []error, error)
	Live     *Live
	Log      *slog.Logger
	Debounce time.Duration // default 300ms
}

// Start watches until ctx ends.
func (f *Files) Start(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	f.watch(w)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	if f.Debounce <= 0 {
		f.Debounce = 300 * time.Millisecond
	}
	go func() {
		defer w.Close()
		defer signal.Stop(hup)
		var timer <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				f.Log.Info("SIGHUP: reloading rules")
				f.reload(w)
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				f.Log.Debug("rules file event", "event", ev.String())
				timer = time.After(f.Debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				f.Log.Warn("watching rule files", "err", err)
			case <-timer:
				timer = nil
				f.reload(w)
			}
		}
	}()
	return nil
}

func (f *Files) reload(w *fsnotify.Watcher) {
	set, errs, err := f.Load()
	if err != nil {
		f.Live.m.ReloadFailures.Inc()
		f.Log.Error("reloading rules failed; the running revision stays", "err", err)
		return
	}
	f.Live.Offer(set, errs)
	f.watch(w) // new directories
}

// watch adds the directories to watch (adding one twice is harmless).
func (f *Files) watch(w *fsnotify.Watcher) {
	for _, p := range f.Paths {
		info, err := os.Stat(p)
		if err != nil || !info.IsDir() {
			_ = w.Add(filepath.Dir(p))
			continue
		}
		_ = w.Add(p)
		root := p + string(filepath.Separator)
		_ = filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || q == root {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			_ = w.Add(q)
			return nil
		})
	}
}

// LoadFiles loads rule files and directories and exception list exports
// and compiles them as run does, with the content revision. Files that do
// not load and rules that do not compile are in errs.
func LoadFiles(rulePaths, exceptionPaths []string, extra map[string][]string, opts engine.Options) (*rules.RuleSet, []error) {
	rs, _, err := rules.LoadPaths(rulePaths)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	var xs *exceptions.Set
	if len(exceptionPaths) > 0 {
		s, err := exceptions.Load(exceptionPaths...)
		if err != nil {
			errs = append(errs, err)
		}
		xs = s
	}
	set, cerrs := Compile(rs, xs, extra, opts, "")
	set.Revision = ContentRevision(set)
	return set, append(errs, cerrs...)
}
