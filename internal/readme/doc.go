// Package readme holds the test that runs README.md: the shell blocks marked
// `<!-- test: run -->` run in order from the repository root with a freshly
// built `processor` first on PATH, and a block marked `<!-- test: output -->`
// after one of them is the output it must print, so the README cannot go
// stale. See readme_test.go for the markers and the matching rules.
package readme
