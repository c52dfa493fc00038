package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// refDecode extracts the values of the schema's fields from raw with
// encoding/json's tokenizer, in document order: the reference the compact
// decoder must agree with.
func refDecode(t *testing.T, s *schema, raw []byte) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	record := func(path, v string) {
		if i, ok := s.index[path]; ok {
			out[i] = append(out[i], v)
		}
	}
	token := func() json.Token {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("reference decoder: %v", err)
		}
		return tok
	}
	var value func(path string)
	value = func(path string) {
		switch x := token().(type) {
		case json.Delim:
			if x == '{' {
				if path != "" {
					record(path, "{object}")
				}
				for dec.More() {
					k := token().(string)
					if path != "" {
						k = path + "." + k
					}
					value(k)
				}
			} else {
				for dec.More() {
					value(path)
				}
			}
			token() // closing delimiter
		case string:
			record(path, "s:"+x)
		case json.Number:
			record(path, "n:"+x.String())
		case bool:
			record(path, fmt.Sprint("b:", x))
		}
	}
	value("")
	return out
}

func gotDecode(ev *Event, n int) map[int][]string {
	out := map[int][]string{}
	for slot := 0; slot < n; slot++ {
		for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
			v := ev.vals[i-1].v
			var s string
			switch v.Kind {
			case KindString:
				s = "s:" + string(v.Str)
			case KindNumber:
				s = "n:" + string(v.Str)
			case KindBool:
				s = fmt.Sprint("b:", v.Bool)
			case KindObject:
				s = "{object}"
			}
			out[slot] = append(out[slot], s)
		}
	}
	return out
}

// TestDecodeMatchesEncodingJSON compares the values the decoder extracts
// with those encoding/json reads, over generated events (with dotted keys)
// and hand-written edge cases, for the schema of the Linux corpus rules.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	p := compileDefs(t, append(linuxDefs(t), RuleDef{ID: "extra", Source: srcOf(
		`any where a.b == "x" or c == 1 or d == true or e.f == "y" or process.name == "z"`)}), Options{})
	evs := loadBenchEvents(t)
	extra := []string{
		`{"a":{"b":"\u00e9\ud83d\ude00\n\"x\""},"c":[1,-2.5e3,[3]],"d":[true,false,null],"e.f":"y","e":{"f":"z"}}`,
		`{"process.name":"sh","process":{"name":"bash"},"a":[{"b":"1"},{"b":"2"}],"c":0}`,
		` { "a" : { "b" : "spaced" } , "c" : 12345678901234567890 } `,
		`{"a":{"b":"0123456789abcdef0123456789\u0041"},"x":{"y":["\\","\/"]}}`,
		// keys sharing a schema key's print (length, first, middle, last
		// byte) or its first eight bytes, and escaped keys
		`{"pXYcZZs":{"name":"no"},"process":{"command_lnne":"no","command_line":"yes","nXmX":"no"}}`,
		`{"\u0061":{"\u0062":"esc"},"pro\u0063ess":{"n\u0061me":"esc2"}}`,
	}
	var ev Event
	var d decoder
	check := func(raw []byte) {
		if err := p.sch.decode(raw, &ev, 64, &d); err != nil {
			t.Fatalf("decode %.80s: %v", raw, err)
		}
		want := refDecode(t, p.sch, raw)
		got := gotDecode(&ev, len(p.sch.names))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			for slot := range p.sch.names {
				if fmt.Sprint(got[slot]) != fmt.Sprint(want[slot]) {
					t.Errorf("%s: got %q, want %q in %.200s", p.sch.names[slot], got[slot], want[slot], raw)
				}
			}
			t.FailNow()
		}
	}
	for _, e := range extra {
		check([]byte(e))
	}
	for _, e := range evs[:4000] {
		check(e)
	}
	// numbers keep their value
	if err := p.sch.decode([]byte(`{"c":[-0,12,1.5,123456789012345678]}`), &ev, 64, &d); err != nil {
		t.Fatal(err)
	}
	var nums []string
	ev.anyValue(p.sch.index["c"], func(v Value) bool { nums = append(nums, fmt.Sprint(v.Num)); return false })
	if got := strings.Join(nums, " "); got != "-0 12 1.5 1.2345678901234568e+17" {
		t.Errorf("numbers: got %s", got)
	}
}

func srcOf(q string) *eql.Source { return &eql.Source{Text: q} }

// TestScanStr: the eight-bytes-at-a-time scan finds the same first stop
// byte as a byte loop, for every byte value at every position.
func TestScanStr(t *testing.T) {
	buf := make([]byte, 40)
	seed := uint32(1)
	for iter := 0; iter < 20; iter++ {
		for k := range buf {
			seed = seed*1664525 + 1013904223
			buf[k] = byte(seed>>24) | 0x20 // plain bytes, but for '"' and '\\' by chance
		}
		for pos := 0; pos < len(buf); pos++ {
			for c := 0; c < 256; c++ {
				old := buf[pos]
				buf[pos] = byte(c)
				for start := 0; start < 10; start++ {
					want := start
					for want < len(buf) && !strStop[buf[want]] {
						want++
					}
					if got := scanStr(buf, start); got != want {
						t.Fatalf("scanStr(%q, %d) = %d, want %d", buf, start, got, want)
					}
				}
				buf[pos] = old
			}
		}
	}
}

// TestDecodeErrors pins the error of each kind of malformed event: offset,
// reason and message (the dead-letter headers carry them). The table was
// produced by the decoder before its rewrite for speed.
func TestDecodeErrors(t *testing.T) {
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: `any where a.b == "x" or process.name : "s*" or process.pid == 1`}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, reason, err string }{
		{"", "malformed_json", "byte 0: empty input"},
		{"   ", "malformed_json", "byte 3: empty input"},
		{"[1,2]", "not_object", "byte 0: the event is valid JSON but not an object"},
		{"\"x\"", "not_object", "byte 0: the event is valid JSON but not an object"},
		{"12", "not_object", "byte 0: the event is valid JSON but not an object"},
		{"true", "not_object", "byte 0: the event is valid JSON but not an object"},
		{"nul", "malformed_json", "byte 0: invalid literal, expected null"},
		{"{\"a\":1} x", "malformed_json", "byte 8: unexpected 'x' after the end of the event"},
		{"{\"a\":1}}", "malformed_json", "byte 7: unexpected '}' after the end of the event"},
		{"{a:1}", "malformed_json", "byte 1: expected a string key, found 'a'"},
		{"{\"a\" 1}", "malformed_json", "byte 5: expected ':' after an object key, found '1'"},
		{"{\"a\":}", "malformed_json", "byte 5: expected a value, found '}'"},
		{"{\"a\":1,}", "malformed_json", "byte 7: expected a string key, found '}'"},
		{"{\"a\":1 \"b\":2}", "malformed_json", "byte 7: expected ',' or '}' in object, found '\"'"},
		{"{\"a\":\"x", "malformed_json", "byte 7: unterminated string"},
		{"{\"a\":\"x\\q\"}", "malformed_json", "byte 7: invalid escape '\\q' in string"},
		{"{\"a\":\"\\u12\"}", "malformed_json", "byte 8: invalid \\u escape"},
		{"{\"a\":\"\\ud800\\u12x\"}", "malformed_json", "byte 14: invalid \\u escape"},
		{"{\"a\":\"x\x01\"}", "malformed_json", "byte 7: control character 0x1 in string"},
		{"{\"a\":[1,2}", "malformed_json", "byte 9: expected ',' or ']' in array, found '}'"},
		{"{\"a\":[1 2]}", "malformed_json", "byte 8: expected ',' or ']' in array, found '2'"},
		{"{\"a\":01}", "malformed_json", "byte 5: invalid number"},
		{"{\"a\":-}", "malformed_json", "byte 5: invalid number"},
		{"{\"a\":1.}", "malformed_json", "byte 7: invalid number"},
		{"{\"a\":1e}", "malformed_json", "byte 7: invalid number"},
		{"{\"a\":tru}", "malformed_json", "byte 5: invalid literal, expected true"},
		{"{\"a\":fals}", "malformed_json", "byte 5: invalid literal, expected false"},
		{"{\"a\":nulx}", "malformed_json", "byte 5: invalid literal, expected null"},
		{"{\"a\":{\"b\":{\"c\":{\"d\":1}}}}", "too_deep", "byte 15: nesting deeper than 3 levels"},
		{"{\"a\":[[[[1]]]]}", "too_deep", "byte 7: nesting deeper than 3 levels"},
		{"{\"process\":{\"name\":\"x\\q\"}}", "malformed_json", "byte 21: invalid escape '\\q' in string"},
		{"{\"process\":{\"name\":[1,}}", "malformed_json", "byte 22: expected a value, found '}'"},
		{"{\"process\":{\"name\":\"\\u00\"}}", "malformed_json", "byte 22: invalid \\u escape"},
		{"{\"process\":{\"name\":\"a\x1f\"}}", "malformed_json", "byte 21: control character 0x1f in string"},
		{"{\"pro\\qcess\":1}", "malformed_json", "byte 5: invalid escape '\\q' in string"},
		{"{\"x\":{\"y\":\"z\\", "malformed_json", "byte 12: unterminated string"},
		{"{\"x\":{\"y\" \"z\"}}", "malformed_json", "byte 10: expected ':' after an object key, found '\"'"},
		{"{\"process\":{\"name\":1e999}}", "", "<nil>"},
		{"{\"process\":{\"pid\":-01}}", "malformed_json", "byte 18: invalid number"},
		{"{", "malformed_json", "byte 1: expected a string key, found end of input"},
		{"{\"a\"", "malformed_json", "byte 4: expected ':' after an object key, found end of input"},
		{"{\"a\":", "malformed_json", "byte 5: expected a value, found end of input"},
		{"{\"a\":1", "malformed_json", "byte 6: unterminated object"},
		{"{\"process\":{", "malformed_json", "byte 12: expected a string key, found end of input"},
		{"{\"process\":{\"name\"", "malformed_json", "byte 18: expected ':' after an object key, found end of input"},
		{"{\"x\":[", "malformed_json", "byte 6: expected a value, found end of input"},
		{"{\"x\":[\"a\",", "malformed_json", "byte 10: expected a value, found end of input"},
		{"{\"process\":{\"name\":\"a\\", "malformed_json", "byte 21: unterminated string"},
		{"{\"process\":{\"name\":\"a\\u", "malformed_json", "byte 23: invalid \\u escape"},
	}
	for _, c := range cases {
		var ev Event
		var d decoder
		err := p.sch.decode([]byte(c.in), &ev, 3, &d)
		reason := ""
		if de, ok := err.(*DecodeError); ok {
			reason = de.Reason
		}
		if reason != c.reason || fmt.Sprint(err) != c.err {
			t.Errorf("%q: got %s (%q), want %s (%q)", c.in, reason, err, c.reason, c.err)
		}
	}
}
