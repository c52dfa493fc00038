package fieldtype

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// AddMappingFile reads an Elasticsearch index mapping from path and adds its
// fields (see AddMapping).
func (s *Schema) AddMappingFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := s.AddMapping(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// AddMapping adds the fields of an Elasticsearch mapping, replacing fields
// of the same name. It accepts what `GET <index>/_mapping` returns
// ({"<index>": {"mappings": {"properties": ...}}}, several indices merged in
// name order), a bare {"mappings": ...} and a bare {"properties": ...}.
// Objects and nested fields contribute their properties with dotted names,
// multi-fields ("fields") their sub-fields (process.name.text), aliases the
// type of their path.
func (s *Schema) AddMapping(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var bodies []json.RawMessage
	switch {
	case top["properties"] != nil:
		bodies = append(bodies, data)
	case top["mappings"] != nil:
		bodies = append(bodies, top["mappings"])
	default:
		names := make([]string, 0, len(top))
		for k := range top {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			var idx struct {
				Mappings json.RawMessage `json:"mappings"`
			}
			if err := json.Unmarshal(top[k], &idx); err != nil || idx.Mappings == nil {
				return fmt.Errorf("index %q has no \"mappings\" (want the body of GET <index>/_mapping)", k)
			}
			bodies = append(bodies, idx.Mappings)
		}
	}
	if len(bodies) == 0 {
		return fmt.Errorf("no mappings found (want the body of GET <index>/_mapping)")
	}
	var aliases [][2]string
	for _, b := range bodies {
		var m mappingNode
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("mappings: %w", err)
		}
		if err := s.addProperties("", m.Properties, &aliases); err != nil {
			return err
		}
	}
	for _, a := range aliases {
		target, ok := s.fields[a[1]]
		if !ok {
			return fmt.Errorf("field %s is an alias of %s, which the mapping does not define", a[0], a[1])
		}
		f := *target
		f.Name = a[0]
		s.Add(f)
	}
	return nil
}

type mappingNode struct {
	Type          string                  `json:"type"`
	Properties    map[string]*mappingNode `json:"properties"`
	Fields        map[string]*mappingNode `json:"fields"`
	NullValue     any                     `json:"null_value"`
	Format        string                  `json:"format"`
	ScalingFactor float64                 `json:"scaling_factor"`
	Path          string                  `json:"path"`
}

func (s *Schema) addProperties(prefix string, props map[string]*mappingNode, aliases *[][2]string) error {
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		n := props[k]
		if n == nil {
			continue
		}
		name := prefix + k
		if err := s.addNode(name, n, aliases); err != nil {
			return err
		}
	}
	return nil
}

func (s *Schema) addNode(name string, n *mappingNode, aliases *[][2]string) error {
	switch {
	case n.Type == "alias":
		*aliases = append(*aliases, [2]string{name, n.Path})
		return nil
	case n.Properties != nil || n.Type == "" || ParseType(n.Type) == Object:
		s.Add(Field{Name: name, Type: Object})
		return s.addProperties(name+".", n.Properties, aliases)
	}
	f := Field{Name: name, Type: ParseType(n.Type), Format: n.Format, ScalingFactor: n.ScalingFactor}
	if n.NullValue != nil {
		switch n.NullValue.(type) {
		case string, float64, bool:
			f.NullValue = n.NullValue
		default:
			return fmt.Errorf("field %s: null_value must be a string, number or boolean", name)
		}
	}
	if f.Type.IsDate() {
		if _, err := DateFormatOf(f.Format); err != nil {
			return fmt.Errorf("field %s: %w", name, err)
		}
	}
	if f.Type == ScaledFloat && f.ScalingFactor <= 0 {
		return fmt.Errorf("field %s: scaled_float needs a positive scaling_factor", name)
	}
	s.Add(f)
	for sub, sn := range n.Fields {
		if sn == nil {
			continue
		}
		if err := s.addNode(name+"."+sub, sn, aliases); err != nil {
			return err
		}
	}
	return nil
}

// String describes a field for messages: "process.pid (long)".
func (f *Field) String() string {
	var b strings.Builder
	b.WriteString(f.Name)
	b.WriteString(" (")
	b.WriteString(f.Type.String())
	b.WriteString(")")
	return b.String()
}
