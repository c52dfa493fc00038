package engine

// Semantics tests. Every expected result here comes from Elasticsearch's EQL
// documentation or source, cited per case, never from this engine's output.
// Where the engine disagrees with Elasticsearch the test keeps asserting the
// Elasticsearch behaviour.
//
// Abbreviations used in the citations (paths in elastic/elasticsearch):
//
//	syntax   docs/reference/query-languages/eql/eql-syntax.md (section anchor in brackets)
//	funcref  docs/reference/query-languages/eql/eql-function-ref.md
//	seq/     x-pack/plugin/eql/src/main/java/org/elasticsearch/xpack/eql/execution/sequence/
//	sample/  x-pack/plugin/eql/src/main/java/org/elasticsearch/xpack/eql/execution/sample/
//	planner/ x-pack/plugin/eql/src/main/java/org/elasticsearch/xpack/eql/planner/
//	ql/      x-pack/plugin/ql/src/main/java/org/elasticsearch/xpack/ql/
//	qa/      x-pack/plugin/eql/qa/common/src/main/resources/
//	Ordinal  x-pack/plugin/eql/src/main/java/org/elasticsearch/xpack/eql/execution/search/Ordinal.java
//
// Key source facts the sequence cases rely on:
//   - seq/SequenceMatcher.match: a hit of stage k takes, from the group of
//     stage k-1 for its key, the latest sequence whose ordinal is strictly
//     before the hit (seq/OrdinalGroup.trimBefore) and removes it and every
//     older one: "overwrite" and "consume". The maxspan and until checks run
//     after the removal, so a rejected candidate is consumed too.
//   - SequenceMatcher.exceedsMaxSpan: `to.delta(from) > maxSpanInNanos`, so a
//     span equal to maxspan is accepted.
//   - until: `nearestUntil.between(sequence.ordinal(), ordinal)`, where
//     Ordinal.between is inclusive on both ends.
//   - Ordinal.compareTo: timestamp, then tiebreaker (a null tiebreaker sorts
//     last), then the implicit tiebreaker (index order, i.e. arrival).
//   - seq/TumblingWindow.prepareQueryForMissingEvents / doCheckMissingEvents:
//     a middle missing stage looks for an event with the stage's keys and
//     timestamp strictly between the neighbouring positive events'
//     timestamps; a leading one for the latest event with timestamp strictly
//     before the first positive event, a trailing one for the earliest event
//     strictly after the last positive event. The sequence completes when:
//     no leading/trailing hit; or leading only and
//     last.ts - lastLeading > maxspan; or trailing only and
//     firstTrailing - first.ts > maxspan; or, with both leading and trailing
//     stages, firstTrailing - lastLeading > maxspan (a missing side counts as
//     infinitely far). Completed candidates are checked independently
//     (a set, toCheckForMissing), never overwritten.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// ---------------------------------------------------------------------------
// Helpers

// predCase is one condition evaluated with `any where cond` on one event.
type predCase struct {
	src  string // where the expected answer comes from
	cond string
	doc  string // JSON members of the event, without braces
	want bool
}

// evalCond reports whether `any where cond` matches an event with members.
func evalCond(t *testing.T, cond, members string) (bool, error) {
	t.Helper()
	q := "any where " + cond
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: q}}}, Options{})
	if err != nil {
		return false, err
	}
	e := p.NewEngine()
	raw := `{"@timestamp":"2024-01-01T00:00:00Z","event":{"category":["process"]}` + prefixComma([]string{members}) + `}`
	if members == "" {
		raw = `{"@timestamp":"2024-01-01T00:00:00Z","event":{"category":["process"]}}`
	}
	ms, _, err := e.Process([]byte(raw), 1)
	if err != nil {
		return false, fmt.Errorf("process: %w", err)
	}
	return len(ms) > 0, nil
}

func runPredCases(t *testing.T, cases []predCase) {
	t.Helper()
	for _, c := range cases {
		name := c.cond + " | " + c.doc
		t.Run(name, func(t *testing.T) {
			got, err := evalCond(t, c.cond, c.doc)
			if err != nil {
				t.Fatalf("%v (expected per %s)", err, c.src)
			}
			if got != c.want {
				t.Errorf("any where %s on {%s}: got %v, want %v (per %s)", c.cond, c.doc, got, c.want, c.src)
			}
		})
	}
}

// seqCase is a sequence or sample query over events built with ev; want lists
// the matches as 1-based event indexes, 0 for a missing stage, compared as a
// multiset.
type seqCase struct {
	name   string
	src    string
	query  string
	opts   Options
	events []string
	want   [][]int
}

func sortMatches(ms [][]int) [][]int {
	out := append([][]int(nil), ms...)
	sort.SliceStable(out, func(i, j int) bool { return slices.Compare(out[i], out[j]) < 0 })
	return out
}

func sameMatches(a, b [][]int) bool {
	a, b = sortMatches(a), sortMatches(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func runSeqCases(t *testing.T, cases []seqCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, c.query, c.opts, c.events...)
			if !sameMatches(got, c.want) {
				t.Errorf("%s\ngot  %v\nwant %v (per %s)", c.query, sortMatches(got), sortMatches(c.want), c.src)
			}
		})
	}
}

// evk builds an event at second s with a join key field k.
func evk(cat string, s float64, k string, members ...string) string {
	return ev(cat, s, append([]string{fmt.Sprintf(`"k":%q`, k)}, members...)...)
}

// ---------------------------------------------------------------------------
// (i) Case rules

func TestSemanticsCaseRules(t *testing.T) {
	const up = `"process":{"name":"CMD.EXE"}`
	const low = `"process":{"name":"cmd.exe"}`
	const star = `"process":{"name":"cmd*.exe"}`
	const one = `"process":{"name":"cmd1.exe"}`
	const dom = `"url":{"domain":"subdomain.example.com"}`
	const cmdline = `"process":{"command_line":"start regsvr32.exe"}`
	const path = `"file":{"path":"C:\\Windows\\System32\\cmd.exe"}`
	runPredCases(t, []predCase{
		// == and != are case-sensitive, no wildcards.
		{"syntax [eql-syntax-comparison-operators] `==` (equal, case-sensitive)", `process.name == "cmd.exe"`, up, false},
		{"syntax [eql-syntax-comparison-operators]", `process.name == "cmd.exe"`, low, true},
		{"syntax [eql-syntax-comparison-operators] `!=` (not equal, case-sensitive)", `process.name != "cmd.exe"`, up, true},
		{"syntax [eql-syntax-comparison-operators] `!=`", `process.name != "cmd.exe"`, low, false},
		{"syntax [eql-unsupported-syntax] == does not expand wildcard characters", `process.name == "cmd*.exe"`, one, false},
		{"syntax [eql-unsupported-syntax] * is a literal asterisk in ==", `process.name == "cmd*.exe"`, star, true},
		{"syntax [eql-unsupported-syntax] != does not expand wildcards", `process.name != "cmd*.exe"`, one, true},
		{"syntax [eql-syntax-lookup-operators] in is case-sensitive; * literal (term query)", `process.name in ("cmd*")`, one, false},
		// : is case-insensitive with wildcards and lists (= like~).
		{"syntax [eql-syntax-comparison-operators] `:` (equal, case-insensitive)", `process.name : "cmd.exe"`, up, true},
		{"syntax [eql-syntax-wildcards] `:` supports *", `process.name : "cmd*"`, up, true},
		{"syntax [eql-syntax-wildcards] `:` supports ? (one character)", `process.name : "c?d.exe"`, up, true},
		{"syntax [eql-syntax-wildcards] ? matches exactly one character", `process.name : "c?.exe"`, up, false},
		{"syntax [eql-syntax-lookup-operators] `:` with a list", `process.name : ("foo", "CMD.exe")`, low, true},
		{"syntax [eql-syntax-wildcards] `:` list with wildcards", `process.name : ("foo*", "*.EXE")`, low, true},
		// like / like~
		{"syntax [eql-syntax-pattern-comparison-keywords] like is case-sensitive", `process.name like "cmd*"`, up, false},
		{"syntax [eql-syntax-pattern-comparison-keywords]", `process.name like "cmd*"`, low, true},
		{"syntax [eql-syntax-pattern-comparison-keywords] like~ is case-insensitive", `process.name like~ "cmd*"`, up, true},
		{"syntax [eql-syntax-lookup-operators] like with a list", `process.name like ("x", "CMD?EXE")`, up, true},
		{"syntax [eql-syntax-lookup-operators] like~ with a list", `process.name like~ ("x", "cmd?exe")`, up, true},
		// in / in~ / not in~
		{"syntax [eql-syntax-lookup-operators] in is case-sensitive", `process.name in ("cmd.exe", "x")`, up, false},
		{"syntax [eql-syntax-lookup-operators]", `process.name in ("cmd.exe", "x")`, low, true},
		{"syntax [eql-syntax-lookup-operators] in~ is case-insensitive", `process.name in~ ("cmd.exe", "x")`, up, true},
		{"syntax [eql-syntax-lookup-operators] not in~", `process.name not in~ ("cmd.exe")`, up, false},
		{"syntax [eql-syntax-lookup-operators] not in is case-sensitive", `process.name not in ("cmd.exe")`, up, true},
		// regex / regex~: Lucene syntax, anchored to the whole string.
		{"syntax [eql-syntax-pattern-comparison-keywords] regex is case-sensitive", `process.name regex """cmd\.exe"""`, up, false},
		{"syntax [eql-syntax-pattern-comparison-keywords]", `process.name regex """cmd\.exe"""`, low, true},
		{"syntax [eql-syntax-pattern-comparison-keywords] regex~ is case-insensitive", `process.name regex~ """cmd\.exe"""`, up, true},
		{"Lucene regexp (query-dsl/regexp-syntax): patterns match the whole string", `process.name regex "md"`, low, false},
		{"Lucene regexp: whole-string match", `process.name regex ".*md.*"`, low, true},
		{"syntax [eql-syntax-lookup-operators] regex with a list", `process.name regex ("x", "c.d\\.exe")`, low, true},
		// Functions: case-sensitive, fn~ case-insensitive.
		{"funcref startsWith: startsWith(\"regsvr32.exe\", \"Regsvr32\") returns false", `startsWith(process.name, "CMD")`, low, false},
		{"funcref startsWith~: Make matching case-insensitive", `startsWith~(process.name, "CMD")`, low, true},
		{"funcref endsWith: endsWith(\"regsvr32.exe\", \".EXE\") returns false", `endsWith(process.name, ".EXE")`, low, false},
		{"funcref endsWith~(\"regsvr32.exe\", \".EXE\") returns true", `endsWith~(process.name, ".EXE")`, low, true},
		{"funcref stringContains(process.command_line, \"Regsvr32\") returns false", `stringContains(process.command_line, "Regsvr32")`, cmdline, false},
		{"syntax [eql-case-insensitive-functions] stringContains~ matches any case", `stringContains~(process.command_line, "Regsvr32")`, cmdline, true},
		{"funcref indexOf(url.domain, \"D\") returns null", `indexOf(url.domain, "D") == null`, dom, true},
		{"syntax [eql-case-insensitive-functions]: indexOf~ finds \"d\" at 3 (the funcref's 4 is a typo)", `indexOf~(url.domain, "D") == 3`, dom, true},
		{"funcref between(file.path, \"system32\\\\\", \".exe\") returns \"\"", `between(file.path, "system32\\", ".exe") == ""`, path, true},
		{"funcref between~(file.path, \"system32\\\\\", \".exe\") returns \"cmd\"", `between~(file.path, "system32\\", ".exe") == "cmd"`, path, true},
	})
}

// TestSemanticsCategoryIsCaseSensitive: the event category is "an indexed
// value of the event category field" (syntax [eql-basic-syntax]), matched with
// a term query, so it is case-sensitive.
func TestSemanticsCategoryIsCaseSensitive(t *testing.T) {
	got := run(t, `PROCESS where true`, Options{}, ev("process", 1))
	if len(got) != 0 {
		t.Errorf("PROCESS where true matched category process: %v", got)
	}
	got = run(t, `process where true`, Options{}, ev("process", 1))
	if len(got) != 1 {
		t.Errorf("process where true did not match category process")
	}
}

// ---------------------------------------------------------------------------
// (j) Arrays and negation on missing fields

func TestSemanticsArraysAndNegation(t *testing.T) {
	// Field conditions translate to term/range/wildcard/prefix queries, which
	// match a multi-valued field when any value matches; `!=` is
	// NotQuery(TermQuery) and `not` negates the wrapped query (must_not), so a
	// negation matches when no value matches, including a missing field
	// (ql/planner/ExpressionTranslators.java: BinaryComparisons, Nots).
	// startsWith(field, const) is a PrefixQuery, endsWith/stringContains a
	// WildcardQuery, cidrMatch a TermsQuery (planner/QueryTranslator.java), so
	// their negations are must_not too.
	const tr = "ql/planner/ExpressionTranslators.java (TermQuery; NotEquals -> NotQuery; Nots -> negate)"
	const qt = "planner/QueryTranslator.java (startsWith->PrefixQuery, endsWith/stringContains->WildcardQuery, cidrMatch->TermsQuery) + Nots"
	// Functions in comparisons are scripts rewritten per value
	// (planner/QueryTranslator.toQuery -> MultiValueAwareScriptQuery,
	// ql/expression/gen/script/Scripts.multiValueDocValuesRewrite): the
	// predicate is tried on each value (true if any is true); a missing field
	// is tried as null and nullSafeFilter turns null into false; a leading
	// `not(` is hoisted outside the per-value loop.
	const mv = "planner/QueryTranslator.java MultiValueAwareScriptQuery + Scripts.multiValueDocValuesRewrite + InternalEqlScriptUtils.multiValueDocValues"
	const args = `"process":{"args":["sh","-c","whoami"]}`
	const ips = `"destination":{"ip":["192.168.1.1","10.1.2.3"]}`
	const nums = `"n":[1,10]`
	runPredCases(t, []predCase{
		{tr, `process.args == "-c"`, args, true},
		{tr, `process.args != "-c"`, args, false},
		{tr, `process.args != "zzz"`, args, true},
		{tr, `not process.args == "-c"`, args, false},
		{tr, `process.args : "-C"`, args, true},
		{tr, `process.args in ("-c", "x")`, args, true},
		{tr, `process.args not in ("-c")`, args, false},
		{tr, `process.args not in ("zzz")`, args, true},
		{tr, `process.args like "-*"`, args, true},
		{tr, `not process.args like "-*"`, args, false},
		{qt, `startsWith(process.args, "-")`, args, true},
		{qt, `not startsWith(process.args, "-")`, args, false},
		{qt, `cidrMatch(destination.ip, "10.0.0.0/8")`, ips, true},
		{qt, `not cidrMatch(destination.ip, "10.0.0.0/8")`, ips, false},
		{tr + " RangeQuery", `n > 5`, nums, true},
		{tr + " RangeQuery", `n < 5`, nums, true},
		{tr + " RangeQuery negated", `not n > 5`, nums, false},
		{mv, `length(process.args) == 6`, args, true},
		{mv + ": `!=` on a function is a per-value script, \"whoami\" has length 6 != 2", `length(process.args) != 2`, args, true},
		{mv + ": not( hoisted: no value has length 6 is false", `not length(process.args) == 6`, args, false},

		// Missing field.
		{tr, `f == "x"`, ``, false},
		{tr, `f != "x"`, ``, true},
		{tr, `not f == "x"`, ``, true},
		{tr, `f not in ("x")`, ``, true},
		{tr, `not f in~ ("x")`, ``, true},
		{tr + " WildcardQuery", `f : "*"`, ``, false},
		{tr + " WildcardQuery negated", `not f : "x*"`, ``, true},
		{tr + " WildcardQuery negated", `not f like "x*"`, ``, true},
		{tr + " RegexQuery negated", `not f regex "x.*"`, ``, true},
		{tr + " RangeQuery negated", `not f > 5`, ``, true},
		{qt, `not startsWith(f, "x")`, ``, true},
		{qt, `not stringContains(f, "x")`, ``, true},
		{qt, `not endsWith~(f, "x")`, ``, true},
		{qt, `not cidrMatch(f, "10.0.0.0/8")`, ``, true},
		{mv + ": length(null) != 3 is null, nullSafeFilter -> false", `length(f) != 3`, ``, false},
		{mv + ": not(length(null) == 3 -> false) -> true", `not length(f) == 3`, ``, true},

		// Empty array and array of nulls have no doc values: missing.
		{"ES doc values ignore nulls/empty arrays (qa/data/extra.data `tags: []`, `optional_tags: [null]`)", `tags == null`, `"tags":[]`, true},
		{"ES doc values ignore nulls/empty arrays", `tags != null`, `"tags":[]`, false},
		{"ES doc values ignore nulls/empty arrays", `tags == null`, `"tags":[null]`, true},
		{"ES doc values ignore nulls", `tags == "a"`, `"tags":[null,"a"]`, true},
	})
}

// ---------------------------------------------------------------------------
// (k) null comparisons and (l) functions

func TestSemanticsNull(t *testing.T) {
	const exists = "ql/planner/ExpressionTranslators.java IsNulls (NotQuery(ExistsQuery)) / IsNotNulls (ExistsQuery); syntax [eql-syntax-check-field-exists]"
	const opt = "syntax [eql-syntax-optional-fields]; qa/test_extra.toml optionalMissingFieldNullEquality/ImplicitBooleanEquality"
	runPredCases(t, []predCase{
		{exists, `f == null`, ``, true},
		{exists, `f == null`, `"f":null`, true},
		{exists, `f == null`, `"f":""`, false},
		{exists, `f != null`, `"f":"x"`, true},
		{exists, `f != null`, `"f":""`, true},
		{exists, `f != null`, `"f":null`, false},
		{exists, `f != null`, `"f":0`, true},
		{opt, `?f == null`, ``, true},
		{opt, `?f != null`, ``, false},
		{opt, `?f`, ``, false},
		{"funcref concat: concat(null, ...) returns null", `concat(f, "x") == null`, ``, true},
		{"funcref concat: concat(process.name, null) returns null", `concat("x", f) == null`, ``, true},
		{"funcref length: length(null) returns null", `length(f) == null`, ``, true},
		{"funcref between: between(null, ...) returns null", `between(f, "a", "b") == null`, ``, true},
		{"funcref startsWith: startsWith(null, ...) returns null", `startsWith(f, "x") == null`, ``, true},
		{"funcref cidrMatch: cidrMatch(null, ...) returns null", `cidrMatch(f, "10.0.0.0/8") == null`, ``, true},
		{"funcref number: number(null) returns null", `number(f) == null`, ``, true},
		{"funcref add: add(null, 4) returns null", `add(f, 4) == null`, ``, true},
		{"funcref string: string(null) returns null", `string(f) == null`, ``, true},
		{"funcref indexOf: indexOf(null, ...) returns null", `indexOf(f, ".") == null`, ``, true},
		{"funcref substring of a missing field is null", `substring(f, 1) == null`, ``, true},
	})
}

func TestSemanticsFunctions(t *testing.T) {
	const path = `"file":{"path":"C:\\Windows\\System32\\cmd.exe"}`
	const start = `"s":"start regsvr32.exe"`
	const dom = `"url":{"domain":"subdomain.example.com"}`
	const ip4 = `"source":{"address":"192.168.152.12"}`
	const slice = "seq/../expression/function/scalar/string/StringUtils.substringSlice (Python slice semantics)"
	runPredCases(t, []predCase{
		// between (funcref `between`; StringUtils.between)
		{"funcref between", `between(file.path, "System32\\", ".exe") == "cmd"`, path, true},
		{"funcref between", `between(file.path, "workspace\\", ".exe") == ""`, path, true},
		{"funcref between: greedy defaults to false", `between(file.path, "\\", "\\", false) == "Windows"`, path, true},
		{"funcref between: greedy", `between(file.path, "\\", "\\", true) == "Windows\\System32"`, path, true},
		{"funcref between: empty source returns \"\"", `between(s, "System32\\", ".exe") == ""`, `"s":""`, true},
		{"StringUtils.between: an empty left or right returns the source unchanged", `between(s, "", "c") == "abc"`, `"s":"abc"`, true},
		// substring
		{"funcref substring", `substring(s, 6) == "regsvr32.exe"`, start, true},
		{"funcref substring", `substring(s, 0, 5) == "start"`, start, true},
		{"funcref substring", `substring(s, 6, 14) == "regsvr32"`, start, true},
		{"funcref substring: negative offsets", `substring(s, -4) == ".exe"`, start, true},
		{"funcref substring: negative offsets", `substring(s, -4, -1) == ".ex"`, start, true},
		{"funcref substring: start > end returns \"\"", `substring(s, 10, 5) == ""`, start, true},
		{"funcref substring: start > length returns \"\"", `substring(s, 100) == ""`, start, true},
		{slice + ": start clamped to 0", `substring(s, -100, 5) == "start"`, start, true},
		{slice + ": end clamped to length", `substring(s, 6, 100) == "regsvr32.exe"`, start, true},
		// indexOf
		{"funcref indexOf", `indexOf(url.domain, "d") == 3`, dom, true},
		{"funcref indexOf", `indexOf(url.domain, ".") == 9`, dom, true},
		{"funcref indexOf", `indexOf(url.domain, ".", 9) == 9`, dom, true},
		{"funcref indexOf", `indexOf(url.domain, ".", 10) == 17`, dom, true},
		{"funcref indexOf: negative start treated as 0", `indexOf(url.domain, ".", -6) == 9`, dom, true},
		{"funcref indexOf: empty substring", `indexOf(url.domain, "") == 0`, dom, true},
		{"funcref indexOf: empty substring with start", `indexOf(url.domain, "", 9) == 9`, dom, true},
		{"funcref indexOf: empty substring with start", `indexOf(url.domain, "", 10) == 10`, dom, true},
		{"funcref indexOf: empty substring, negative start", `indexOf(url.domain, "", -6) == 0`, dom, true},
		{"funcref indexOf: missing substring", `indexOf(url.domain, "z") == null`, dom, true},
		{"funcref indexOf: missing substring", `indexOf(url.domain, "z", 9) == null`, dom, true},
		{"funcref indexOf: start beyond length", `indexOf(url.domain, ".", 30) == null`, dom, true},
		{"funcref indexOf: empty strings", `indexOf(s, "") == 0`, `"s":""`, true},
		// number
		{"funcref number", `number(s) == 1337`, `"s":"1337"`, true},
		{"funcref number", `number(s) == 42.5`, `"s":"42.5"`, true},
		{"funcref number", `number(s) == -1337`, `"s":"-1337"`, true},
		{"funcref number: base", `number(s, 16) == 255`, `"s":"ff"`, true},
		{"funcref number: base", `number(s, 2) == 5`, `"s":"101"`, true},
		{"funcref number + ToNumberFunctionProcessor: \"0x\" auto-detected as hexadecimal", `number(s) == 255`, `"s":"0xff"`, true},
		{"funcref number: \"0x\" with base 16", `number(s, 16) == 255`, `"s":"0xff"`, true},
		{"ToNumberFunctionProcessor: a null base is 10", `number(s, null) == 42`, `"s":"42"`, true},
		{"ToNumberFunctionProcessor: a null base auto-detects \"0x\"", `number(s, null) == 255`, `"s":"0xff"`, true},
		{"ToNumberFunctionProcessor: only a lowercase \"0x\" prefix is hexadecimal", `number(s) == null`, `"s":"0XFF"`, true},
		// length, string, concat
		{"funcref length", `length(s) == 12`, `"s":"explorer.exe"`, true},
		{"funcref length", `length(s) == 18`, `"s":"start explorer.exe"`, true},
		{"funcref length", `length(s) == 0`, `"s":""`, true},
		{"funcref string", `string(n) == "42"`, `"n":42`, true},
		{"funcref string", `string(n) == "42.5"`, `"n":42.5`, true},
		{"funcref string", `string(b) == "true"`, `"b":true`, true},
		{"funcref concat", `concat(process.name, " ", 42) == "regsvr32.exe 42"`, `"process":{"name":"regsvr32.exe"}`, true},
		{"funcref concat", `concat(process.name, " ", 42.5) == "regsvr32.exe 42.5"`, `"process":{"name":"regsvr32.exe"}`, true},
		{"funcref concat", `concat(process.name, " ", true) == "regsvr32.exe true"`, `"process":{"name":"regsvr32.exe"}`, true},
		{"funcref concat", `concat(process.name, " ", process.arg_count) == "regsvr32.exe 4"`, `"process":{"name":"regsvr32.exe","arg_count":4}`, true},
		{"funcref concat", `concat(process.name) == "regsvr32.exe"`, `"process":{"name":"regsvr32.exe"}`, true},
		// startsWith / endsWith / stringContains
		{"funcref startsWith", `startsWith(s, "regsvr32")`, `"s":"regsvr32.exe"`, true},
		{"funcref startsWith", `startsWith(s, "explorer")`, `"s":"regsvr32.exe"`, false},
		{"funcref startsWith(\"\", \"\") returns true", `startsWith(s, "")`, `"s":""`, true},
		{"funcref endsWith(\"\", \"\") returns true", `endsWith(s, "")`, `"s":""`, true},
		{"funcref stringContains", `stringContains(s, "start ")`, start, true},
		{"funcref stringContains", `stringContains(s, "explorer")`, start, false},
		// cidrMatch, IPv4 and IPv6 (CIDRUtils.isInRange; upper-case hex parses)
		{"funcref cidrMatch", `cidrMatch(source.address, "192.168.0.0/16")`, ip4, true},
		{"funcref cidrMatch", `cidrMatch(source.address, "192.168.0.0/16", "10.0.0.0/8")`, ip4, true},
		{"funcref cidrMatch", `cidrMatch(source.address, "10.0.0.0/8")`, ip4, false},
		{"funcref cidrMatch", `cidrMatch(source.address, "10.0.0.0/8", "10.128.0.0/9")`, ip4, false},
		{"funcref cidrMatch: Supports IPv4 and IPv6", `cidrMatch(source.address, "FE80::/10")`, `"source":{"address":"fe80::1"}`, true},
		{"funcref cidrMatch: IPv6", `cidrMatch(source.address, "2001:DB8::/32")`, `"source":{"address":"2001:db8::1"}`, true},
		{"funcref cidrMatch: IPv6", `cidrMatch(source.address, "2001:db8::/32")`, `"source":{"address":"2001:db9::1"}`, false},
		{"funcref cidrMatch: IPv6 value in upper case", `cidrMatch(source.address, "fe80::/10")`, `"source":{"address":"FE80::1"}`, true},
		{"funcref cidrMatch: IPv4 address not in an IPv6 block", `cidrMatch(source.address, "FE80::/10")`, ip4, false},
		// arithmetic: integer division rounds down
		{"syntax [eql-divide-operator-float-rounding]: args_count 3 matches (4 / 3 == 1)", `(4 / process.args_count) == 1`, `"process":{"args_count":3}`, true},
		{"syntax [eql-divide-operator-float-rounding]: use a float to avoid rounding", `(4.0 / process.args_count) == 1`, `"process":{"args_count":3}`, false},
		{"funcref divide(4, 3) returns 1", `divide(4, process.args_count) == 1`, `"process":{"args_count":3}`, true},
		{"funcref modulo(10, 6) returns 4", `modulo(process.args_count, 6) == 4`, `"process":{"args_count":10}`, true},
		{"funcref add(process.args_count, 5) returns 9", `add(process.args_count, 5) == 9`, `"process":{"args_count":4}`, true},
		{"funcref multiply(0.5, process.args_count) returns 1", `multiply(0.5, process.args_count) == 1`, `"process":{"args_count":2}`, true},
		{"funcref subtract(process.args_count, 0.5) returns 9.5", `subtract(process.args_count, 0.5) == 9.5`, `"process":{"args_count":10}`, true},
	})
}

// TestSemanticsTimestampEpochMillisString: Elasticsearch's default date
// format is strict_date_optional_time||epoch_millis, and the qa data sets
// index "@timestamp": "1" (qa/data/missing-events.data, extra.data).
func TestSemanticsTimestampEpochMillisString(t *testing.T) {
	got := run(t, `sequence [a where true] [b where true]`, Options{},
		`{"@timestamp":"1","event":{"category":"a"}}`,
		`{"@timestamp":"2","event":{"category":"b"}}`)
	if !sameMatches(got, [][]int{{1, 2}}) {
		t.Errorf("got %v, want [[1 2]]", got)
	}
}

// ---------------------------------------------------------------------------
// Sequences: overwrite and consume, maxspan, until, runs, ties, reordering

// TestSemanticsStateMachineDocExample is the worked example of syntax
// [eql-how-sequence-queries-handle-matches]: one state machine per user.name,
// a newer pending sequence overwrites an older one in the same state, and
// advancing a sequence empties its state.
func TestSemanticsStateMachineDocExample(t *testing.T) {
	names := []struct{ user, proc string }{
		{"root", "attrib"}, {"root", "attrib"}, {"elkbee", "bash"}, {"root", "bash"}, {"root", "bash"},
		{"elkbee", "attrib"}, {"root", "attrib"}, {"elkbee", "bash"}, {"root", "cat"}, {"elkbee", "cat"}, {"root", "cat"},
	}
	var evs []string
	for i, n := range names {
		evs = append(evs, ev("process", float64(i+1), fmt.Sprintf(`"user":{"name":%q}`, n.user), fmt.Sprintf(`"process":{"name":%q}`, n.proc)))
	}
	q := `sequence by user.name
	  [process where process.name == "attrib"]
	  [process where process.name == "bash"]
	  [process where process.name == "cat"]`
	got := run(t, q, Options{}, evs...)
	if want := [][]int{{2, 4, 9}, {6, 8, 10}}; !sameMatches(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestSemanticsSequences(t *testing.T) {
	const ab = `sequence by k with maxspan=5s [a where true] [b where true]`
	const abc = `sequence by k with maxspan=5s [a where true] [b where true] [c where true]`
	const tm = "seq/SequenceMatcher.match + seq/OrdinalGroup.trimBefore"
	const ms = "seq/SequenceMatcher.exceedsMaxSpan (`>`); syntax [eql-with-maxspan-keywords]"
	runSeqCases(t, []seqCase{
		// (a) overwrite and consume
		{"overwrite stage 1", "syntax [eql-how-sequence-queries-handle-matches]: the most recent sequence overwrites the older one; " + tm,
			ab, Options{}, []string{evk("a", 1, "x"), evk("a", 2, "x"), evk("b", 3, "x")}, [][]int{{2, 3}}},
		{"consume", "syntax [eql-how-sequence-queries-handle-matches] (event 5: nothing happens, state A is empty); " + tm,
			ab, Options{}, []string{evk("a", 1, "x"), evk("b", 2, "x"), evk("b", 3, "x")}, [][]int{{1, 2}}},
		{"overwrite a middle state", tm,
			abc, Options{}, []string{evk("a", 1, "x"), evk("b", 2, "x"), evk("a", 3, "x"), evk("b", 4, "x"), evk("c", 5, "x")}, [][]int{{3, 4, 5}}},
		{"middle state kept while a new first stage is pending", "syntax [eql-how-sequence-queries-handle-matches] (event 7: sequence [2, 4] remains in state B)",
			abc, Options{}, []string{evk("a", 1, "x"), evk("b", 2, "x"), evk("a", 3, "x"), evk("c", 4, "x")}, [][]int{{1, 2, 4}}},
		{"keys have separate state machines", "syntax [eql-how-sequence-queries-handle-matches]",
			ab, Options{}, []string{evk("a", 1, "x"), evk("a", 2, "y"), evk("b", 3, "x"), evk("b", 4, "y")}, [][]int{{1, 3}, {2, 4}}},
		{"one event fills at most one stage of a sequence", "seq/OrdinalGroup.findBefore (strictly before); " + tm,
			`sequence [any where true] [any where true]`, Options{}, []string{ev("a", 1)}, nil},
		{"an event ends one sequence and starts the next", "qa/test_missing_events.toml missingInBetween_noMatches ([1,-1,2] and [2,-1,4]); " + tm,
			`sequence [any where true] [any where true]`, Options{}, []string{ev("a", 1), ev("a", 2), ev("a", 3)}, [][]int{{1, 2}, {2, 3}}},
		// (b) maxspan inclusive
		{"maxspan equal is inside", ms, ab, Options{}, []string{evk("a", 0, "x"), evk("b", 5, "x")}, [][]int{{1, 2}}},
		{"maxspan exceeded by 1ms", ms, ab, Options{}, []string{evk("a", 0, "x"), evk("b", 5.001, "x")}, nil},
		{"maxspan from the first event", ms, abc, Options{}, []string{evk("a", 0, "x"), evk("b", 4, "x"), evk("c", 5, "x")}, [][]int{{1, 2, 3}}},
		{"maxspan from the first event, exceeded", ms, abc, Options{}, []string{evk("a", 0, "x"), evk("b", 1, "x"), evk("c", 5.5, "x")}, nil},
		{"the newest first event is kept (the older one would exceed maxspan)", ms + "; " + tm,
			ab, Options{}, []string{evk("a", 0, "x"), evk("a", 3, "x"), evk("b", 7, "x")}, [][]int{{2, 3}}},
		// (c) until
		{"until: A, B matches", "syntax [eql-until-keyword]",
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("b", 2, "1")}, [][]int{{1, 2}}},
		{"until: A, B, C matches", "syntax [eql-until-keyword]",
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("b", 2, "1"), evk("c", 3, "1")}, [][]int{{1, 2}}},
		{"until: A, C, B does not match", "syntax [eql-until-keyword]",
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("c", 2, "1"), evk("b", 3, "1")}, nil},
		{"until: the three data sets of the doc, interleaved by ID", "syntax [eql-until-keyword]",
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("a", 2, "2"), evk("a", 3, "3"), evk("b", 4, "1"), evk("b", 5, "2"), evk("c", 6, "3"),
				evk("c", 7, "2"), evk("b", 8, "3")}, [][]int{{1, 4}, {2, 5}}},
		{"until of another key does not expire", "syntax [eql-until-keyword]: until shares the join key (seq/KeyToSequences.until, keyed)",
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("c", 2, "2"), evk("b", 3, "1")}, [][]int{{1, 3}}},
		{"until before the first event does not expire", "SequenceMatcher.match: nearestUntil.between(sequence.ordinal(), ordinal)",
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("c", 1, "1"), evk("a", 2, "1"), evk("b", 3, "1")}, [][]int{{2, 3}}},
		{"until between stage 2 and 3 expires", "syntax [eql-until-keyword]",
			`sequence by k [a where true] [b where true] [d where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("b", 2, "1"), evk("c", 3, "1"), evk("d", 4, "1")}, nil},
		{"until expires the pending sequence; a new first event restarts", "syntax [eql-until-keyword]; " + tm,
			`sequence by k [a where true] [b where true] until [c where true]`, Options{},
			[]string{evk("a", 1, "1"), evk("c", 2, "1"), evk("a", 3, "1"), evk("b", 4, "1")}, [][]int{{3, 4}}},
		{"an event matching the first stage and until expires its own sequence", "SequenceMatcher.match: Ordinal.between is inclusive, the until ordinal equals sequence.ordinal()",
			`sequence by k [a where true] [b where true] until [a where x == 1]`, Options{},
			[]string{evk("a", 1, "1", `"x":1`), evk("b", 2, "1")}, nil},
		{"an event matching the last stage and until completes", "qa/test_extra.toml sequenceWithOptionalFieldsAndUntil_1; until.before(ordinal) is strict",
			`sequence by k [a where true] [b where true] until [b where x == 1]`, Options{},
			[]string{evk("a", 1, "1"), evk("b", 2, "1", `"x":1`)}, [][]int{{1, 2}}},
		// (d) runs
		{"runs=3 is the stage repeated", "syntax [eql-with-runs-statement]; " + tm,
			`sequence by k [a where true] with runs=3`, Options{},
			[]string{evk("a", 1, "x"), evk("a", 2, "x"), evk("a", 3, "x"), evk("a", 4, "x")}, [][]int{{1, 2, 3}, {2, 3, 4}}},
		{"runs between other stages", "syntax [eql-with-runs-statement]",
			`sequence by k [p where true] [l where true] with runs=2 [r where true]`, Options{},
			[]string{evk("p", 1, "x"), evk("l", 2, "x"), evk("r", 3, "x"), evk("l", 4, "x"), evk("r", 5, "x")}, [][]int{{1, 2, 4, 5}}},
		// (f) ties
		{"equal timestamps: arrival order (implicit tiebreaker)", "Ordinal.compareTo (implicitTiebreaker)",
			`sequence [a where true] [b where true]`, Options{}, []string{ev("a", 1), ev("b", 1)}, [][]int{{1, 2}}},
		{"equal timestamps: arrival order, reversed", "Ordinal.compareTo (implicitTiebreaker)",
			`sequence [a where true] [b where true]`, Options{}, []string{ev("b", 1), ev("a", 1)}, nil},
		{"tiebreaker orders equal timestamps", "Ordinal.compareTo (tiebreaker before implicit tiebreaker)",
			`sequence [a where true] [b where true]`, Options{TiebreakerField: "tb"},
			[]string{ev("a", 1, `"tb":2`), ev("b", 1, `"tb":1`)}, nil},
		{"tiebreaker orders equal timestamps over arrival", "Ordinal.compareTo",
			`sequence [a where true] [b where true]`, Options{TiebreakerField: "tb"},
			[]string{ev("b", 1, `"tb":2`), ev("a", 1, `"tb":1`)}, [][]int{{2, 1}}},
		{"a missing tiebreaker sorts after a present one", "Ordinal.compareTo: \"nulls are last\"",
			`sequence [a where true] [b where true]`, Options{TiebreakerField: "tb"},
			[]string{ev("a", 1), ev("b", 1, `"tb":5`)}, nil},
		{"a missing tiebreaker sorts after a negative one", "Ordinal.compareTo: \"nulls are last\"",
			`sequence [a where true] [b where true]`, Options{TiebreakerField: "tb"},
			[]string{ev("b", 1), ev("a", 1, `"tb":-5`)}, [][]int{{2, 1}}},
		// reorder within the bound: Elasticsearch evaluates sorted data.
		{"reorder within the allowed disorder", "sorted-order semantics (Ordinal); notes: results equal sorted order within the bound",
			`sequence by k with maxspan=10s [a where true] [b where true] [c where true]`, Options{AllowedDisorder: 3 * time.Second},
			[]string{evk("b", 2, "x"), evk("a", 1, "x"), evk("c", 4, "x"), evk("a", 3.5, "x"), evk("b", 5, "x"), evk("c", 6, "x")},
			[][]int{{2, 1, 3}, {4, 5, 6}}},
		{"reorder: an earlier first-stage event arriving late does not overwrite a newer one", "OrdinalGroup.trimBefore takes the latest earlier candidate",
			`sequence by k with maxspan=10s [a where true] [b where true]`, Options{AllowedDisorder: 3 * time.Second},
			[]string{evk("a", 2, "x"), evk("a", 1, "x"), evk("b", 3, "x")}, [][]int{{1, 3}}},
	})
}

// TestSemanticsJoinKeys covers (g) multi-valued join keys and (h) null keys.
func TestSemanticsJoinKeys(t *testing.T) {
	const pr = "elastic/elasticsearch#89965 (EQL sequences: support join on multi-values): each value is a separate key, cartesian product"
	runSeqCases(t, []seqCase{
		{"multi-valued key fans out", pr,
			`sequence by name, tags [any where true] [any where true]`, Options{},
			[]string{ev("a", 1, `"name":"a"`, `"tags":["foo","bar"]`), ev("a", 2, `"name":"a"`, `"tags":["foo","bar"]`)},
			[][]int{{1, 2}, {1, 2}}},
		{"two multi-valued keys: cartesian product", pr,
			`sequence by name, tags [any where true] [any where true]`, Options{},
			[]string{ev("a", 1, `"name":["a","b"]`, `"tags":["foo","bar"]`), ev("a", 2, `"name":["a","b"]`, `"tags":["foo","bar"]`)},
			[][]int{{1, 2}, {1, 2}, {1, 2}, {1, 2}}},
		{"one shared value joins", pr,
			`sequence by tags [a where true] [b where true]`, Options{},
			[]string{ev("a", 1, `"tags":["x","y"]`), ev("b", 2, `"tags":["z","y"]`)}, [][]int{{1, 2}}},
		{"a null join key takes no part", "syntax [eql-syntax-optional-by-fields]: by default, a join key must be a non-null field value",
			`sequence by k [a where true] [b where true]`, Options{},
			[]string{ev("a", 1), ev("b", 2)}, nil},
		{"a null join key in the second event", "syntax [eql-syntax-optional-by-fields]",
			`sequence by k [a where true] [b where true]`, Options{},
			[]string{evk("a", 1, "x"), ev("b", 2)}, nil},
		{"by ?f: null join keys join", "syntax [eql-syntax-optional-by-fields]: use ? to allow null join keys",
			`sequence by ?k [a where true] [b where true]`, Options{},
			[]string{ev("a", 1), ev("b", 2)}, [][]int{{1, 2}}},
		{"by ?f: null does not join a value", "syntax [eql-syntax-optional-by-fields]",
			`sequence by ?k [a where true] [b where true]`, Options{},
			[]string{ev("a", 1), evk("b", 2, "x")}, nil},
		{"per-stage keys are matched by position", "syntax [eql-by-keyword]",
			`sequence [a where true] by x [b where true] by y`, Options{},
			[]string{ev("a", 1, `"x":"v"`), ev("b", 2, `"y":"v"`), ev("b", 3, `"x":"v"`)}, [][]int{{1, 2}}},
	})
}

// ---------------------------------------------------------------------------
// (e) Missing events

func TestSemanticsMissingEvents(t *testing.T) {
	const tw = "seq/TumblingWindow.prepareQueryForMissingEvents + doCheckMissingEvents"
	const mid = `sequence by k with maxspan=10s [a where true] ![m where true] [b where true]`
	const lead = `sequence by k with maxspan=10s ![m where true] [a where true]`
	const lead2 = `sequence by k with maxspan=10s ![m where true] [a where true] [b where true]`
	const trail = `sequence by k with maxspan=10s [a where true] ![m where true]`
	const trail2 = `sequence by k with maxspan=10s [a where true] [b where true] ![m where true]`
	const both = `sequence by k with maxspan=10s ![m where true] [a where true] ![m where true]`
	runSeqCases(t, []seqCase{
		// middle
		{"middle: missing event between rejects", "syntax [eql-missing-events]; " + tw,
			mid, Options{}, []string{evk("a", 1, "x"), evk("m", 2, "x"), evk("b", 3, "x")}, nil},
		{"middle: missing event after the last does not reject", tw + " (range lt next positive)",
			mid, Options{}, []string{evk("a", 1, "x"), evk("b", 3, "x"), evk("m", 4, "x")}, [][]int{{1, 0, 2}}},
		{"middle: missing event of another key does not reject", tw + " (addKeyFilter)",
			mid, Options{}, []string{evk("a", 1, "x"), evk("m", 2, "y"), evk("b", 3, "x")}, [][]int{{1, 0, 3}}},
		{"middle: missing event at the previous event's timestamp is outside", tw + " (range.gt(previous positive timestamp), strict, on timestamps)",
			mid, Options{}, []string{evk("a", 1, "x"), evk("m", 1, "x"), evk("b", 2, "x")}, [][]int{{1, 0, 3}}},
		{"middle: missing event at the next event's timestamp is outside", tw + " (range.lt(next positive timestamp), strict)",
			mid, Options{}, []string{evk("a", 1, "x"), evk("m", 2, "x"), evk("b", 2, "x")}, [][]int{{1, 0, 3}}},
		{"middle: rejected candidate is consumed", "qa/test_missing_events.toml skipFirstMatchAndPickSecondCandidate; SequenceMatcher.match removes before tryComplete",
			mid, Options{}, []string{evk("a", 1, "x"), evk("m", 2, "x"), evk("b", 3, "x"), evk("b", 4, "x")}, nil},
		// leading
		{"leading: missing within maxspan before rejects", tw,
			lead, Options{}, []string{evk("m", 0, "x"), evk("a", 5, "x")}, nil},
		{"leading: exactly maxspan before still rejects", tw + " (biggerThanMaxSpan uses exceedsMaxSpan, `>`)",
			lead, Options{}, []string{evk("m", 0, "x"), evk("a", 10, "x")}, nil},
		{"leading: more than maxspan before matches", tw,
			lead, Options{}, []string{evk("m", 0, "x"), evk("a", 10.001, "x")}, [][]int{{0, 2}}},
		{"leading: no missing event matches", tw + "; qa/test_missing_events.toml leadingSimple",
			lead, Options{}, []string{evk("a", 5, "x")}, [][]int{{0, 1}}},
		{"leading: a missing event at the same timestamp is outside", tw + " (range.lt(start timestamp), strict)",
			lead, Options{}, []string{evk("m", 5, "x"), evk("a", 5, "x")}, [][]int{{0, 2}}},
		{"leading: the window is measured back from the LAST positive event", tw + " (biggerThanMaxSpan(lastLeading, sequence.ordinal().timestamp()))",
			lead2, Options{}, []string{evk("m", 0, "x"), evk("a", 5, "x"), evk("b", 12, "x")}, [][]int{{0, 2, 3}}},
		{"leading: within maxspan of the last positive event rejects", tw,
			lead2, Options{}, []string{evk("m", 0, "x"), evk("a", 5, "x"), evk("b", 9, "x")}, nil},
		{"leading: a rejected first-stage candidate still overwrites the older one", tw + " (checked at completion) + " + "OrdinalGroup.trimBefore",
			lead2, Options{}, []string{evk("a", 0, "x"), evk("m", 1, "x"), evk("a", 2, "x"), evk("b", 3, "x")}, nil},
		// trailing
		{"trailing: missing within maxspan after the first rejects", "syntax [eql-missing-events] example (logon not followed within 5s); " + tw,
			trail, Options{}, []string{evk("a", 0, "x"), evk("m", 3, "x")}, nil},
		{"trailing: exactly maxspan after still rejects", tw + " (biggerThanMaxSpan(startOrdinal, firstTrailing), `>`)",
			trail, Options{}, []string{evk("a", 0, "x"), evk("m", 10, "x")}, nil},
		{"trailing: more than maxspan after matches", tw,
			trail, Options{}, []string{evk("a", 0, "x"), evk("m", 10.001, "x")}, [][]int{{1, 0}}},
		{"trailing: nothing after matches (decided at end of input)", tw + "; qa/test_missing_events.toml positivePlusMissing",
			trail, Options{}, []string{evk("a", 0, "x")}, [][]int{{1, 0}}},
		{"trailing: measured from the FIRST positive event", tw + " (startOrdinal)",
			trail2, Options{}, []string{evk("a", 0, "x"), evk("b", 8, "x"), evk("m", 11, "x")}, [][]int{{1, 2, 0}}},
		{"trailing: a missing event at the same timestamp is outside", tw + " (range.gt(last positive timestamp), strict)",
			trail, Options{}, []string{evk("a", 0, "x"), evk("m", 0, "x")}, [][]int{{1, 0}}},
		{"trailing: candidates of one key are checked independently", tw + " (toCheckForMissing is a set of completed candidates)",
			trail, Options{}, []string{evk("a", 0, "x"), evk("a", 1, "x")}, [][]int{{1, 0}, {2, 0}}},
		{"trailing: each candidate has its own window", tw,
			trail, Options{}, []string{evk("a", 0, "x"), evk("a", 5, "x"), evk("m", 12, "x")}, [][]int{{1, 0}}},
		// leading and trailing: the gap rule
		{"leading+trailing: gap between them larger than maxspan matches", tw + " (biggerThanMaxSpan(lastLeading, firstTrailing))",
			both, Options{}, []string{evk("m", 0, "x"), evk("a", 5, "x"), evk("m", 20, "x")}, [][]int{{0, 2, 0}}},
		{"leading+trailing: gap within maxspan rejects", tw,
			both, Options{}, []string{evk("m", 0, "x"), evk("a", 5, "x"), evk("m", 9, "x")}, nil},
		{"leading+trailing: leading only matches (no trailing event at all)", tw + " ((firstTrailing == null && isMissingEvent(lastStage))); qa leadingAndTrailingExcluded1 (event 4)",
			both, Options{}, []string{evk("m", 0, "x"), evk("a", 5, "x")}, [][]int{{0, 2, 0}}},
		{"leading+trailing: trailing only matches", tw + " ((lastLeading == null && isMissingEvent(0)))",
			both, Options{}, []string{evk("a", 5, "x"), evk("m", 6, "x")}, [][]int{{0, 1, 0}}},
	})
}

// ---------------------------------------------------------------------------
// (m) samples

func TestSemanticsSamples(t *testing.T) {
	const si = "sample/SampleIterator.matchSamples (distinct documents per filter, backtracking)"
	runSeqCases(t, []seqCase{
		{"sample is unordered", "syntax [eql-samples]: Sample queries do not take into account the chronological ordering",
			`sample by host [a where true] [b where true]`, Options{},
			[]string{ev("b", 1, `"host":"h"`), ev("a", 2, `"host":"h"`)}, [][]int{{2, 1}}},
		{"sample keys must agree", "syntax [eql-samples]: all events in a sample share the same join key values",
			`sample by host [a where true] [b where true]`, Options{},
			[]string{ev("b", 1, `"host":"h"`), ev("a", 2, `"host":"g"`)}, nil},
		{"one event fills one filter only", si,
			`sample by host [any where x == 1] [any where y == 1]`, Options{},
			[]string{ev("a", 1, `"host":"h"`, `"x":1`, `"y":1`)}, nil},
		{"backtracking picks distinct events", si + ": [doc1, doc2] for lists [doc1] and [doc1, doc2]",
			`sample by host [any where x == 1] [any where y == 1]`, Options{},
			[]string{ev("a", 1, `"host":"h"`, `"x":1`, `"y":1`), ev("a", 2, `"host":"h"`, `"y":1`)}, [][]int{{1, 2}}},
	})
}

// ---------------------------------------------------------------------------
// Elasticsearch qa specs, ported with their data sets. The ids are the
// events' `sequence` field; -1 marks a missing stage, as in the specs.

// qaMissingEventsData is qa/data/missing-events.data (with "////" comments removed).
const qaMissingEventsData = `[
 {"@timestamp": "1", "event_type": "test1", "transID": 1, "tag": "normal", "sequence": 1},
 {"@timestamp": "2", "event_type": "test1", "transID": 1, "tag": "normal", "sequence": 2},
 {"@timestamp": "3", "event_type": "test1", "transID": 1, "tag": "missing", "sequence": 3},
 {"@timestamp": "4", "event_type": "test1", "transID": 1, "tag": "normal", "sequence": 4},
 {"@timestamp": "2022-05-04T12:00:00.000Z", "event_type": "test2", "transID": 1, "tag": "normal", "sequence": 1},
 {"@timestamp": "2022-05-04T12:00:00.001Z", "event_type": "test2", "transID": 1, "tag": "normal", "sequence": 2},
 {"@timestamp": "2022-05-04T12:00:00.002Z", "event_type": "test2", "transID": 1, "tag": "missing", "sequence": 3},
 {"@timestamp": "2022-05-04T12:00:00.003Z", "event_type": "test2", "transID": 1, "tag": "normal", "sequence": 4},
 {"@timestamp": "2022-05-04T12:00:00.004Z", "event_type": "test2", "transID": 1, "tag": "normal", "sequence": 5},
 {"@timestamp": "2022-05-04T12:00:00.005Z", "event_type": "test2", "transID": 1, "tag": "missing", "sequence": 6},
 {"@timestamp": "2022-05-04T12:02:00.006Z", "event_type": "test2", "transID": 1, "tag": "missing2", "sequence": 7},
 {"@timestamp": "2022-05-04T12:03:00.006Z", "event_type": "test2", "transID": 1, "tag": "missing2", "sequence": 8},
 {"@timestamp": "2022-05-04T12:00:00.000Z", "event_type": "test3", "transID": 1, "tag": "missing", "sequence": 1},
 {"@timestamp": "2022-05-04T12:10:00.001Z", "event_type": "test3", "transID": 1, "tag": "normal", "sequence": 2},
 {"@timestamp": "2022-05-04T12:20:00.001Z", "event_type": "test3", "transID": 1, "tag": "missing", "sequence": 3},
 {"@timestamp": "2022-05-04T12:21:00.001Z", "event_type": "test3", "transID": 1, "tag": "normal", "sequence": 4},
 {"@timestamp": "2022-05-04T12:29:00.001Z", "event_type": "test3", "transID": 1, "tag": "normal", "sequence": 5},
 {"@timestamp": "2022-05-04T12:31:00.001Z", "event_type": "test3", "transID": 1, "tag": "normal", "sequence": 6},
 {"@timestamp": "1", "event_type": "test4", "transID": 1, "tag": "A", "sequence": 1},
 {"@timestamp": "2", "event_type": "test4", "transID": 1, "tag": "B", "sequence": 2},
 {"@timestamp": "3", "event_type": "test4", "transID": 1, "tag": "M1", "sequence": 3},
 {"@timestamp": "4", "event_type": "test4", "transID": 1, "tag": "B", "sequence": 4},
 {"@timestamp": "5", "event_type": "test4", "transID": 1, "tag": "C", "sequence": 5},
 {"@timestamp": "6", "event_type": "test4", "transID": 1, "tag": "M2", "sequence": 6},
 {"@timestamp": "7", "event_type": "test4", "transID": 1, "tag": "D", "sequence": 7},
 {"@timestamp": "8", "event_type": "test4", "transID": 1, "tag": "M1", "sequence": 8},
 {"@timestamp": "9", "event_type": "test4", "transID": 1, "tag": "C", "sequence": 9},
 {"@timestamp": "10", "event_type": "test4", "transID": 1, "tag": "B", "sequence": 10},
 {"@timestamp": "11", "event_type": "test4", "transID": 1, "tag": "C", "sequence": 11},
 {"@timestamp": "12", "event_type": "test4", "transID": 1, "tag": "D", "sequence": 12},
 {"@timestamp": "13", "event_type": "test4", "transID": 1, "tag": "A", "sequence": 13},
 {"@timestamp": "14", "event_type": "test4", "transID": 1, "tag": "B", "sequence": 14},
 {"@timestamp": "15", "event_type": "test4", "transID": 1, "tag": "M3", "sequence": 15},
 {"@timestamp": "16", "event_type": "test4", "transID": 1, "tag": "C", "sequence": 16},
 {"@timestamp": "17", "event_type": "test4", "transID": 1, "tag": "D", "sequence": 17},
 {"@timestamp": "18", "event_type": "test4", "transID": 1, "tag": "M4", "sequence": 18},
 {"@timestamp": "2022-01-01T00:00:00.000Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "foo", "k2": "foo", "other": 1, "sequence": 1},
 {"@timestamp": "2022-01-01T00:00:00.001Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "foo", "k2": "foo", "sequence": 2},
 {"@timestamp": "2022-01-01T00:00:00.003Z", "event_type": "test5", "transID": 1, "tag": "missing", "k1": "foo", "k2": "foo", "sequence": 3},
 {"@timestamp": "2022-01-01T00:00:00.004Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "foo", "k2": "foo", "sequence": 4},
 {"@timestamp": "2022-01-01T00:00:00.005Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "foo", "k2": "foo", "other": 1, "sequence": 5},
 {"@timestamp": "2022-01-01T00:00:00.006Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "foo", "k2": "foo", "sequence": 6},
 {"@timestamp": "2022-01-01T00:00:00.007Z", "event_type": "test5", "transID": 1, "tag": "missing", "k1": "foo", "k2": "bar", "sequence": 7},
 {"@timestamp": "2022-01-01T00:00:00.008Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "foo", "k2": "foo", "sequence": 8},
 {"@timestamp": "2022-01-01T00:00:00.009Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "baz", "k2": "baz", "other": 1, "sequence": 9},
 {"@timestamp": "2022-01-01T00:00:00.010Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "baz", "k2": "baz", "sequence": 10},
 {"@timestamp": "2022-01-01T00:00:00.011Z", "event_type": "test5", "transID": 1, "tag": "missing", "k1": "baz", "k2": "foo", "sequence": 11},
 {"@timestamp": "2022-01-01T00:00:00.012Z", "event_type": "test5", "transID": 1, "tag": "normal", "k1": "baz", "k2": "baz", "sequence": 12}
]`

// qaExtraData is qa/data/extra.data.
const qaExtraData = `[
 {"@timestamp": "1", "event_type": "REQUEST", "transID": [1234, 599999], "sequence": 1, "tags": ["tag1", "tag2"]},
 {"@timestamp": "2", "event_type": "ERROR", "transID": 1234, "sequence": 2, "tags": "tag1"},
 {"@timestamp": "3", "event_type": "STAT", "transID": [1234, 9876554], "sequence": 3, "tags": ["tag3", "tag4"]},
 {"@timestamp": "10", "event_type": "REQUEST", "transID": 1235, "sequence": 4, "tags": ["tag3", "tag4"], "items": ["item1", "item2", "item3"]},
 {"@timestamp": "11", "event_type": "ERROR", "transID": 1235, "sequence": 5},
 {"@timestamp": "11", "event_type": "STAT", "transID": 1235, "sequence": 6},
 {"@timestamp": "100", "event_type": "OPTIONAL", "optional_field_default_null": null, "sequence": 7},
 {"@timestamp": "101", "event_type": "OPTIONAL", "sequence": 8, "transID": 1235},
 {"@timestamp": "102", "event_type": "OPTIONAL", "optional_field_default_null": null, "sequence": 9},
 {"@timestamp": "1", "event_type": "process", "transID": 1, "process.pid": 123, "sequence": 10, "tags": "tag6", "optional_tags": ["tag1", null, null], "date_tags": "1970-01-01T00:00:00.000Z"},
 {"@timestamp": "1", "event_type": "process", "transID": 2, "sequence": 11, "tags": ["tag5", "tag6"], "optional_tags": [null], "date_tags": "1970-01-05T00:00:00.000Z"},
 {"@timestamp": "2", "event_type": "process", "transID": 2, "process.pid": 123, "sequence": 12, "tags_with_duplicates": ["tag1", "tag1", "tag2"], "date_tags": "1970-01-01T00:00:00.000Z"},
 {"@timestamp": "3", "event_type": "file", "transID": 0, "process.pid": 123, "sequence": 13, "tags_with_duplicates": ["tag1", "tag2", "tag2"]},
 {"@timestamp": "4", "event_type": "file", "transID": 0, "process.pid": 123, "sequence": 14, "tags_unordered": ["tag5", "tag1", "tag2"]},
 {"@timestamp": "5", "event_type": "file", "transID": 0, "process.pid": 123, "sequence": 15, "tags_unordered": ["tag7", "tag1", "tag5"]},
 {"@timestamp": "6", "event_type": "file", "transID": 0, "sequence": 16, "tags_with_null": ["tag1", null, "tag2"]},
 {"@timestamp": "6", "event_type": "file", "transID": 0, "sequence": 17, "tags_with_null": null},
 {"@timestamp": "7", "event_type": "process", "transID": 2, "process.entity_id": 512, "process.pid": 123, "version": "1.5.0", "sequence": 18, "tags_with_null": [null], "optional_tags": "tag10"},
 {"@timestamp": "8", "event_type": "file", "transID": 0, "process.entity_id": 512, "process.pid": 123, "version": "1.5.0", "sequence": 19, "tags_with_null": ["tag1"]},
 {"@timestamp": "9", "event_type": "file", "transID": 0, "process.entity_id": 512, "process.pid": 123, "version": "1.2.4", "sequence": 20, "tags_with_null": "tag2", "date_tags": "1970-01-01T00:00:00.000Z"},
 {"@timestamp": "10", "event_type": "file", "transID": 0, "process.entity_id": 512, "process.pid": 123, "version": "1.11.3", "sequence": 21, "date_tags": ["1970-01-01T00:00:00.000Z", "1970-01-02T00:00:00.000Z"]},
 {"@timestamp": "11", "event_type": "file", "transID": 0, "process.entity_id": 512, "process.pid": 123, "version": "bad", "sequence": 22, "tags": [], "date_tags": ["1970-08-01T00:00:00.000Z", "1970-01-02T00:00:00.000Z"]},
 {"@timestamp": "12", "event_type": "file", "transID": 0, "process.entity_id": 512, "process.pid": 123, "version": "1.2.4-SNAPSHOT", "sequence": 23, "tags": ["tag1", "tag3", "tag4"], "items": ["item0", "item1", "item2"]}
]`

type qaDoc struct {
	ts   int64 // Unix nanoseconds
	id   int
	json []byte
}

// loadQAData decodes a qa data set, turns epoch-millisecond strings into
// numbers (what the engine reads as epoch milliseconds) and sorts the events
// by timestamp, then `sequence` (the tiebreaker), then position.
func loadQAData(t *testing.T, data string) []qaDoc {
	t.Helper()
	var raw []map[string]any
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		t.Fatalf("qa data: %v", err)
	}
	var docs []qaDoc
	for _, m := range raw {
		var ts int64
		switch v := m["@timestamp"].(type) {
		case string:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				m["@timestamp"] = n
				ts = n * int64(time.Millisecond)
			} else {
				tt, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					t.Fatalf("qa data: %v", err)
				}
				ts = tt.UnixNano()
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, qaDoc{ts: ts, id: int(m["sequence"].(float64)), json: b})
	}
	sort.SliceStable(docs, func(i, j int) bool {
		if docs[i].ts != docs[j].ts {
			return docs[i].ts < docs[j].ts
		}
		return docs[i].id < docs[j].id
	})
	return docs
}

// runQA runs query over the documents; refs are the `sequence` ids, -1 for a
// missing stage.
func runQA(t *testing.T, query string, docs []qaDoc) [][]int {
	t.Helper()
	opts := Options{CategoryField: "event_type", TiebreakerField: "sequence"}
	p, err := Compile([]RuleDef{{ID: "qa", Source: &eql.Source{Text: query}}}, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	e := p.NewEngine()
	var out [][]int
	collect := func(ms []Match) {
		for _, m := range ms {
			var ids []int
			for _, r := range m.Refs {
				if r == MissingRef {
					ids = append(ids, -1)
				} else {
					ids = append(ids, int(r))
				}
			}
			out = append(out, ids)
		}
	}
	for _, d := range docs {
		ms, _, err := e.Process(d.json, uint64(d.id))
		if err != nil {
			t.Fatalf("event %d: %v", d.id, err)
		}
		collect(ms)
	}
	collect(e.Flush())
	return out
}

type qaCase struct {
	name  string
	query string
	want  []int // expected_event_ids, flattened as in the spec
}

func runQACases(t *testing.T, file, data string, cases []qaCase) {
	t.Helper()
	docs := loadQAData(t, data)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runQA(t, c.query, docs)
			st, err := eql.ParseString(c.query)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var want [][]int
			n := stageCount(st)
			for i := 0; i+n <= len(c.want); i += n {
				want = append(want, c.want[i:i+n])
			}
			if !sameMatches(got, want) {
				t.Errorf("%s %s:%s\ngot  %v\nwant %v", file, c.name, c.query, sortMatches(got), sortMatches(want))
			}
		})
	}
}

func stageCount(st *eql.Statement) int {
	switch q := st.Query.(type) {
	case *eql.SequenceQuery:
		n := 0
		for _, s := range q.Stages {
			n += max(s.Runs, 1)
		}
		return n
	case *eql.SampleQuery:
		return len(q.Stages)
	}
	return 1
}

// TestQAMissingEvents ports qa/test_missing_events.toml (the queries without
// pipes) over qa/data/missing-events.data.
func TestQAMissingEvents(t *testing.T) {
	runQACases(t, "qa/test_missing_events.toml", qaMissingEventsData, []qaCase{
		{"missingInBetween_noMatches", `sequence with maxspan=1s
		    [ test1 where tag == "normal" ]
		   ![ test1 where tag == "nonexisting"]
		    [ test1 where tag == "normal" ]`, []int{1, -1, 2, 2, -1, 4}},
		{"missingInBetween_match", `sequence with maxspan=1s
		    [ test1 where tag == "normal" ]
		   ![ test1 where tag == "missing"]
		    [ test1 where tag == "normal" ]`, []int{1, -1, 2}},
		{"positivePlusMissing", `sequence with maxspan=1s
		    [ test1 where tag == "normal" ]
		   ![ test1 where tag == "missing"]`, []int{4, -1}},
		{"skipFirstMatchAndPickSecondCandidate", `sequence with maxspan=1s
		    [ test2 where tag == "normal" ]
		    [ test2 where tag == "normal" ]
		   ![ test2 where tag == "missing"]
		    [ test2 where tag == "normal" ]`, []int{2, 4, -1, 5}},
		{"leadingSimple", `sequence with maxspan=3m
		   ![ test3 where tag == "missing" ]
		    [ test3 where tag == "normal" ]`, []int{-1, 2, -1, 5, -1, 6}},
		{"leadingAndTrailingExcluded1", `sequence with maxspan=19m
		   ![ test3 where tag == "missing" ]
		    [ test3 where tag == "normal" ]
		   ![ test3 where tag == "missing" ]`, []int{-1, 2, -1, -1, 4, -1, -1, 5, -1, -1, 6, -1}},
		{"leadingAndTrailingExcluded2", `sequence with maxspan=21m
		   ![ test3 where tag == "missing" ]
		    [ test3 where tag == "normal" ]
		   ![ test3 where tag == "missing" ]`, []int{-1, 4, -1, -1, 5, -1, -1, 6, -1}},
		{"multipleMissing1", `sequence with maxspan=1s
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		   ![ test4 where tag == "M1"]
		    [ test4 where tag == "C" ]
		   ![ test4 where tag == "M2"]
		    [ test4 where tag == "D" ]`, []int{13, 14, -1, 16, -1, 17}},
		{"multipleMissing2", `sequence with maxspan=1s
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		   ![ test4 where tag == "M1"]
		    [ test4 where tag == "C" ]
		    [ test4 where tag == "D" ]`, []int{13, 14, -1, 16, 17}},
		{"multipleMissing3", `sequence with maxspan=1s
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		    [ test4 where tag == "C" ]
		   ![ test4 where tag == "M2"]
		    [ test4 where tag == "D" ]`, []int{13, 14, 16, -1, 17}},
		{"multipleMissing4", `sequence with maxspan=1s
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		   ![ test4 where tag == "M1"]
		    [ test4 where tag == "C" ]
		   ![ test4 where tag == "M2"]
		    [ test4 where tag == "D" ]
		   ![ test4 where tag == "M4"]`, nil},
		{"multipleMissing5", `sequence with maxspan=1s
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		   ![ test4 where tag == "none"]
		    [ test4 where tag == "C" ]
		   ![ test4 where tag == "none"]
		    [ test4 where tag == "D" ]`, []int{1, 2, -1, 5, -1, 7, 13, 14, -1, 16, -1, 17}},
		{"multipleMissing6", `sequence with maxspan=1s
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		    [ test4 where tag == "C" ]
		   ![ test4 where tag == "M2"]
		    [ test4 where tag == "D" ]
		   ![ test4 where tag == "none"]`, []int{13, 14, 16, -1, 17, -1}},
		{"multipleMissing7", `sequence with maxspan=1s
		   ![ test4 where tag == "none"]
		    [ test4 where tag == "A" ]
		    [ test4 where tag == "B" ]
		    [ test4 where tag == "C" ]
		   ![ test4 where tag == "M2"]
		    [ test4 where tag == "D" ]`, []int{-1, 13, 14, 16, -1, 17}},
		{"withByKey1", `sequence by k1 with maxspan=1s
		    [ test5 where tag == "normal" ]
		    [ test5 where tag == "normal" ]
		   ![ test5 where tag == "missing" ]
		    [ test5 where tag == "normal" ]`, []int{2, 4, -1, 5, 4, 5, -1, 6}},
		{"withByKey2", `sequence with maxspan=1s
		    [ test5 where tag == "normal" ] by k1
		    [ test5 where tag == "normal" ] by k1
		   ![ test5 where tag == "missing" ] by k1
		    [ test5 where tag == "normal" ] by k1`, []int{2, 4, -1, 5, 4, 5, -1, 6}},
		{"withByKey3", `sequence with maxspan=1s
		    [ test5 where tag == "normal" ] by k1
		    [ test5 where tag == "normal" ] by k1
		   ![ test5 where tag == "missing" ] by k2
		    [ test5 where tag == "normal" ] by k1`, []int{2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12}},
		{"withByKey4", `sequence by k2 with maxspan=1s
		    [ test5 where tag == "normal" ]
		    [ test5 where tag == "normal" ]
		   ![ test5 where tag == "missing" ]
		    [ test5 where tag == "normal" ]`, []int{2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12}},
		{"withByKey5", `sequence by k1 with maxspan=1s
		    [ test5 where tag == "normal" ] by k2
		    [ test5 where tag == "normal" ] by k2
		   ![ test5 where tag == "missing" ] by k2
		    [ test5 where tag == "normal" ] by k2`, []int{2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12}},
		{"withByKey6", "sequence by k1 with maxspan=1s\n" +
			"    [ test5 where tag == \"normal\" ] by k2\n" +
			"    [ test5 where tag == \"normal\" ] by k2\n" +
			"   ![ test5 where tag == \"missing\" and `sequence` > 10 ] by k2\n" +
			"    [ test5 where tag == \"normal\" ] by k2", []int{1, 2, -1, 4, 2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12}},
		{"withByKey_runs", `sequence by k1 with maxspan=1s
		    [ test5 where tag == "normal" ] by k2 with runs=2
		   ![ test5 where tag == "missing" ] by k2
		    [ test5 where tag == "normal" ] by k2`, []int{2, 4, -1, 5, 4, 5, -1, 6, 5, 6, -1, 8, 9, 10, -1, 12}},
		{"withByKey_runsOnMissing", `sequence by k1 with maxspan=1s
		    [ test5 where tag == "normal" ] by k2 with runs=2
		   ![ test5 where tag == "missing" ] by k2 with runs=2
		    [ test5 where tag == "normal" ] by k2`, []int{2, 4, -1, -1, 5, 4, 5, -1, -1, 6, 5, 6, -1, -1, 8, 9, 10, -1, -1, 12}},
	})
}

// TestQAExtra ports the data-type-independent queries of qa/test_extra.toml
// over qa/data/extra.data (queries on `version`, `date_tags` and mapping
// null_value are left out: they depend on Elasticsearch field types).
func TestQAExtra(t *testing.T) {
	runQACases(t, "qa/test_extra.toml", qaExtraData, []qaCase{
		{"basic", `sequence by transID [ REQUEST where true ] [ ERROR where true ] [ STAT where true ]`, []int{1, 2, 3, 4, 5, 6}},
		{"basicWithFilter", `sequence by transID [ REQUEST where transID == 1234 ] [ ERROR where true ] [ STAT where true ]`, []int{1, 2, 3}},
		{"basicWithFilters", `sequence by transID [ REQUEST where transID == 1234 ] [ ERROR where transID == 1234 ] [ STAT where transID == 1234 ]`, []int{1, 2, 3}},
		{"optionalNoDocsFieldNullEquality", `OPTIONAL where ?optional_field_mapping_only == null`, []int{7, 8, 9}},
		{"optionalNoDocsFieldNumericEquality", `OPTIONAL where ?optional_field_mapping_only == 123`, nil},
		{"optionalMissingFieldNullEquality", `OPTIONAL where ?inexistent_field == null`, []int{7, 8, 9}},
		{"optionalMissingFieldImplicitBooleanEquality", `OPTIONAL where ?inexistent_field`, nil},
		{"sequenceOptionalFieldAsKeyAndFirstFilter", `sequence by ?x [OPTIONAL where ?x == null] [OPTIONAL where true]`, []int{7, 8, 8, 9}},
		{"sequenceOptionalFieldAsKeyAndSecondFilter", `sequence by ?x [REQUEST where transID == 1234] [OPTIONAL where ?x == null]`, []int{1, 7}},
		{"sequenceOptionalFieldAsQueryKeys", `sequence by ?x, transID [ERROR where true] by ?x [OPTIONAL where true] by ?y`, []int{5, 8}},
		{"sequenceOptionalFieldAsKeyAndMultipleConditions", `sequence by ?x, ?y [ERROR where ?x == null or ?y == null] [OPTIONAL where ?y == null and ?x == null]`, []int{5, 7}},
		{"sequenceAllKeysOptional", `sequence by ?process.entity_id, ?process.pid [process where transID == 2] [file where transID == 0] with runs=2`,
			[]int{12, 13, 14, 11, 16, 17, 18, 19, 20}},
		{"sequenceOneKeyOptional_1", `sequence by process.entity_id, ?process.pid [process where transID == 2] [file where transID == 0] with runs=2`,
			[]int{18, 19, 20}},
		{"sequenceOneKeyOptional_2", `sequence by ?process.entity_id, process.pid [process where transID == 2] [file where transID == 0] with runs=2`,
			[]int{12, 13, 14, 18, 19, 20}},
		{"sequenceNoOptionalKeys", `sequence by process.entity_id, process.pid [process where transID == 2] [file where transID == 0] with runs=2`,
			[]int{18, 19, 20}},
		{"sequenceWithOptionalFieldsAndUntil_1", "sequence by ?process.entity_id, ?process.pid [process where transID == 2] [file where transID == 0] with runs=2 until [file where `sequence` == 20]",
			[]int{12, 13, 14, 11, 16, 17, 18, 19, 20}},
		{"sequenceWithOptionalFieldsAndUntil_2", "sequence by ?process.entity_id, ?process.pid [process where transID == 2] [file where transID == 0] with runs=2 until [file where `sequence` == 19]",
			[]int{12, 13, 14, 11, 16, 17}},
		{"sequenceWithMultivalue_OneToMany", `sequence by tags [ REQUEST where true ] [ ERROR where true ]`, []int{1, 2}},
		{"sequenceWithMultivalue_ManyToOne", `sequence by tags [ process where true ] [ process where true ]`, []int{10, 11}},
		{"sequenceWithMultivalue_ManyToMany", `sequence by tags [ REQUEST where true ] [ file where true ]`, []int{1, 23, 4, 23, 4, 23}},
		{"sequenceWithMultivalue_CartesianProduct", `sequence by tags, items [ REQUEST where true ] [ file where true ]`, []int{4, 23, 4, 23, 4, 23, 4, 23}},
		{"sequenceWithMultivalue_Duplicates", `sequence by tags_with_duplicates [ process where true ] [ file where true ]`, []int{12, 13, 12, 13}},
		{"sequenceWithMultivalue_RandomOrder", `sequence by tags_unordered [ file where true ] [ file where true ]`, []int{14, 15, 14, 15}},
		{"sequenceWithMultivalue_NullValues", `sequence by tags_with_null [ file where true ] [ file where true ]`, []int{16, 19, 16, 20}},
		{"sequenceWithOptionalMultivalue_simple", `sequence by ?optional_tags [ process where true ] [ process where true ]`, []int{11, 12}},
		{"sequenceWithOptionalMultivalue_perQuery", `sequence [ process where true ] by ?optional_tags [ process where true ] by ?optional_tags`, []int{11, 12}},
		{"sequenceWithOptionalMultivalue_multiPlusOptional", `sequence by tags, ?optional_tags [ REQUEST where true ] [ ERROR where true ]`, []int{1, 2}},
		{"sequenceWithOptionalMultivalue_optionalPlusMulti", `sequence by ?optional_tags, tags [ REQUEST where true ] [ ERROR where true ]`, []int{1, 2}},
		{"sequenceWithOptionalMultivalue_twoOptionals", `sequence by ?optional_tags, ?tags [ REQUEST where true ] [ ERROR where true ]`, []int{1, 2}},
	})
}
