package engine

import (
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

// Typed-semantics tests. Expected results come from Elasticsearch's field
// mappers and reference, cited per group, not from this engine:
//
//	date     DateFieldMapper.DateFieldType.termQuery (a range from the value
//	         to the value rounded up) and rangeQuery (gt/lte round up,
//	         gte/lt round down); "Missing date components" in the range query
//	         reference; default format strict_date_optional_time||epoch_millis.
//	ip       IpFieldMapper.IpFieldType.termQuery (InetAddresses.forString,
//	         a "/" makes a CIDR prefix query); IPv4 indexed as IPv4-mapped IPv6.
//	numbers  NumberFieldMapper (coerce: "42" and 42.9 index as 42 in a long;
//	         LONG.termQuery of 42.5 matches nothing); float precision.
//	boolean  BooleanFieldMapper ("true"/"false" strings, "" is false).
//	version  the version field reference (semver precedence).
//	null     the null_value mapping parameter: an explicit null is indexed
//	         as null_value, a missing field stays missing.
//	optional eql Analyzer.ResolveOrReplaceOptionalRefs + Optimizer.ReplaceNullChecks.

const typedMapping = `{"idx": {"mappings": {"properties": {
  "@timestamp": {"type": "date"},
  "event": {"properties": {"category": {"type": "keyword"}, "created": {"type": "date_nanos"}}},
  "source": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}}},
  "process": {"properties": {"pid": {"type": "long", "null_value": -1}, "name": {"type": "keyword", "null_value": "NULL"},
    "start": {"type": "date", "format": "strict_date_optional_time||epoch_second"}}},
  "score": {"type": "float"}, "cost": {"type": "scaled_float", "scaling_factor": 100},
  "ok": {"type": "boolean"}, "app": {"properties": {"version": {"type": "version"}}},
  "tags": {"type": "keyword"}
}}}}`

func typedSchema(t testing.TB) *fieldtype.Schema {
	s := fieldtype.New()
	if err := s.AddMapping([]byte(typedMapping)); err != nil {
		t.Fatal(err)
	}
	return s
}

// evalTyped reports whether `any where cond` matches the event doc (whole
// JSON), compiled with the typed schema; warns are the rule's warnings.
func evalTyped(t *testing.T, types *fieldtype.Schema, cond, doc string) (bool, []string) {
	t.Helper()
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: "any where " + cond}}}, Options{Types: types})
	if err != nil {
		t.Fatalf("%s: %v", cond, err)
	}
	var warns []string
	for _, w := range p.Rules()[0].Warnings {
		warns = append(warns, w.Msg)
	}
	ms, _, err := p.NewEngine().Process([]byte(doc), 1)
	if err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return len(ms) > 0, warns
}

func TestTypedComparisons(t *testing.T) {
	types := typedSchema(t)
	ev := func(members string) string {
		return `{"@timestamp":"2026-03-01T10:00:05.000Z","event":{"category":"process"}` + members + `}`
	}
	cases := []struct {
		cond, members string
		want          bool
	}{
		// date: the example, and rounding of the literal
		{`@timestamp == "2026-03-01T10:00:05Z"`, ``, true},
		{`@timestamp == "2026-03-01T10:00:05.000Z"`, ``, true},
		{`@timestamp == "2026-03-01"`, ``, true}, // the whole day
		{`@timestamp == "2026-03-02"`, ``, false},
		{`@timestamp == "2026-03-01T12:00:05+02:00"`, ``, true},
		{`@timestamp != "2026-03-01T10:00:05Z"`, ``, false},
		{`@timestamp > "2026-03-01"`, ``, false}, // gt rounds up to the day's end
		{`@timestamp >= "2026-03-01"`, ``, true},
		{`@timestamp < "2026-03-01T10:00:06"`, ``, true},
		{`@timestamp <= "2026-03-01T10:00:04"`, ``, false}, // up to 10:00:04.999
		{`@timestamp == 1772359205000`, ``, true},          // epoch millis number
		{`@timestamp in ("2020-01-01", "2026-03-01T10")`, ``, true},
		{`@timestamp > "2026-02-28T23:00:00Z"`, ``, true},       // as text "2026-03-01T10..." > too, but:
		{`@timestamp < "2026-03-01T10:00:05.0001Z"`, ``, false}, // as text this would be true
		{`event.created == "2026-03-01T10:00:05.000000001Z"`, `,"event":{"category":"process","created":"2026-03-01T10:00:05.000000001Z"}`, true},
		{`event.created == "2026-03-01T10:00:05Z"`, `,"event":{"category":"process","created":"2026-03-01T10:00:05.000000001Z"}`, true}, // second rounded up
		{`process.start == "2026-03-01T10:00:05Z"`, `,"process":{"start":1772359205}`, true},                                            // epoch_second format
		{`process.start == "2026-03-01T10:00:05Z"`, `,"process":{"start":"1772359205"}`, true},
		{`@timestamp == "2026-03-01T10:00:05Z"`, `,"@timestamp":1772359205000`, true}, // number value: epoch millis
		// ip
		{`source.ip == "10.0.0.1"`, `,"source":{"ip":"::ffff:10.0.0.1"}`, true},
		{`source.ip == "::ffff:10.0.0.1"`, `,"source":{"ip":"10.0.0.1"}`, true},
		{`source.ip == "2001:db8::1"`, `,"source":{"ip":"2001:0db8:0:0:0:0:0:1"}`, true},
		{`source.ip == "10.0.0.0/8"`, `,"source":{"ip":"10.1.2.3"}`, true},
		{`source.ip == "10.0.0.0/8"`, `,"source":{"ip":"11.1.2.3"}`, false},
		{`source.ip in ("192.168.0.0/16", "::ffff:10.0.0.1")`, `,"source":{"ip":"10.0.0.1"}`, true},
		{`source.ip != "10.0.0.1"`, `,"source":{"ip":"::ffff:10.0.0.1"}`, false},
		{`source.ip > "10.0.0.1"`, `,"source":{"ip":"10.0.0.2"}`, true},
		{`source.ip < "9.0.0.0"`, `,"source":{"ip":"10.0.0.2"}`, false}, // as text "10..." < "9..."
		// numbers
		{`source.port == 443`, `,"source":{"port":"443"}`, true},
		{`source.port > 100`, `,"source":{"port":"443"}`, true},
		{`source.port == 443`, `,"source":{"port":443.7}`, true}, // coerce truncates
		{`source.port == 443.5`, `,"source":{"port":443.5}`, false},
		{`source.port < 1000`, `,"source":{"port":"80"}`, true},
		{`source.port in (22, 443)`, `,"source":{"port":"443"}`, true},
		{`source.port in (22, 443)`, `,"source":{"port":443.9}`, true}, // truncated when indexed
		{`source.port in (22, 443.5)`, `,"source":{"port":443.5}`, false},
		{`source.port in ("22", "443")`, `,"source":{"port":443}`, true},
		{`score in (0.1, 0.2)`, `,"score":"0.2"`, true},
		{`cost in (1.234)`, `,"cost":1.23`, true},
		{`source.port not in (22, 443)`, `,"source":{"port":"443"}`, false},
		{`source.port in (22, null)`, `,"source":{}`, true},
		{`score == 0.1`, `,"score":0.1`, true},
		{`score == 0.10000000149011612`, `,"score":0.1`, true}, // float32(0.1)
		{`cost == 1.234`, `,"cost":1.23`, true},                // scaled to 123 both
		{`cost > 1.234`, `,"cost":1.24`, true},
		// boolean
		{`ok == true`, `,"ok":"true"`, true},
		{`ok == false`, `,"ok":""`, true},
		{`ok == "true"`, `,"ok":true`, true},
		// version
		{`app.version < "1.10.0"`, `,"app":{"version":"1.9.3"}`, true}, // as text "1.9.3" > "1.10.0"
		{`app.version > "1.0.0-rc.1"`, `,"app":{"version":"1.0.0"}`, true},
		{`app.version == "1.0.0"`, `,"app":{"version":"1.0.0"}`, true},
		{`app.version in ("2.0", "1.0.0")`, `,"app":{"version":"1.0.0"}`, true},
		// null_value: explicit null and null elements index as null_value; missing stays missing
		{`process.pid == -1`, `,"process":{"pid":null}`, true},
		{`process.pid == -1`, `,"process":{"pid":[null, 5]}`, true},
		{`process.pid == -1`, `,"process":{"name":"x"}`, false},
		{`process.pid == null`, `,"process":{"pid":null}`, false}, // exists: it is indexed
		{`process.name == "NULL"`, `,"process":{"name":null}`, true},
		{`process.name : "nu*"`, `,"process":{"name":null}`, true},
		// untyped fields are unchanged
		{`tags == "a*"`, `,"tags":"a*"`, true},
	}
	for _, c := range cases {
		if got, _ := evalTyped(t, types, c.cond, ev(c.members)); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.cond, c.members, got, c.want)
		}
	}
}

// TestTypedNeverTrue: literals the field's type cannot read never match and
// carry a warning (Elasticsearch rejects such a query).
func TestTypedNeverTrue(t *testing.T) {
	types := typedSchema(t)
	for _, cond := range []string{`source.ip == "localhost"`, `source.ip in ("10.0.0.1", "x")`, `source.port == "http"`,
		`@timestamp > "yesterday"`, `ok == "yes"`, `source.ip == 10`} {
		_, warns := evalTyped(t, types, cond, `{"@timestamp":"2026-03-01T10:00:05Z","source":{"ip":"localhost","port":"http"},"ok":"yes"}`)
		if len(warns) != 1 || !strings.Contains(warns[0], "literal the field's type cannot read") {
			t.Errorf("%s: warnings %q", cond, warns)
		}
	}
	if got, _ := evalTyped(t, types, `source.ip == "localhost"`, `{"@timestamp":"2026-03-01T10:00:05Z","source":{"ip":"localhost"}}`); got {
		t.Error("a non-IP literal matched")
	}
}

// TestUntypedUnchanged: without Types, date and ip compare as before.
func TestUntypedUnchanged(t *testing.T) {
	if got, _ := evalTyped(t, nil, `@timestamp == "2026-03-01T10:00:05Z"`, `{"@timestamp":"2026-03-01T10:00:05.000Z"}`); got {
		t.Error("untyped date compared as an instant")
	}
}

// TestOptionalFieldComparison: `?x == ?y` as Elasticsearch's analyzer
// folds it: an optional field absent from the mapping is null, and
// ReplaceNullChecks turns `null == y` into `y == null`.
func TestOptionalFieldComparison(t *testing.T) {
	types := typedSchema(t)
	doc := `{"@timestamp":"2026-03-01T10:00:05Z","tags":"a"}`
	cases := []struct {
		cond string
		want bool
	}{
		{`?nope == ?also_nope`, true},    // null == null: IsNull(null)
		{`?nope != ?also_nope`, false},   // IsNotNull(null)
		{`?nope == ?tags`, false},        // tags == null: tags exists
		{`?nope == ?source.port`, true},  // source.port is missing
		{`?tags == ?nope`, false},        // tags == null
		{`?tags != ?nope`, true},         // tags != null
		{`tags in (?nope, "b")`, false},  // tags in (null, "b")
		{`source.port in (?nope)`, true}, // null in the list: missing matches
		{`not ?nope == ?tags`, true},
		{`?nope == tags`, false}, // tags == null
	}
	for _, c := range cases {
		if got, _ := evalTyped(t, types, c.cond, doc); got != c.want {
			t.Errorf("%s: %v, want %v", c.cond, got, c.want)
		}
	}
	// both in the mapping: the field-to-field comparison ES refuses
	for _, cond := range []string{`?tags == ?source.port`, `tags == ?source.port`, `tags == source.port`} {
		if _, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: "any where " + cond}}}, Options{Types: types}); err == nil {
			t.Errorf("%s compiled", cond)
		}
	}
	// without types nothing folds (behaviour as before)
	if _, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: "any where ?a == ?b"}}}, Options{}); err == nil {
		t.Error("?a == ?b compiled without types")
	}
}
