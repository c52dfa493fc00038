// Package testutil finds the shared test data beside the repository.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// CorpusDir returns ../shared/corpus/detection-rules, or $EQLSTREAM_CORPUS
// (for a checkout elsewhere, e.g. a git worktree). When it is absent the
// test fails under CI=true and is skipped otherwise.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "corpus", "detection-rules")
	if c := os.Getenv("EQLSTREAM_CORPUS"); c != "" {
		dir = c
	}
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus not found at %s (CI=true requires it)", dir)
		}
		t.Skipf("corpus not found at %s", dir)
	}
	return dir
}
