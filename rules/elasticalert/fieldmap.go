package elasticalert

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed fieldmap.tsv
var fieldMapTSV string

// Field is one field of the security alerts field map (fieldmap.tsv).
type Field struct {
	Name     string
	Type     string // Elasticsearch type; "unmapped": Kibana writes it, no map holds it
	Required bool   // Kibana's map marks it required
	Origin   string // alert, legacy, security, ecs or build_alert (see fieldmap.tsv)
}

// FieldMap returns the fields of fieldmap.tsv, by name.
func FieldMap() map[string]Field {
	out := map[string]Field{}
	for i, line := range strings.Split(fieldMapTSV, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, "\t")
		if len(p) != 4 {
			panic(fmt.Sprintf("fieldmap.tsv:%d: want 4 tab-separated columns, got %q", i+1, line))
		}
		out[p[0]] = Field{Name: p[0], Type: p[1], Required: p[2] == "yes", Origin: p[3]}
	}
	return out
}

// TemplateOptions adjust the index template to a cluster.
type TemplateOptions struct {
	// Basic maps wildcard as keyword and match_only_text as text, for a
	// cluster without those field types (the OSS/integ-test distribution).
	Basic bool
}

// IndexTemplate is the body of a composable index template for
// indexPatterns whose mappings follow the field map: every mapped field
// with its type, dynamic false (other source-event fields are kept in
// _source, as in Kibana's alerts index).
func IndexTemplate(indexPatterns []string, o TemplateOptions) map[string]any {
	root := map[string]any{}
	fields := FieldMap()
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := fields[n]
		if f.Type == "unmapped" {
			continue
		}
		props := root
		parts := strings.Split(n, ".")
		for _, p := range parts[:len(parts)-1] {
			node, _ := props[p].(map[string]any)
			if node == nil {
				node = map[string]any{}
				props[p] = node
			}
			if _, ok := node["properties"]; !ok {
				node["properties"] = map[string]any{}
			}
			delete(node, "type") // an object with known children
			props = node["properties"].(map[string]any)
		}
		leaf := parts[len(parts)-1]
		if existing, ok := props[leaf].(map[string]any); ok && existing["properties"] != nil {
			continue // already an object with children
		}
		props[leaf] = mapping(f.Type, o)
	}
	return map[string]any{
		"index_patterns": indexPatterns,
		"priority":       200,
		"template": map[string]any{
			"settings": map[string]any{"index.mapping.total_fields.limit": 2000},
			"mappings": map[string]any{"dynamic": false, "properties": root},
		},
		"_meta": map[string]any{"managed_by": "eqlstream", "description": "eqlstream alerts in Elastic's detection-engine layout (processor --alert-format elastic)"},
	}
}

func mapping(typ string, o TemplateOptions) map[string]any {
	switch typ {
	case "keyword":
		return map[string]any{"type": "keyword", "ignore_above": 1024}
	case "flattened":
		return map[string]any{"type": "flattened", "ignore_above": 4096}
	case "object":
		return map[string]any{"type": "object"}
	case "wildcard":
		if o.Basic {
			return map[string]any{"type": "keyword", "ignore_above": 8191}
		}
	case "match_only_text":
		if o.Basic {
			return map[string]any{"type": "text"}
		}
	}
	return map[string]any{"type": typ}
}
