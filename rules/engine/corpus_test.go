package engine

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/internal/testutil"
	"github.com/eqlstream/eqlstream/rules/eql"
	toml "github.com/pelletier/go-toml/v2"
)

type corpusRule struct {
	path  string
	id    string
	query string
	linux bool
}

func loadCorpus(t testing.TB) []corpusRule {
	dir := testutil.CorpusDir(t)
	var out []corpusRule
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "_deprecated" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".toml") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc struct {
			Rule struct {
				RuleID   string `toml:"rule_id"`
				Language string
				Query    string
				Tags     []string
			}
		}
		if err := toml.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		if doc.Rule.Language != "eql" {
			return nil
		}
		linux := strings.Contains(p, "/linux/")
		for _, tag := range doc.Rule.Tags {
			if tag == "OS: Linux" {
				linux = true
			}
		}
		out = append(out, corpusRule{path: p, id: doc.Rule.RuleID, query: doc.Rule.Query, linux: linux})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func TestCorpusCompiles(t *testing.T) {
	rules := loadCorpus(t)
	failed := 0
	reasons := map[string]int{}
	for _, r := range rules {
		_, err := Compile([]RuleDef{{ID: r.id, Source: &eql.Source{Name: r.path, Text: r.query}}}, Options{})
		if err != nil {
			failed++
			t.Logf("%v", err)
			msg := err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			reasons[msg]++
		}
	}
	t.Logf("%d compiled, %d failed", len(rules)-failed, failed)
	if len(rules) != 1024 {
		t.Errorf("expected 1024 active EQL rules, found %d", len(rules))
	}
	if failed > 0 {
		t.Errorf("%d corpus rules failed to compile: %v", failed, reasons)
	}
	// and all of them together in one program
	var defs []RuleDef
	for _, r := range rules {
		defs = append(defs, RuleDef{ID: r.id, Source: &eql.Source{Name: r.path, Text: r.query}})
	}
	p, err := Compile(defs, Options{})
	if err != nil {
		t.Fatalf("compiling the corpus as one program: %v", err)
	}
	t.Logf("one program: %d rules, %d fields", len(p.Rules()), len(p.Fields()))
}
