package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/eql"
	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Threat is one MITRE ATT&CK mapping of a rule, from a [[rule.threat]] table.
type Threat struct {
	Framework  string // "MITRE ATT&CK"
	Tactic     Ref
	Techniques []Technique
}

// Ref names an ATT&CK tactic, technique or sub-technique.
type Ref struct{ ID, Name, Reference string }

// Technique is an ATT&CK technique and the sub-techniques the rule covers.
type Technique struct {
	Ref
	Subtechniques []Ref
}

// Rule is one detection rule: the query and what an alert needs to say about
// it.
type Rule struct {
	ID          string // rule_id, unique across loaded rules
	Name        string
	Description string
	Severity    string // low, medium, high or critical
	RiskScore   int
	Version     int
	Tags        []string
	Threat      []Threat
	Note        string // investigation guide, Markdown

	// BuildingBlockType is "default" for building-block rules, whose alerts
	// feed other rules rather than analysts.
	BuildingBlockType string
	// TimestampOverride is the field Kibana uses for the rule's query window
	// (usually event.ingested). It does not change the order of events.
	TimestampOverride string
	// EventCategoryOverride names the field that holds the event category
	// for this rule's queries (event.type in some rules) in place of
	// event.category.
	EventCategoryOverride string

	Type, Language string // "eql", "eql" for every loaded rule
	Query          string
	From           string // look-back as date math, e.g. "now-9m"; see Lookback
	Enabled        bool   // true unless the file says enabled = false

	// Source is Query positioned in the rule file: Name is the file path and
	// Line/Col the position of the first character of the query text, so
	// errors from eql.Parse(Source) point into the TOML file. For a basic
	// string ("..." or """...""") whose escapes make the decoded text differ
	// from the file, Line/Col is the position of the query key instead.
	Source *eql.Source
	Path   string // the file the rule came from

	// Metadata holds the keys of the [metadata] table (creation_date,
	// maturity, ...), every [rule] key that has no field in Rule (author,
	// index, references, setup, ...) and any other top-level table, such as
	// [transform], under its name. A [rule] key whose name is taken by a
	// [metadata] key is stored as "rule.<key>"; another top-level entry whose
	// name is taken is dropped.
	Metadata map[string]any

	// Exceptions are the rule's exceptions_list references; AttachExceptions
	// resolves them against loaded lists (see attach.go).
	Exceptions []ExceptionRef
	// AlertSuppression is [rule.alert_suppression] (see suppression.go),
	// applied by package rules/suppress.
	AlertSuppression *AlertSuppression

	Builtin bool // one of the detections built into eqlstream
	// AdHoc marks a query given on the command line (eval --query): it has
	// no rule lookback, so a sequence without maxspan is unbounded in time,
	// as in the EQL search API (only --max-states bounds its state).
	AdHoc bool

	exclusions []engine.Exclusion // resolved Exceptions (attach.go)
	attached   bool               // AttachExceptions has resolved Exceptions

	idPos position // where rule_id is set, for duplicate reports
}

// Lookback is the rule's look-back window: From as a duration ("now-9m" is
// nine minutes). A rule without from gets Kibana's default, six minutes.
// Units s, m, h and d are understood; date-math rounding is not.
func (r *Rule) Lookback() (time.Duration, error) {
	if r.From == "" {
		return 6 * time.Minute, nil
	}
	s, ok := strings.CutPrefix(r.From, "now-")
	if !ok || len(s) < 2 {
		return 0, fmt.Errorf("rule %s: from %q: want now-<number><unit>", r.ID, r.From)
	}
	unit := spanUnit(s[len(s)-1:], true)
	if unit == 0 {
		return 0, fmt.Errorf("rule %s: from %q: unit must be s, m, h or d", r.ID, r.From)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("rule %s: from %q: bad amount", r.ID, r.From)
	}
	return time.Duration(n) * unit, nil
}

// LoadStats counts what a load saw.
type LoadStats struct {
	Files         int            // rule files read (outside _deprecated)
	EQL           int            // EQL rules loaded
	Skipped       int            // rules of other types, not loaded
	SkippedByType map[string]int // Skipped by rule type
	Deprecated    int            // TOML files under _deprecated directories
}

// Errors that a load can report, wrapped in an *Error.
var (
	ErrMissingField    = errors.New("missing required field")
	ErrDuplicateRuleID = errors.New("duplicate rule_id")
)

// Error is a problem with one rule file. Err is the cause when there is one:
// a *toml.DecodeError for TOML syntax errors, ErrMissingField or
// ErrDuplicateRuleID.
type Error struct {
	Path      string
	Line, Col int // 1-based position in the file; 0 when unknown
	Msg       string
	Err       error

	text string // the line at Line, for Detail
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Detail is the error followed by the offending line of the file and a caret
// under the position, in the layout of eql.Error.Detail.
func (e *Error) Detail() string {
	if e.Line == 0 {
		return e.Error()
	}
	return e.Error() + "\n    " + strings.ReplaceAll(e.text, "\t", " ") +
		"\n    " + strings.Repeat(" ", max(e.Col-1, 0)) + "^"
}

// LoadPath loads the EQL rules of a TOML file, or of every *.toml file under
// a directory, walked in lexical order. Below path, directories named
// _deprecated are skipped and their files counted, and hidden directories
// (.git, ..data) are skipped; rules of other types are skipped and counted.
// Every problem is reported, joined with errors.Join: an *Error for a rule
// file, or the fs error for a path that cannot be read. The rules that
// loaded are returned all the same.
func LoadPath(path string) ([]*Rule, LoadStats, error) {
	return LoadPaths([]string{path})
}

// LoadPaths is LoadPath for several files and directories, in order. A file
// named twice is read once; a rule_id defined twice is an error that names
// both files, and the first definition is kept.
func LoadPaths(paths []string) ([]*Rule, LoadStats, error) {
	l := &loader{
		stats: LoadStats{SkippedByType: map[string]int{}},
		files: map[string]bool{},
		ids:   map[string]*Rule{},
	}
	for _, p := range paths {
		l.loadPath(p)
	}
	return l.rules, l.stats, errors.Join(l.errs...)
}

// ParseTOML parses one rule file; path names it in positions and errors. It
// returns nil and no error for a rule that is not EQL.
func ParseTOML(path string, data []byte) (*Rule, error) {
	r, _, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	return r, nil
}

type loader struct {
	rules []*Rule
	stats LoadStats
	errs  []error
	files map[string]bool // cleaned paths already read
	ids   map[string]*Rule
}

func (l *loader) loadPath(root string) {
	info, err := os.Stat(root)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	if !info.IsDir() {
		l.loadFile(root)
		return
	}
	if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		root += string(filepath.Separator) // WalkDir follows a root symlink only like this
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			l.errs = append(l.errs, err)
			return nil
		case d.IsDir() && p != root && d.Name() == "_deprecated":
			l.stats.Deprecated += countTOML(p)
			return filepath.SkipDir
		case d.IsDir() && p != root && strings.HasPrefix(d.Name(), "."):
			// .git, and the ..<timestamp> directories of Kubernetes
			// volumes, whose files are also linked from the top.
			return filepath.SkipDir
		case !d.IsDir() && isTOML(d.Name()):
			l.loadFile(p)
		}
		return nil
	})
}

func isTOML(name string) bool { return strings.EqualFold(filepath.Ext(name), ".toml") }

func countTOML(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isTOML(d.Name()) {
			n++
		}
		return nil
	})
	return n
}

func (l *loader) loadFile(path string) {
	key := filepath.Clean(path)
	if l.files[key] {
		return
	}
	l.files[key] = true
	l.stats.Files++
	data, err := os.ReadFile(path)
	if err != nil {
		l.errs = append(l.errs, err)
		return
	}
	r, typ, err := parse(path, data)
	switch {
	case err != nil:
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			l.errs = append(l.errs, j.Unwrap()...)
		} else {
			l.errs = append(l.errs, err)
		}
	case r == nil:
		l.stats.Skipped++
		l.stats.SkippedByType[typ]++
	default:
		if prev, dup := l.ids[r.ID]; dup {
			l.errs = append(l.errs, &Error{
				Path: path, Line: r.idPos.line, Col: r.idPos.col, text: r.idPos.text,
				Msg: fmt.Sprintf("duplicate rule_id %q: also defined at %s:%d:%d",
					r.ID, prev.Path, prev.idPos.line, prev.idPos.col),
				Err: ErrDuplicateRuleID,
			})
			return
		}
		l.ids[r.ID] = r
		l.rules = append(l.rules, r)
		l.stats.EQL++
	}
}

// modeled reports whether a [rule] key has a field in Rule; the others go to
// Rule.Metadata.
func modeled(key string) bool {
	switch key {
	case "rule_id", "name", "description", "severity", "risk_score", "version",
		"tags", "threat", "note", "building_block_type", "timestamp_override",
		"event_category_override", "type", "language", "query", "from", "enabled",
		"exceptions_list", "alert_suppression":
		return true
	}
	return false
}

// parse reads one rule file. For a rule that is not EQL it returns a nil rule
// and the rule's type.
func parse(path string, data []byte) (*Rule, string, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, "", decodeError(path, data, err)
	}
	lay := scanLayout(data)
	d := &decoder{path: path, data: data, lay: lay}
	rv, ok := doc["rule"]
	if !ok {
		return nil, "", &Error{Path: path, Msg: "no [rule] table", Err: ErrMissingField}
	}
	rt := d.table(rv, "rule")
	if rt == nil {
		return nil, "", d.err()
	}
	typ, lang := d.str(rt, "rule", "type"), d.str(rt, "rule", "language")
	if err := d.err(); err != nil {
		return nil, "", err
	}
	if typ == "eql" && lang != "" && lang != "eql" {
		at := lay.pos(data, lay.find("rule.language"))
		return nil, "", &Error{
			Path: path, Line: at.line, Col: at.col, text: at.text,
			Msg: fmt.Sprintf("rule.language: %q in a rule of type \"eql\"", lang),
		}
	}
	if lang != "eql" && (lang != "" || typ != "eql") {
		if typ == "" {
			typ = "(none)"
		}
		return nil, typ, nil
	}

	r := &Rule{
		ID:                    d.str(rt, "rule", "rule_id"),
		Name:                  d.str(rt, "rule", "name"),
		Description:           d.str(rt, "rule", "description"),
		Severity:              d.str(rt, "rule", "severity"),
		RiskScore:             d.int(rt, "rule", "risk_score"),
		Version:               d.int(rt, "rule", "version"),
		Tags:                  d.strs(rt, "rule", "tags"),
		Threat:                d.threats(rt),
		Note:                  d.str(rt, "rule", "note"),
		BuildingBlockType:     d.str(rt, "rule", "building_block_type"),
		TimestampOverride:     d.str(rt, "rule", "timestamp_override"),
		EventCategoryOverride: d.str(rt, "rule", "event_category_override"),
		Type:                  typ,
		Language:              lang,
		Query:                 d.str(rt, "rule", "query"),
		From:                  d.str(rt, "rule", "from"),
		Enabled:               d.boolean(rt, "rule", "enabled", true),
		Exceptions:            d.exceptionRefs(rt),
		AlertSuppression:      d.alertSuppression(rt),
		Path:                  path,
		Metadata:              metadataOf(doc),
		idPos:                 lay.pos(data, lay.keyOffset("rule.rule_id")),
	}
	var missing []string
	if r.ID == "" {
		missing = append(missing, "rule_id")
	}
	if r.Name == "" {
		missing = append(missing, "name")
	}
	if strings.TrimSpace(r.Query) == "" {
		missing = append(missing, "query")
	}
	if len(missing) > 0 {
		at := lay.pos(data, lay.header)
		d.errs = append(d.errs, &Error{
			Path: path, Line: at.line, Col: at.col, text: at.text,
			Msg: "EQL rule without " + strings.Join(missing, ", "),
			Err: ErrMissingField,
		})
	}
	if err := d.err(); err != nil {
		return nil, "", err
	}
	if r.Type == "" {
		r.Type = "eql"
	}
	if r.Language == "" {
		r.Language = "eql"
	}
	r.Source = querySource(path, data, lay, r.Query)
	return r, r.Type, nil
}

// decoder reads typed values out of a decoded TOML document and reports
// values of the wrong type at their position in the file.
type decoder struct {
	path string
	data []byte
	lay  layout
	errs []error
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

// fail reports a value of the wrong type at key, a dotted path with array
// indices ("rule.threat[1].tactic.id").
func (d *decoder) fail(key string, want string, v any) {
	at := d.lay.pos(d.data, d.lay.find(key))
	d.errs = append(d.errs, &Error{
		Path: d.path, Line: at.line, Col: at.col, text: at.text,
		Msg: fmt.Sprintf("%s: want %s, found %s", key, want, tomlType(v)),
	})
}

func (d *decoder) table(v any, key string) map[string]any {
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(key, "a table", v)
	}
	return m
}

func (d *decoder) str(m map[string]any, at, key string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(at+"."+key, "a string", v)
	}
	return s
}

func (d *decoder) int(m map[string]any, at, key string) int {
	v, ok := m[key]
	if !ok {
		return 0
	}
	n, ok := v.(int64)
	if !ok || int64(int(n)) != n {
		d.fail(at+"."+key, "an integer", v)
	}
	return int(n)
}

func (d *decoder) boolean(m map[string]any, at, key string, dflt bool) bool {
	v, ok := m[key]
	if !ok {
		return dflt
	}
	b, ok := v.(bool)
	if !ok {
		d.fail(at+"."+key, "a boolean", v)
		return dflt
	}
	return b
}

func (d *decoder) strs(m map[string]any, at, key string) []string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		d.fail(at+"."+key, "an array of strings", v)
		return nil
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		s, ok := e.(string)
		if !ok {
			d.fail(fmt.Sprintf("%s.%s[%d]", at, key, i), "a string", e)
			continue
		}
		out = append(out, s)
	}
	return out
}

// tables reads an array of tables ([[rule.threat]]).
func (d *decoder) tables(m map[string]any, at, key string) []map[string]any {
	v, ok := m[key]
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		d.fail(at+"."+key, "an array of tables", v)
		return nil
	}
	out := make([]map[string]any, len(a))
	for i, e := range a {
		out[i] = d.table(e, fmt.Sprintf("%s.%s[%d]", at, key, i))
	}
	return out
}

func (d *decoder) ref(m map[string]any, at string) Ref {
	return Ref{ID: d.str(m, at, "id"), Name: d.str(m, at, "name"), Reference: d.str(m, at, "reference")}
}

func (d *decoder) threats(rt map[string]any) []Threat {
	var out []Threat
	for i, tm := range d.tables(rt, "rule", "threat") {
		at := fmt.Sprintf("rule.threat[%d]", i)
		if tm == nil {
			continue
		}
		th := Threat{Framework: d.str(tm, at, "framework")}
		if v, ok := tm["tactic"]; ok {
			if m := d.table(v, at+".tactic"); m != nil {
				th.Tactic = d.ref(m, at+".tactic")
			}
		}
		for j, te := range d.tables(tm, at, "technique") {
			tat := fmt.Sprintf("%s.technique[%d]", at, j)
			if te == nil {
				continue
			}
			tech := Technique{Ref: d.ref(te, tat)}
			for k, se := range d.tables(te, tat, "subtechnique") {
				if se != nil {
					tech.Subtechniques = append(tech.Subtechniques, d.ref(se, fmt.Sprintf("%s.subtechnique[%d]", tat, k)))
				}
			}
			th.Techniques = append(th.Techniques, tech)
		}
		out = append(out, th)
	}
	return out
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}

func metadataOf(doc map[string]any) map[string]any {
	md := map[string]any{}
	if m, ok := doc["metadata"].(map[string]any); ok {
		for k, v := range m {
			md[k] = v
		}
	}
	if m, ok := doc["rule"].(map[string]any); ok {
		for k, v := range m {
			if modeled(k) {
				continue
			}
			if _, taken := md[k]; taken {
				k = "rule." + k
			}
			md[k] = v
		}
	}
	for k, v := range doc {
		if k == "metadata" || k == "rule" {
			continue
		}
		if _, taken := md[k]; !taken {
			md[k] = v
		}
	}
	return md
}

// decodeError positions a go-toml error in the file.
func decodeError(path string, data []byte, err error) error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{Path: path, Msg: err.Error(), Err: err}
	}
	line, bcol := de.Position() // go-toml counts columns in bytes
	text := lineText(data, line)
	col := 1 + utf8.RuneCountInString(text[:min(max(bcol-1, 0), len(text))])
	return &Error{Path: path, Line: line, Col: col, text: text, Msg: de.Error(), Err: de}
}

// lineText is the 1-based line n of data without its line ending.
func lineText(data []byte, n int) string {
	for i := 1; i < n; i++ {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return ""
		}
		data = data[nl+1:]
	}
	if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
		data = data[:nl]
	}
	return string(bytes.TrimSuffix(data, []byte{'\r'}))
}

// position is a 1-based line and column (in characters) in a file.
type position struct {
	line, col int
	text      string // the line
}

// layout records where the keys of a rule file are. Keys are dotted paths
// with array-of-tables indices, as the decoder names them:
// "rule.query", "rule.threat[1].tactic.id".
type layout struct {
	header int               // byte offset of the [rule] header; -1 if none
	keys   map[string]keyVal // first definition of each key or table header
}

type keyVal struct {
	key      int            // byte offset of the key
	value    unstable.Range // the value as written, delimiters included
	hasValue bool           // false for a table header
	isString bool           // the value is a string
}

// keyOffset is the byte offset of a key, or -1.
func (l layout) keyOffset(path string) int {
	if kv, ok := l.keys[path]; ok {
		return kv.key
	}
	return -1
}

// find is the byte offset of the value at path, or of the nearest enclosing
// key or table header that the file spells out; -1 if none.
func (l layout) find(path string) int {
	for {
		if kv, ok := l.keys[path]; ok {
			if kv.hasValue {
				return int(kv.value.Offset)
			}
			return kv.key
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return l.header
		}
		path = path[:i]
	}
}

// pos resolves a byte offset; a negative offset is an unknown position.
func (l layout) pos(data []byte, off int) position {
	if off < 0 || off > len(data) {
		return position{}
	}
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return position{
		line: 1 + bytes.Count(data[:off], []byte{'\n'}),
		col:  1 + utf8.RuneCount(data[start:off]),
		text: lineText(data[start:], 1),
	}
}

// scanLayout finds the keys of a rule file with go-toml's tokenizing parser,
// so strings, comments and arrays that merely look like keys or headers are
// not mistaken for them. It is called on files that decoded without error.
func scanLayout(data []byte) layout {
	lay := layout{header: -1, keys: map[string]keyVal{}}
	var (
		p       unstable.Parser
		table   string             // current table as an indexed path
		arrays  = map[string]int{} // array-of-tables path -> elements so far
		scratch []string
	)
	record := func(path string, kv keyVal) {
		if _, seen := lay.keys[path]; !seen {
			lay.keys[path] = kv
		}
	}
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var first int
			scratch, first = keyOf(e, scratch[:0])
			// Resolve each prefix to the last element of an array of
			// tables, as TOML does; a [[header]] appends a new element.
			table = ""
			for i, part := range scratch {
				if table != "" {
					table += "."
				}
				table += part
				if e.Kind == unstable.ArrayTable && i == len(scratch)-1 {
					n := arrays[table]
					arrays[table] = n + 1
					table += "[" + strconv.Itoa(n) + "]"
				} else if n, ok := arrays[table]; ok {
					table += "[" + strconv.Itoa(n-1) + "]"
				}
			}
			record(table, keyVal{key: first})
			if e.Kind == unstable.Table && table == "rule" && lay.header < 0 {
				lay.header = max(bytes.LastIndexByte(data[:first], '['), 0)
			}
		case unstable.KeyValue:
			var first int
			scratch, first = keyOf(e, scratch[:0])
			path := strings.Join(scratch, ".")
			if table != "" {
				path = table + "." + path
			}
			v := e.Value()
			record(path, keyVal{key: first, value: v.Raw, hasValue: v.Raw.Length > 0, isString: v.Kind == unstable.String})
		}
	}
	return lay
}

// keyOf appends the parts of a table header's or key-value's key to dst and
// returns them with the byte offset of the first part.
func keyOf(e *unstable.Node, dst []string) ([]string, int) {
	first := -1
	for it := e.Key(); it.Next(); {
		n := it.Node()
		if first < 0 {
			first = int(n.Raw.Offset)
		}
		dst = append(dst, string(n.Data))
	}
	return dst, first
}

// querySource positions the query text in the file: at its first character
// when the text appears verbatim, else at the query key.
func querySource(path string, data []byte, lay layout, query string) *eql.Source {
	src := &eql.Source{Name: path, Text: query}
	kv, ok := lay.keys["rule.query"]
	if !ok || !kv.hasValue {
		return src
	}
	off := kv.key
	if kv.isString {
		tok := data[kv.value.Offset : kv.value.Offset+kv.value.Length]
		if start, exact := contentStart(tok, query); exact {
			off = int(kv.value.Offset) + start
		}
	}
	at := lay.pos(data, off)
	src.Line, src.Col = at.line, at.col
	return src
}

// contentStart returns the offset of the content in a TOML string token and
// whether the content, as written, equals the decoded value. A newline right
// after an opening ”' or """ is not part of the value.
func contentStart(tok []byte, decoded string) (int, bool) {
	d := 1
	if bytes.HasPrefix(tok, []byte("'''")) || bytes.HasPrefix(tok, []byte(`"""`)) {
		d = 3
	}
	if len(tok) < 2*d {
		return 0, false
	}
	start, end := d, len(tok)-d
	if d == 3 {
		if bytes.HasPrefix(tok[start:end], []byte("\n")) {
			start++
		} else if bytes.HasPrefix(tok[start:end], []byte("\r\n")) {
			start += 2
		}
	}
	return start, string(tok[start:end]) == decoded
}
