package engine

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

var fuzzEvents = []string{
	`{"@timestamp":"2026-01-01T00:00:00.000Z","event":{"category":["process"],"type":["start"]},"process":{"name":"sh","args":["sh","-c","id"],"parent":{"name":"apt"}},"host":{"id":"h1"}}`,
	`{"@timestamp":"2026-01-01T00:00:01Z","event.category":"network","destination":{"ip":"8.8.8.8"},"process.parent.entity_id":"A","host.id":"h1"}`,
	`{"a":[1,2,{"b":"\u00e9\ud83d\ude00"}],"c":null,"d":true,"e":-1.5e3}`,
	`[1,2]`, `"x"`, `{"a":}`, `{"a":"\x"}`, `{}`, ``,
}

// FuzzDecode checks the decoder against encoding/json: it never panics, and
// it accepts exactly the JSON objects encoding/json accepts (within the
// nesting limit).
func FuzzDecode(f *testing.F) {
	for _, e := range fuzzEvents {
		f.Add([]byte(e))
	}
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: `any where a.b == "x" or process.name : "s*" or destination.ip == "1.2.3.4"`}}}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev Event
		var d decoder
		err := p.sch.decode(data, &ev, 64, &d)
		valid := json.Valid(data)
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		if err == nil && !valid {
			t.Fatalf("decoder accepted invalid JSON %q", data)
		}
		if err != nil && valid && de.Reason == ReasonMalformed {
			t.Fatalf("decoder rejected valid JSON %q: %v", data, err)
		}
	})
}

// FuzzCompileEval compiles arbitrary queries and evaluates them over events:
// no panics, no hangs.
func FuzzCompileEval(f *testing.F) {
	seeds := []string{
		`process where process.name == "sh" and process.args : ("-c", "*curl*")`,
		`sequence by host.id with maxspan=5s [process where true] by process.entity_id ![file where true] [network where true] by process.parent.entity_id`,
		`any where length(process.name) > 2 and cidrmatch(destination.ip, "10.0.0.0/8") or process.name regex~ "s.*"`,
		`sample by host.id [process where true] [network where true]`,
		`sequence by host.id [process where true] with runs=3 until [process where event.type == "end"]`,
		`process where substring(process.name, -2) == "sh" and between(process.name, "a", "b") != null and number("0x10", 16) == 16`,
		`any where @timestamp >= "2024-01" and source.ip in ("10.0.0.0/8", "::1") and process.pid < "9" and ?a == ?b and x regex "<1-20>[a-]]"`,
	}
	for i, q := range seeds {
		f.Add(q, fuzzEvents[i%3])
	}
	f.Fuzz(func(t *testing.T, q, event string) {
		if len(q) > 4096 || len(event) > 16384 {
			return // bounded work per input: no slow inputs at shutdown
		}
		for _, types := range []*fieldtype.Schema{nil, fieldtype.Builtin()} { // untyped and typed (typed.go)
			p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: q}}}, Options{Types: types})
			if err != nil || len(p.Rules()) == 0 {
				continue
			}
			e := p.NewEngine()
			for i := 0; i < 3; i++ {
				_, _, _ = e.Process([]byte(event), uint64(i))
			}
			e.Flush()
			snap := e.Snapshot()
			e2 := p.NewEngine()
			if err := e2.Restore(snap); err != nil {
				t.Fatalf("restore: %v", err)
			}
		}
	})
}
