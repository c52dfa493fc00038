package eql

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
)

// corpusRule is one active EQL rule of the detection-rules corpus.
type corpusRule struct {
	Path  string // relative to the corpus root
	Query string
	Src   *Source // positions in the TOML file
}

// findCorpus locates ../shared/corpus/detection-rules beside the module root
// (the directory holding go.mod). It returns "" when the corpus is absent.
func findCorpus(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	root := filepath.Join(dir, "..", "shared", "corpus", "detection-rules")
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return ""
	}
	return root
}

// requireCorpus returns the corpus root, skipping the test when it is absent,
// except under CI (CI=true) where a missing corpus fails the test.
func requireCorpus(t testing.TB) string {
	t.Helper()
	root := findCorpus(t)
	if root == "" {
		msg := "detection-rules corpus not found: expected ../shared/corpus/detection-rules beside the module root"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the corpus is required)")
		}
		t.Skip(msg)
	}
	return root
}

// loadCorpus reads every active EQL rule: TOML files outside _deprecated
// directories whose rule.language is "eql".
func loadCorpus(t testing.TB, root string) []corpusRule {
	t.Helper()
	var rules []corpusRule
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "_deprecated" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".toml") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc struct {
			Rule struct {
				Language string `toml:"language"`
				Query    string `toml:"query"`
			} `toml:"rule"`
		}
		if err := toml.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if doc.Rule.Language != "eql" {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rules = append(rules, corpusRule{Path: rel, Query: doc.Rule.Query, Src: tomlSource(rel, string(b), doc.Rule.Query)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Path < rules[j].Path })
	return rules
}

// tomlSource places the query inside its TOML file, so errors point at
// file:line:col of the rule file. The corpus writes queries as TOML literal
// strings (triple single quotes), so the text appears verbatim; otherwise
// positions are relative to the query.
func tomlSource(name, file, query string) *Source {
	src := &Source{Name: name, Text: query}
	if i := strings.Index(file, query); i >= 0 && query != "" {
		src.Line = 1 + strings.Count(file[:i], "\n")
		src.Col = 1 + len([]rune(file[strings.LastIndexByte(file[:i], '\n')+1:i]))
	}
	return src
}

// warningKind groups warning messages for the corpus summary.
func warningKind(msg string) string {
	switch {
	case strings.HasPrefix(msg, "`*` in "):
		return "dead `*` in ==/!=/in"
	case strings.HasPrefix(msg, "`?` in "):
		return "dead `?` in ==/!=/in"
	case strings.HasPrefix(msg, "sequence without maxspan"):
		return "sequence without maxspan"
	case strings.Contains(msg, "this sequence cannot be evaluated inside a host-partitioned stream"):
		return "sequence not host-scoped"
	case strings.Contains(msg, "this sample cannot be evaluated inside a host-partitioned stream"):
		return "sample not host-scoped"
	}
	return "other"
}

func TestCorpus(t *testing.T) {
	root := requireCorpus(t)
	rules := loadCorpus(t, root)
	if len(rules) == 0 {
		t.Fatalf("no active EQL rules under %s", root)
	}
	parsed, failed := 0, 0
	kindRules := map[string]int{} // rules with at least one warning of the kind
	kindCount := map[string]int{} // warnings of the kind
	linux := regexp.MustCompile(`(^|/)linux/`)
	linuxNotHost := 0
	for _, r := range rules {
		st, err := Parse(r.Src)
		if err != nil {
			failed++
			t.Errorf("parse: %v", err)
			continue
		}
		warns, err := Check(st, r.Src)
		if err != nil {
			failed++
			t.Errorf("check: %v", err)
			continue
		}
		parsed++
		// The formatter is the inverse of the parser.
		if st2, err := ParseString(Format(st)); err != nil || st2.String() != st.String() {
			t.Errorf("%s: Format does not round-trip: %v\n%s\n%s", r.Path, err, st, Format(st))
		}
		seen := map[string]bool{}
		for _, w := range warns {
			k := warningKind(w.Msg)
			kindCount[k]++
			if !seen[k] {
				seen[k] = true
				kindRules[k]++
				if testing.Verbose() && k != "sequence without maxspan" {
					t.Logf("warning: %s", w.Error())
				}
			}
		}
		if linux.MatchString(r.Path) && (seen["sequence not host-scoped"] || seen["sample not host-scoped"]) {
			linuxNotHost++
		}
	}
	t.Logf("%d parsed, %d failed", parsed, failed)
	kinds := make([]string, 0, len(kindRules))
	for k := range kindRules {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		t.Logf("warning %-28s %4d rules, %4d warnings", k, kindRules[k], kindCount[k])
	}
	t.Logf("non-host-scoped sequence/sample rules under linux/: %d", linuxNotHost)
	if failed > 0 {
		t.Fatalf("%d of %d corpus rules failed", failed, len(rules))
	}
}

// recordTB records Fatal and Skip instead of acting on them.
type recordTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordTB) Helper() {}
func (r *recordTB) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordTB) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// TestCorpusAbsent checks that a missing corpus skips the corpus test
// locally but fails it under CI.
func TestCorpusAbsent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	run := func() *recordTB {
		r := &recordTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			requireCorpus(r)
		}()
		<-done
		return r
	}
	t.Setenv("CI", "")
	if r := run(); r.skip == "" || r.fatal != "" {
		t.Errorf("without CI: skip %q, fatal %q; want a skip", r.skip, r.fatal)
	}
	t.Setenv("CI", "true")
	if r := run(); r.fatal == "" || r.skip != "" {
		t.Errorf("with CI=true: skip %q, fatal %q; want a failure", r.skip, r.fatal)
	}
}
