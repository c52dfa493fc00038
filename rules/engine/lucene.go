package engine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lucene regular expressions as Elasticsearch's EQL `regex` reads them.
//
// Elasticsearch turns `regex`/`regex~` into a Lucene RegexpQuery with the
// default syntax flags (RegexpFlag.ALL: intersection &, complement ~, empty
// language #, any string @, numeric interval <n-m>) and, for regex~,
// RegExp.ASCII_CASE_INSENSITIVE. luceneToRE2 parses a pattern with the
// grammar of Lucene's RegExp (org.apache.lucene.util.automaton.RegExp,
// parseUnionExp ... parseCharExp, read in Lucene 9/10) and writes an RE2
// expression for the same language, anchored at both ends. The points where
// Lucene differs from a Perl/RE2 reading, each reproduced here:
//
//   - a character that cannot start an operator is a literal where the
//     grammar expects a character: `*a`, `+`, `|a` (leading), `a||b` (the
//     second | is a literal), `{` at the start, a lone `}` or `]`;
//   - `"..."` is a literal string, `()` the empty string, `.` any character
//     including a newline, `@` any string, `#` the empty language;
//   - `<n-m>` is a decimal interval (Automata.makeDecimalInterval): when n and
//     m are written with the same number of digits, exactly that many digits
//     (zero-padded), otherwise any number of leading zeros; n > m is swapped;
//   - in a bracket expression the first character is always a member (`[]a]`,
//     `[^]]`), `-` after a member makes a range whose end may be any character
//     (even `]`), and there is no POSIX `[:alpha:]`;
//   - `\d \D \s \S \w \W` are predefined classes (since Lucene 8.6): \s is
//     [ \t\n\r] (no \f or \v); any other letter after a backslash is an error
//     ("invalid character class"); any other escaped character is a literal;
//   - case-insensitive matching (regex~) folds single characters and strings
//     of ASCII letters only (RegExp.toCaseInsensitiveChar: code points <= 128),
//     never a range `a-z` nor a non-ASCII letter;
//   - `{n,m}` requires digits (`a{,3}` is an error, not a literal).
//
// Refused with an error, because RE2 cannot express them exactly: intersection
// `&`, complement `~`, named automata `<name>`, and repetition counts above
// 1000 (RE2's limit).

// luceneToRE2 translates a Lucene regular expression to an RE2 expression
// matching the whole string.
func luceneToRE2(p string, fold bool) (*regexp.Regexp, error) {
	expr, err := luceneTranslate(p, fold)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(expr)
}

// luceneTranslate returns the RE2 source for p (see luceneToRE2).
func luceneTranslate(p string, fold bool) (string, error) {
	if !utf8.ValidString(p) {
		return "", fmt.Errorf("invalid UTF-8 in regular expression")
	}
	lp := &luceneParser{in: []rune(p), fold: fold}
	var body string
	if len(lp.in) > 0 {
		var err error
		if body, err = lp.union(); err != nil {
			return "", err
		}
		if lp.more() {
			return "", fmt.Errorf("unexpected %q at position %d of the regular expression (end expected)", lp.in[lp.pos], lp.pos)
		}
	}
	return `^(?s:` + body + `)$`, nil
}

type luceneParser struct {
	in   []rune
	pos  int
	fold bool
}

func (p *luceneParser) more() bool { return p.pos < len(p.in) }

func (p *luceneParser) peek(set string) bool {
	return p.more() && strings.ContainsRune(set, p.in[p.pos])
}

func (p *luceneParser) match(r rune) bool {
	if p.more() && p.in[p.pos] == r {
		p.pos++
		return true
	}
	return false
}

func (p *luceneParser) next() (rune, error) {
	if !p.more() {
		return 0, fmt.Errorf("unexpected end of the regular expression")
	}
	p.pos++
	return p.in[p.pos-1], nil
}

// union: concat ('&' concat)* ('|' ...)*; every operand is parsed before
// the operator is refused, so that an error names the first problem.
func (p *luceneParser) union() (string, error) {
	var alts []string
	for {
		e, err := p.concat()
		if err != nil {
			return "", err
		}
		if p.match('&') {
			return "", fmt.Errorf("the Lucene intersection operator & (position %d) is not supported; write the condition as two regex clauses joined with and", p.pos-1)
		}
		alts = append(alts, e)
		if !p.match('|') {
			break
		}
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return "(?:" + strings.Join(alts, "|") + ")", nil
}

func (p *luceneParser) concat() (string, error) {
	var b strings.Builder
	for {
		e, err := p.repeat()
		if err != nil {
			return "", err
		}
		b.WriteString(e)
		if !p.more() || p.peek(")|&") {
			return b.String(), nil
		}
	}
}

// maxRepeat is RE2's largest repetition count.
const maxRepeat = 1000

func (p *luceneParser) repeat() (string, error) {
	e, err := p.compl()
	if err != nil {
		return "", err
	}
	for p.peek("?*+{") {
		switch {
		case p.match('?'):
			e = "(?:" + e + ")?"
		case p.match('*'):
			e = "(?:" + e + ")*"
		case p.match('+'):
			e = "(?:" + e + ")+"
		case p.match('{'):
			n, err := p.integer()
			if err != nil {
				return "", err
			}
			m, bounded := n, true
			if p.match(',') {
				if p.peek("0123456789") {
					if m, err = p.integer(); err != nil {
						return "", err
					}
				} else {
					bounded = false
				}
			}
			if !p.match('}') {
				return "", fmt.Errorf("expected '}' at position %d of the regular expression", p.pos)
			}
			if bounded && n > m {
				return "", fmt.Errorf("invalid repetition range {%d,%d} in the regular expression", n, m)
			}
			if n > maxRepeat || m > maxRepeat {
				return "", fmt.Errorf("repetition count above %d is not supported", maxRepeat)
			}
			if bounded {
				e = fmt.Sprintf("(?:%s){%d,%d}", e, n, m)
			} else {
				e = fmt.Sprintf("(?:%s){%d,}", e, n)
			}
		}
	}
	return e, nil
}

// integer reads the digits of a repetition bound, as Integer.parseInt does.
func (p *luceneParser) integer() (int, error) {
	start := p.pos
	for p.peek("0123456789") {
		p.pos++
	}
	if start == p.pos {
		return 0, fmt.Errorf("integer expected at position %d of the regular expression", p.pos)
	}
	n, err := strconv.ParseInt(string(p.in[start:p.pos]), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("repetition count %s out of range", string(p.in[start:p.pos]))
	}
	return int(n), nil
}

func (p *luceneParser) compl() (string, error) {
	if p.match('~') {
		return "", fmt.Errorf("the Lucene complement operator ~ (position %d) is not supported; use not with the regex clause instead", p.pos-1)
	}
	if p.match('[') {
		return p.class()
	}
	return p.simple()
}

// class reads a bracket expression after its '['. Every item is parsed
// (the first even when it is ']') until a ']'.
func (p *luceneParser) class() (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	if p.match('^') {
		b.WriteByte('^')
	}
	first := true
	for p.more() && (first || p.in[p.pos] != ']') {
		first = false
		if cls, ok, err := p.predefined(); err != nil {
			return "", err
		} else if ok {
			b.WriteString(cls.inner)
			continue
		}
		lo, err := p.charExp()
		if err != nil {
			return "", err
		}
		if p.match('-') {
			hi, err := p.charExp()
			if err != nil {
				return "", err
			}
			if hi < lo {
				return "", fmt.Errorf("invalid range %c-%c in a character class of the regular expression", lo, hi)
			}
			classLiteral(&b, lo)
			b.WriteByte('-')
			classLiteral(&b, hi) // ranges are not case-folded (Lucene's REGEXP_CHAR_RANGE)
			continue
		}
		classLiteral(&b, lo)
		if alt, ok := asciiOtherCase(lo, p.fold); ok {
			classLiteral(&b, alt)
		}
	}
	if !p.match(']') {
		return "", fmt.Errorf("expected ']' at position %d of the regular expression", p.pos)
	}
	b.WriteByte(']')
	return b.String(), nil
}

func (p *luceneParser) simple() (string, error) {
	switch {
	case p.match('.'):
		return ".", nil
	case p.match('#'):
		return `[^\x00-\x{10FFFF}]`, nil
	case p.match('@'):
		return ".*", nil
	case p.match('"'):
		start := p.pos
		for p.more() && p.in[p.pos] != '"' {
			p.pos++
		}
		if !p.match('"') {
			return "", fmt.Errorf("unterminated quoted string in the regular expression")
		}
		var b strings.Builder
		for _, r := range p.in[start : p.pos-1] {
			p.literal(&b, r)
		}
		return "(?:" + b.String() + ")", nil
	case p.match('('):
		if p.match(')') {
			return "(?:)", nil
		}
		e, err := p.union()
		if err != nil {
			return "", err
		}
		if !p.match(')') {
			return "", fmt.Errorf("expected ')' at position %d of the regular expression", p.pos)
		}
		return "(?:" + e + ")", nil
	case p.match('<'):
		return p.interval()
	}
	if cls, ok, err := p.predefined(); err != nil {
		return "", err
	} else if ok {
		return cls.outer, nil
	}
	r, err := p.charExp()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	p.literal(&b, r)
	return b.String(), nil
}

// interval reads <n-m> after its '<'.
func (p *luceneParser) interval() (string, error) {
	start := p.pos
	for p.more() && p.in[p.pos] != '>' {
		p.pos++
	}
	if !p.match('>') {
		return "", fmt.Errorf("expected '>' at position %d of the regular expression", p.pos)
	}
	body := string(p.in[start : p.pos-1])
	i := strings.IndexByte(body, '-')
	if i < 0 {
		return "", fmt.Errorf("named automata such as <%s> are not supported (Elasticsearch has none either); write < as \\< for a literal", body)
	}
	bad := fmt.Errorf("interval syntax error in <%s> (want <n-m> with decimal n and m)", body)
	if i == 0 || i == len(body)-1 || i != strings.LastIndexByte(body, '-') {
		return "", bad
	}
	smin, smax := body[:i], body[i+1:]
	lo, err1 := strconv.ParseInt(smin, 10, 32)
	hi, err2 := strconv.ParseInt(smax, 10, 32)
	if err1 != nil || err2 != nil {
		return "", bad
	}
	digits := 0
	if len(smin) == len(smax) {
		digits = len(smin)
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return decimalInterval(lo, hi, digits), nil
}

// decimalInterval is Automata.makeDecimalInterval as RE2: the decimal
// numbers lo..hi, with exactly digits digits (zero-padded) when digits > 0,
// otherwise with any number of leading zeros.
func decimalInterval(lo, hi int64, digits int) string {
	if digits > 0 {
		return digitRange(pad(lo, digits), pad(hi, digits))
	}
	var alts []string
	for l := len(strconv.FormatInt(lo, 10)); l <= len(strconv.FormatInt(hi, 10)); l++ {
		a, z := lo, hi
		if floor := pow10(l - 1); l > 1 && a < floor {
			a = floor
		}
		if ceil := pow10(l) - 1; z > ceil {
			z = ceil
		}
		alts = append(alts, digitRange(pad(a, l), pad(z, l)))
	}
	return "0*(?:" + strings.Join(alts, "|") + ")"
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

func pad(v int64, n int) string {
	s := strconv.FormatInt(v, 10)
	return strings.Repeat("0", n-len(s)) + s
}

// digitRange matches the strings of len(a) digits from a to z (same length,
// a <= z).
func digitRange(a, z string) string {
	if a == "" {
		return ""
	}
	if a[0] == z[0] {
		return a[:1] + digitRange(a[1:], z[1:])
	}
	n := len(a) - 1
	tail := ""
	if n > 0 {
		tail = fmt.Sprintf("[0-9]{%d}", n)
	}
	var alts []string
	lo, hi := a[0], z[0]
	if strings.Trim(a[1:], "0") != "" {
		alts = append(alts, a[:1]+digitRange(a[1:], strings.Repeat("9", n)))
		lo++
	}
	fullHi := strings.Trim(z[1:], "9") == ""
	if !fullHi {
		hi--
	}
	if lo <= hi {
		alts = append(alts, fmt.Sprintf("[%c-%c]", lo, hi)+tail)
	}
	if !fullHi {
		alts = append(alts, z[:1]+digitRange(strings.Repeat("0", n), z[1:]))
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

// predefined reads \d \D \s \S \w \W (matchPredefinedCharacterClass); another
// letter after a backslash is an error. It consumes nothing unless ok or err.
func (p *luceneParser) predefined() (cls struct{ inner, outer string }, ok bool, err error) {
	if p.pos+1 >= len(p.in) || p.in[p.pos] != '\\' {
		return cls, false, nil
	}
	r := p.in[p.pos+1]
	if c, ok := lucenePredefined[r]; ok {
		p.pos += 2
		return c, true, nil
	}
	if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
		return cls, false, fmt.Errorf("invalid character class \\%c in regular expression (Lucene knows \\d \\D \\s \\S \\w \\W; quote other letters, e.g. \"n\")", r)
	}
	return cls, false, nil
}

// charExp is an optionally escaped character.
func (p *luceneParser) charExp() (rune, error) {
	p.match('\\')
	return p.next()
}

// literal writes r as a literal, both ASCII cases when folding.
func (p *luceneParser) literal(b *strings.Builder, r rune) {
	if alt, ok := asciiOtherCase(r, p.fold); ok {
		b.WriteByte('[')
		b.WriteRune(r)
		b.WriteRune(alt)
		b.WriteByte(']')
		return
	}
	b.WriteString(regexp.QuoteMeta(string(r)))
}

// asciiOtherCase is the other case of an ASCII letter when folding
// (RegExp.ASCII_CASE_INSENSITIVE folds code points up to 128 only).
func asciiOtherCase(r rune, fold bool) (rune, bool) {
	if !fold || r > 128 {
		return 0, false
	}
	switch {
	case unicode.IsLower(r):
		return unicode.ToUpper(r), true
	case unicode.IsUpper(r):
		return unicode.ToLower(r), true
	}
	return 0, false
}

// lucenePredefined are the predefined character classes of Lucene's RegExp
// (since Lucene 8.6, so Elasticsearch 7.9 and later; RegExp.expandPredefined):
// \d [0-9], \s [ \t\n\r] (no \f or \v), \w [a-zA-Z_0-9], and their
// complements \D \S \W (one character not in the class), valid inside and
// outside brackets. The RE2 forms are explicit ranges, since RE2's \s
// includes \f and \v. inner is the form inside a bracket expression, outer
// outside one.
var lucenePredefined = map[rune]struct{ inner, outer string }{
	'd': {`0-9`, `[0-9]`},
	's': {`\t\n\r `, `[\t\n\r ]`},
	'w': {`0-9A-Z_a-z`, `[0-9A-Z_a-z]`},
	'D': {`\x00-/:-\x{10FFFF}`, `[^0-9]`},
	'S': {`\x00-\x08\x0B\x0C\x0E-\x1F!-\x{10FFFF}`, `[^\t\n\r ]`},
	'W': {`\x00-/:-@\[-^` + "`" + `{-\x{10FFFF}`, `[^0-9A-Z_a-z]`},
}

// classLiteral writes r as a literal inside an RE2 character class.
func classLiteral(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
		b.WriteByte('\\')
	}
	b.WriteRune(r)
}
