package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
)

//go:embed builtin/*.toml
var builtinFiles embed.FS

// builtinDir is where the built-in rule files live in the repository; their
// Path and Source.Name use it.
const builtinDir = "rules/builtin"

// Builtin returns the detections built into eqlstream, in file-name order,
// with Builtin set. Each call parses the embedded files afresh, so callers
// may modify what they get.
func Builtin() []*Rule {
	entries, err := fs.ReadDir(builtinFiles, "builtin")
	if err != nil {
		panic(fmt.Sprintf("rules: built-in rules: %v", err)) // the embed pattern guarantees the directory
	}
	var out []*Rule
	for _, e := range entries {
		data, err := builtinFiles.ReadFile(path.Join("builtin", e.Name()))
		if err == nil {
			var r *Rule
			r, err = ParseTOML(path.Join(builtinDir, e.Name()), data)
			if err == nil && r == nil {
				err = fmt.Errorf("not an EQL rule")
			}
			if err == nil {
				r.Builtin = true
				out = append(out, r)
				continue
			}
		}
		// The files are compiled in and covered by TestBuiltin; a failure
		// here is a build defect, not a runtime condition.
		panic(fmt.Sprintf("rules: built-in rule %s: %v", e.Name(), err))
	}
	return out
}

// BuiltinFiles returns the built-in rule files' text by rule_id (what
// `processor rules push --builtin` publishes).
func BuiltinFiles() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(builtinFiles, "builtin")
	for _, e := range entries {
		data, err := builtinFiles.ReadFile(path.Join("builtin", e.Name()))
		if err != nil {
			continue
		}
		if r, err := ParseTOML(e.Name(), data); err == nil && r != nil {
			out[r.ID] = data
		}
	}
	return out
}
