package fieldtype

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/internal/gen"
)

// TestGeneratorFieldsKnown: every leaf field the event generator writes is
// in the built-in table (or below an open namespace), so the table covers
// the Elastic Defend-like data the project runs on, and the type of the
// typed ones agrees with the JSON the generator writes.
func TestGeneratorFieldsKnown(t *testing.T) {
	g, err := gen.New(gen.Config{Events: 3000, Hosts: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := Builtin()
	unknown := map[string]bool{}
	var buf []byte
	for {
		var ok bool
		buf, _, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		var doc map[string]any
		if err := json.Unmarshal(buf, &doc); err != nil {
			t.Fatal(err)
		}
		walkLeaves("", doc, func(name string, v any) {
			if !s.Known(name) && s.Covered(name) {
				unknown[name] = true
				return
			}
			f, ok := s.Lookup(name)
			if !ok {
				return
			}
			switch x := v.(type) {
			case string:
				if f.Type.IsDate() {
					if _, ok := (DateFormat{isoOptionalTime, epochMillis}).Parse(x, false); !ok {
						t.Errorf("%s: %q is not a date", name, x)
					}
				}
			case float64:
				if f.Type.Stringy() && f.Type != Keyword {
					t.Errorf("%s (%v) holds a number", name, f.Type)
				}
			}
		})
	}
	if len(unknown) > 0 {
		names := make([]string, 0, len(unknown))
		for n := range unknown {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("fields the generator writes that the built-in table lacks: %s", strings.Join(names, " "))
	}
}

func walkLeaves(prefix string, v any, fn func(string, any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			walkLeaves(prefix+k+".", c, fn)
		}
	case []any:
		for _, c := range x {
			walkLeaves(prefix, c, fn)
		}
	default:
		fn(strings.TrimSuffix(prefix, "."), v)
	}
}
