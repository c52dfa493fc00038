package fieldtype

import (
	"strings"
	"testing"
	"time"
)

func inst(s string) Instant {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return Instant{Sec: t.Unix(), Nano: int32(t.Nanosecond())}
}

// TestDateParse: strict_date_optional_time||epoch_millis, Elasticsearch's
// default date format, with the round-up of missing components its range
// query reference documents ("2099-12" as gt rounds up to
// 2099-12-01T23:59:59.999999999).
func TestDateParse(t *testing.T) {
	f, err := DateFormatOf("")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in      string
		roundUp bool
		want    string // "" = not a date
	}{
		{"2026-03-01T10:00:05Z", false, "2026-03-01T10:00:05Z"},
		{"2026-03-01T10:00:05Z", true, "2026-03-01T10:00:05.999999999Z"},
		{"2026-03-01T10:00:05.000Z", false, "2026-03-01T10:00:05Z"},
		{"2026-03-01T10:00:05.123456789Z", false, "2026-03-01T10:00:05.123456789Z"},
		{"2026-03-01T10:00:05,5Z", false, "2026-03-01T10:00:05.5Z"},
		{"2026-03-01T12:00:05+02:00", false, "2026-03-01T10:00:05Z"},
		{"2026-03-01T12:00:05+0200", false, "2026-03-01T10:00:05Z"},
		{"2026-03-01T09:00:05-01", false, "2026-03-01T10:00:05Z"},
		{"2026-03-01T10:00:05", false, "2026-03-01T10:00:05Z"}, // no offset: UTC
		{"2026-03-01", false, "2026-03-01T00:00:00Z"},
		{"2026-03-01", true, "2026-03-01T23:59:59.999999999Z"},
		{"2099-12", true, "2099-12-01T23:59:59.999999999Z"}, // the ES reference's example
		{"2026", false, "2026-01-01T00:00:00Z"},
		{"2026-03-01T10", true, "2026-03-01T10:59:59.999999999Z"},
		{"1772359205000", false, "2026-03-01T10:00:05Z"}, // epoch_millis
		{"1772359205000.5", false, "2026-03-01T10:00:05.0005Z"},
		{"-1000", false, "1969-12-31T23:59:59Z"},
		{"2026-02-30", false, ""},
		{"2026-3-01", false, ""},
		{"26-03-01", false, ""},
		{"2026-03-01T25:00", false, ""},
		{"2026-03-01 10:00:05", false, ""},
		{"yesterday", false, ""},
		{"", false, ""},
	}
	for _, c := range cases {
		got, ok := f.Parse(c.in, c.roundUp)
		if c.want == "" {
			if ok {
				t.Errorf("%q: parsed as %v, want an error", c.in, got)
			}
			continue
		}
		if !ok || got != inst(c.want) {
			t.Errorf("%q (roundUp %v): %v %v, want %s", c.in, c.roundUp, got, ok, c.want)
		}
	}
	if got, _ := f.FromNumber(1772359205000); got != inst("2026-03-01T10:00:05Z") {
		t.Errorf("number: %v", got)
	}
	if got := inst("2026-03-01T10:00:05.123456789Z").Truncate(Date); got != inst("2026-03-01T10:00:05.123Z") {
		t.Errorf("truncate: %v", got)
	}
	sec, _ := DateFormatOf("epoch_second")
	if got, ok := sec.Parse("1772359205", false); !ok || got != inst("2026-03-01T10:00:05Z") {
		t.Errorf("epoch_second: %v", got)
	}
	if _, err := DateFormatOf("yyyy/MM/dd"); err == nil {
		t.Error("custom patterns must be refused")
	}
}

// TestCompareVersions: Semantic Versioning 2.0 precedence (its section 11
// example chain), extra numeric parts, and invalid versions last.
func TestCompareVersions(t *testing.T) {
	chain := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2", "1.2.0", "1.10.0", "2.0.0", "2.0.0.1", "10.0.0", "abc", "b"}
	for i := range chain {
		for j := range chain {
			got := CompareVersions(chain[i], chain[j])
			want := cmpLen(i, j)
			if got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", chain[i], chain[j], got, want)
			}
		}
	}
	if CompareVersions("1.0.0+build.1", "1.0.0+build.2") == 0 {
		t.Error("versions differing in build metadata are different terms")
	}
}

// TestAddMapping: a GET <index>/_mapping body with nested objects,
// multi-fields, an alias, null_value and a date format.
func TestAddMapping(t *testing.T) {
	const m = `{"logs-endpoint.events.process-default": {"mappings": {"properties": {
	  "@timestamp": {"type": "date"},
	  "process": {"properties": {
	    "pid": {"type": "long", "null_value": -1},
	    "name": {"type": "keyword", "fields": {"text": {"type": "match_only_text"}}},
	    "start": {"type": "date", "format": "epoch_second"},
	    "parent": {"type": "object", "properties": {"pid": {"type": "long"}}}
	  }},
	  "app": {"properties": {"version": {"type": "version"}, "flag": {"type": "boolean", "null_value": false}}},
	  "cost": {"type": "scaled_float", "scaling_factor": 100},
	  "pid_alias": {"type": "alias", "path": "process.pid"},
	  "src": {"type": "ip", "null_value": "0.0.0.0"}
	}}}}`
	s := New()
	if err := s.AddMapping([]byte(m)); err != nil {
		t.Fatal(err)
	}
	want := map[string]Type{"@timestamp": Date, "process.pid": Long, "process.name": Keyword, "process.name.text": Text,
		"process.start": Date, "process.parent.pid": Long, "app.version": Version, "app.flag": Boolean,
		"cost": ScaledFloat, "pid_alias": Long, "src": IP}
	for n, ty := range want {
		if got := s.Type(n); got != ty {
			t.Errorf("%s: %v, want %v", n, got, ty)
		}
	}
	if f, _ := s.Lookup("process.pid"); f.NullValue != float64(-1) {
		t.Errorf("null_value %v", f.NullValue)
	}
	if f, _ := s.Lookup("cost"); f.ScalingFactor != 100 {
		t.Errorf("scaling_factor %v", f.ScalingFactor)
	}
	if !s.Known("process.parent") || s.Known("process.parnt") {
		t.Error("objects")
	}
	for _, bad := range []string{`[]`, `{"i": {}}`, `{"properties": {"d": {"type": "date", "format": "dd/MM"}}}`,
		`{"properties": {"a": {"type": "alias", "path": "nope"}}}`, `{"properties": {"c": {"type": "scaled_float"}}}`} {
		if err := New().AddMapping([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestBuiltin: types that change semantics, names, coverage and
// suggestions.
func TestBuiltin(t *testing.T) {
	s := Builtin()
	want := map[string]Type{"@timestamp": Date, "process.pid": Long, "process.parent.pid": Long,
		"process.entry_leader.parent.session_leader.pid": Long, "source.ip": IP, "destination.port": Long,
		"process.start": Date, "file.size": Long, "process.code_signature.trusted": Boolean, "host.ip": IP,
		"process.name": Keyword, "process.command_line": Wildcard, "file.Ext.entropy": Double,
		"event.ingested": Date, "source.as.number": Long, "user.target.name": Keyword, "message": Text}
	for n, ty := range want {
		if got := s.Type(n); got != ty {
			t.Errorf("%s: %v, want %v", n, got, ty)
		}
	}
	for _, n := range []string{"process.nam", "proces.name", "user.nmae"} {
		if s.Known(n) {
			t.Errorf("%s known", n)
		}
	}
	if !s.Covered("process.nam") || s.Covered("process.Ext.anything") || s.Covered("winlog.event_data.X") ||
		s.Covered("cloud.provider") || s.Covered("Effective_process.x") || s.Covered("dns.answers.data") ||
		s.Covered("file.pe.sections.name") || s.Covered("file.x509.issuer.common_name") || !s.Covered("dns.answer") {
		t.Error("coverage")
	}
	if got := s.Suggest("process.nmae", nil, 3); len(got) == 0 || got[0] != "process.name" {
		t.Errorf("suggest: %v", got)
	}
	if got := s.Suggest("process.parent.executible", nil, 1); len(got) == 0 || got[0] != "process.parent.executable" {
		t.Errorf("suggest: %v", got)
	}
	if n := len(s.Names()); n < 800 {
		t.Errorf("only %d built-in fields", n)
	}
	if !strings.HasPrefix(ECSVersion, "8.") {
		t.Error(ECSVersion)
	}
}
