package elasticalert

import (
	"bytes"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	json "github.com/goccy/go-json"
)

// builtinDocs evaluates the built-in detections over generated events and
// returns every Elastic-format document, with the source events by line.
func builtinDocs(t *testing.T, seed int64, events int) (docs []map[string]any, raw [][]byte, srcPaths map[string]bool) {
	t.Helper()
	g, err := gen.New(gen.Config{Seed: seed, Events: events, Hosts: 20, AttackRate: 0.05, LookalikeRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := g.WriteNDJSON(&buf); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(rules.Builtin(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set.SetFormatter(Format)
	srcPaths = map[string]bool{}
	eng := set.Program.NewEngine()
	store := rules.NewEventStore()
	emit := func(ms []engine.Match) {
		for _, m := range ms {
			ds, err := set.AlertDocs(m, store.Get, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				var m map[string]any
				dec := json.NewDecoder(bytes.NewReader(d.Doc))
				dec.UseNumber()
				if err := dec.Decode(&m); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
				docs = append(docs, m)
				raw = append(raw, d.Doc)
			}
		}
	}
	for i, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		for p := range leaves("", ev) {
			srcPaths[p] = true
		}
		store.Put(uint64(i), line)
		ms, _, err := eng.Process(line, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		emit(ms)
	}
	emit(eng.Flush())
	return docs, raw, srcPaths
}

// leaves maps each leaf path of a document (dotted keys and nested objects
// alike; arrays of objects add their members' paths) to its values.
func leaves(prefix string, v any) map[string][]any {
	out := map[string][]any{}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && p != "" {
				out[p] = append(out[p], x)
			}
			for k, c := range x {
				q := k
				if p != "" {
					q = p + "." + k
				}
				walk(q, c)
			}
		case []any:
			if len(x) == 0 {
				out[p] = append(out[p], x)
			}
			for _, c := range x {
				walk(p, c)
			}
		default:
			out[p] = append(out[p], x)
		}
	}
	walk(prefix, v)
	return out
}

// compatible says whether Elasticsearch indexes a JSON value v into a field
// of type typ without a mapping error.
func compatible(typ string, v any) bool {
	switch x := v.(type) {
	case []any:
		return len(x) == 0 // an empty array fits any field
	case map[string]any:
		return typ == "object" || typ == "flattened" || typ == "unmapped"
	}
	switch typ {
	case "unmapped":
		return true
	case "keyword", "wildcard":
		switch v.(type) {
		case string, json.Number, bool:
			return true
		}
	case "match_only_text", "text":
		_, ok := v.(string)
		return ok
	case "long", "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "float":
		_, ok := v.(json.Number)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "date":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "ip":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := netip.ParseAddr(s)
		return err == nil
	case "object", "flattened":
		return false // a scalar where an object is mapped
	}
	return false
}

// TestDocumentsFollowKibanaFieldMap: every field of every document (event
// alerts, shells, building blocks) is in the security alerts field map
// with a compatible type, or is a non-ECS field copied from the source
// event (Kibana keeps those too, unmapped); every required field is there.
func TestDocumentsFollowKibanaFieldMap(t *testing.T) {
	fm := FieldMap()
	docs, _, srcPaths := builtinDocs(t, 7, 8000)
	kinds := map[string]int{}
	checked := map[string]bool{}
	for i, d := range docs {
		kind := "event"
		switch d["kibana.alert.depth"] {
		case json.Number("2"):
			kind = "shell"
		default:
			if _, ok := d["kibana.alert.group.id"]; ok {
				kind = "building_block"
			}
		}
		kinds[kind]++
		for path, vals := range leaves("", d) {
			f, ok := fm[path]
			if !ok {
				if under := flattenedParent(fm, path); under != "" {
					checked[under] = true
					continue // inside a flattened field: any keys and values
				}
				if !srcPaths[path] || strings.HasPrefix(path, "kibana.") {
					t.Errorf("doc %d (%s): field %s is in no Kibana field map and not a source-event field", i, kind, path)
				}
				continue
			}
			checked[path] = true
			for _, v := range vals {
				if !compatible(f.Type, v) {
					t.Errorf("doc %d (%s): %s = %#v does not fit Kibana's type %s", i, kind, path, v, f.Type)
				}
			}
		}
		for _, f := range fm {
			if !f.Required {
				continue
			}
			if _, ok := leaves("", d)[f.Name]; ok {
				continue
			}
			if f.Type == "object" { // kibana.alert.ancestors: its members are checked
				if _, ok := d[f.Name]; ok {
					continue
				}
			}
			t.Errorf("doc %d (%s): required field %s missing", i, kind, f.Name)
		}
	}
	if kinds["event"] == 0 || kinds["shell"] == 0 || kinds["building_block"] == 0 {
		t.Fatalf("documents by kind %v: the test needs each kind", kinds)
	}
	var names []string
	for n := range checked {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d documents %v; %d distinct fields checked against the field map (%d fields in it)", len(docs), kinds, len(names), len(fm))
}

// flattenedParent is the flattened field path lies under, or "".
func flattenedParent(fm map[string]Field, path string) string {
	for i := len(path) - 1; i > 0; i-- {
		if path[i] == '.' {
			if f, ok := fm[path[:i]]; ok && f.Type == "flattened" {
				return f.Name
			}
		}
	}
	return ""
}

// TestCompatibleRejects: the type check fails on values Elasticsearch
// would reject, so TestDocumentsFollowKibanaFieldMap can fail.
func TestCompatibleRejects(t *testing.T) {
	for _, c := range []struct {
		typ string
		v   any
	}{
		{"long", json.Number("1.5")}, {"long", "12"}, {"date", "yesterday"}, {"ip", "not-an-ip"},
		{"boolean", "true"}, {"object", "x"}, {"keyword", map[string]any{"a": "b"}}, {"float", "x"},
	} {
		if compatible(c.typ, c.v) {
			t.Errorf("compatible(%s, %#v) = true", c.typ, c.v)
		}
	}
}

// TestFieldMapWellFormed: known types and origins only.
func TestFieldMapWellFormed(t *testing.T) {
	types := map[string]bool{"keyword": true, "long": true, "integer": true, "float": true, "date": true, "ip": true,
		"boolean": true, "object": true, "flattened": true, "wildcard": true, "match_only_text": true, "unmapped": true}
	origins := map[string]bool{"alert": true, "legacy": true, "security": true, "ecs": true, "build_alert": true}
	fm := FieldMap()
	if len(fm) < 150 {
		t.Fatalf("field map has %d fields", len(fm))
	}
	for _, f := range fm {
		if !types[f.Type] || !origins[f.Origin] {
			t.Errorf("%s: type %q origin %q", f.Name, f.Type, f.Origin)
		}
	}
}

// TestIndexTemplate: the template maps each field of the field map with
// its type at its path (unmapped ones left out), and the basic variant
// replaces the types a minimal distribution lacks.
func TestIndexTemplate(t *testing.T) {
	prop := func(tpl map[string]any, path string) map[string]any {
		m := tpl["template"].(map[string]any)["mappings"].(map[string]any)
		props := m["properties"].(map[string]any)
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			node, ok := props[p].(map[string]any)
			if !ok {
				return nil
			}
			props, _ = node["properties"].(map[string]any)
		}
		v, _ := props[parts[len(parts)-1]].(map[string]any)
		return v
	}
	full := IndexTemplate([]string{"eqlstream-alerts*"}, TemplateOptions{})
	for path, want := range map[string]string{
		"kibana.alert.depth": "long", "kibana.alert.ancestors.id": "keyword", "kibana.alert.rule.parameters": "flattened",
		"kibana.alert.group.index": "integer", "@timestamp": "date", "host.ip": "ip", "process.command_line": "wildcard",
		"message": "match_only_text", "kibana.alert.original_time": "date",
	} {
		if got := prop(full, path); got == nil || got["type"] != want {
			t.Errorf("%s mapped as %v, want %s", path, got, want)
		}
	}
	if prop(full, "kibana.alert.rule.actions") != nil {
		t.Error("an unmapped field is in the template")
	}
	basic := IndexTemplate([]string{"x*"}, TemplateOptions{Basic: true})
	if prop(basic, "process.command_line")["type"] != "keyword" || prop(basic, "message")["type"] != "text" {
		t.Errorf("basic: command_line %v message %v", prop(basic, "process.command_line"), prop(basic, "message"))
	}
	if m := full["template"].(map[string]any)["mappings"].(map[string]any); m["dynamic"] != false {
		t.Errorf("dynamic = %v", m["dynamic"])
	}
}
