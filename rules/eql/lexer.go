package eql

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tTildeIdent // name~ (function or in~/like~/regex~)
	tQuotedIdent
	tString
	tInt
	tFloat
	tLParen
	tRParen
	tLBracket
	tRBracket
	tComma
	tDot
	tPipe
	tEq     // ==
	tNeq    // !=
	tLt     // <
	tLte    // <=
	tGt     // >
	tGte    // >=
	tAssign // =
	tColon  // :
	tPlus
	tMinus
	tStar
	tSlash
	tPercent
	tQuestion // ?
	tBang     // ! (missing event)
)

type token struct {
	kind tokKind
	pos  Pos
	end  Pos
	text string // identifier name, unescaped string value, number text
}

type lexer struct {
	src  *Source
	s    string
	off  int
	errs Errors
}

func (l *lexer) errorf(p int, format string, args ...any) {
	l.errs = append(l.errs, &Error{Src: l.src, Pos: Pos(p), Msg: sprintf(format, args...)})
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '@' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

// skipSpace skips whitespace and comments.
func (l *lexer) skipSpace() {
	for l.off < len(l.s) {
		c := l.s[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.off++
		case c == '/' && l.off+1 < len(l.s) && l.s[l.off+1] == '/':
			e := strings.IndexByte(l.s[l.off:], '\n')
			if e < 0 {
				l.off = len(l.s)
			} else {
				l.off += e + 1
			}
		case c == '/' && l.off+1 < len(l.s) && l.s[l.off+1] == '*':
			l.blockComment()
		default:
			return
		}
	}
}

// blockComment skips a /* ... */ comment. As in Elasticsearch's grammar,
// block comments nest.
func (l *lexer) blockComment() {
	start := l.off
	depth := 0
	for l.off < len(l.s) {
		switch {
		case strings.HasPrefix(l.s[l.off:], "/*"):
			depth++
			l.off += 2
		case strings.HasPrefix(l.s[l.off:], "*/"):
			depth--
			l.off += 2
			if depth == 0 {
				return
			}
		default:
			l.off++
		}
	}
	l.errorf(start, "unterminated comment")
}

// next returns the next token. After the first error it returns tEOF: Parse
// reports only the first lexical error, and stopping keeps hostile input (say,
// a megabyte of unexpected characters) from costing more than one pass.
func (l *lexer) next() token {
	if len(l.errs) > 0 {
		return token{kind: tEOF, pos: Pos(len(l.s)), end: Pos(len(l.s))}
	}
	l.skipSpace()
	if len(l.errs) > 0 {
		return token{kind: tEOF, pos: Pos(len(l.s)), end: Pos(len(l.s))}
	}
	start := l.off
	if l.off >= len(l.s) {
		return token{kind: tEOF, pos: Pos(start), end: Pos(start)}
	}
	c := l.s[l.off]
	one := func(k tokKind) token {
		l.off++
		return token{kind: k, pos: Pos(start), end: Pos(l.off), text: l.s[start:l.off]}
	}
	two := func(k tokKind) token {
		l.off += 2
		return token{kind: k, pos: Pos(start), end: Pos(l.off), text: l.s[start:l.off]}
	}
	peek := byte(0)
	if l.off+1 < len(l.s) {
		peek = l.s[l.off+1]
	}
	switch {
	case isIdentStart(c):
		for l.off < len(l.s) && isIdentPart(l.s[l.off]) {
			l.off++
		}
		t := token{kind: tIdent, pos: Pos(start), text: l.s[start:l.off]}
		if l.off < len(l.s) && l.s[l.off] == '~' {
			l.off++
			t.kind = tTildeIdent
		}
		t.end = Pos(l.off)
		return t
	case c >= '0' && c <= '9':
		return l.number()
	case c == '"':
		return l.str()
	case c == '\'':
		l.errorf(start, "single quotes are not supported for strings, use double quotes")
		e := strings.IndexByte(l.s[l.off+1:], '\'')
		if e < 0 {
			l.off = len(l.s)
		} else {
			l.off += e + 2
		}
		return token{kind: tString, pos: Pos(start), end: Pos(l.off), text: ""}
	case c == '`':
		e := strings.IndexByte(l.s[l.off+1:], '`')
		if e < 0 {
			l.errorf(start, "unterminated quoted identifier")
			l.off = len(l.s)
			return token{kind: tQuotedIdent, pos: Pos(start), end: Pos(l.off), text: l.s[start+1:]}
		}
		// `` inside a quoted identifier escapes a backtick
		text := l.s[l.off+1 : l.off+1+e]
		l.off += e + 2
		for l.off < len(l.s) && l.s[l.off] == '`' {
			e2 := strings.IndexByte(l.s[l.off+1:], '`')
			if e2 < 0 {
				break
			}
			text += "`" + l.s[l.off+1:l.off+1+e2]
			l.off += e2 + 2
		}
		return token{kind: tQuotedIdent, pos: Pos(start), end: Pos(l.off), text: text}
	}
	switch c {
	case '(':
		return one(tLParen)
	case ')':
		return one(tRParen)
	case '[':
		return one(tLBracket)
	case ']':
		return one(tRBracket)
	case ',':
		return one(tComma)
	case '.':
		return one(tDot)
	case '|':
		return one(tPipe)
	case ':':
		return one(tColon)
	case '+':
		return one(tPlus)
	case '-':
		return one(tMinus)
	case '*':
		return one(tStar)
	case '/':
		return one(tSlash)
	case '%':
		return one(tPercent)
	case '?':
		return one(tQuestion)
	case '=':
		if peek == '=' {
			return two(tEq)
		}
		return one(tAssign)
	case '!':
		if peek == '=' {
			return two(tNeq)
		}
		return one(tBang)
	case '<':
		if peek == '=' {
			return two(tLte)
		}
		return one(tLt)
	case '>':
		if peek == '=' {
			return two(tGte)
		}
		return one(tGt)
	}
	r, size := utf8.DecodeRuneInString(l.s[l.off:])
	l.errorf(start, "unexpected character %q", r)
	l.off += size
	return token{kind: tEOF, pos: Pos(start), end: Pos(l.off)}
}

func (l *lexer) number() token {
	start := l.off
	for l.off < len(l.s) && l.s[l.off] >= '0' && l.s[l.off] <= '9' {
		l.off++
	}
	kind := tInt
	if l.off+1 < len(l.s) && l.s[l.off] == '.' && l.s[l.off+1] >= '0' && l.s[l.off+1] <= '9' {
		kind = tFloat
		l.off++
		for l.off < len(l.s) && l.s[l.off] >= '0' && l.s[l.off] <= '9' {
			l.off++
		}
	}
	if l.off < len(l.s) && (l.s[l.off] == 'e' || l.s[l.off] == 'E') {
		j := l.off + 1
		if j < len(l.s) && (l.s[j] == '+' || l.s[j] == '-') {
			j++
		}
		if j < len(l.s) && l.s[j] >= '0' && l.s[j] <= '9' {
			kind = tFloat
			l.off = j
			for l.off < len(l.s) && l.s[l.off] >= '0' && l.s[l.off] <= '9' {
				l.off++
			}
		}
	}
	return token{kind: kind, pos: Pos(start), end: Pos(l.off), text: l.s[start:l.off]}
}

func (l *lexer) str() token {
	start := l.off
	if strings.HasPrefix(l.s[l.off:], `"""`) {
		// Elasticsearch: '"""' (~[\r\n])*? '"""' '"'? '"'? — a raw string
		// stays on one line, and up to two quotes right after the closing
		// `"""` belong to the content (`"""a""""` is `a"`).
		body := l.s[l.off+3:]
		if nl := strings.IndexAny(body, "\r\n"); nl >= 0 {
			body = body[:nl]
		}
		e := strings.Index(body, `"""`)
		if e < 0 {
			l.errorf(start, "unterminated raw string (raw strings end on the line they start)")
			l.off = len(l.s)
			return token{kind: tString, pos: Pos(start), end: Pos(l.off)}
		}
		extra := 0
		for extra < 2 && e+3+extra < len(body) && body[e+3+extra] == '"' {
			extra++
		}
		text := body[:e+extra]
		l.off += 3 + e + extra + 3
		return token{kind: tString, pos: Pos(start), end: Pos(l.off), text: text}
	}
	l.off++
	var b strings.Builder
	for {
		if l.off >= len(l.s) || l.s[l.off] == '\n' || l.s[l.off] == '\r' {
			l.errorf(start, "unterminated string")
			return token{kind: tString, pos: Pos(start), end: Pos(l.off), text: b.String()}
		}
		c := l.s[l.off]
		if c == '"' {
			l.off++
			return token{kind: tString, pos: Pos(start), end: Pos(l.off), text: b.String()}
		}
		if c != '\\' {
			b.WriteByte(c)
			l.off++
			continue
		}
		if l.off+1 >= len(l.s) {
			l.errorf(l.off, "unterminated escape sequence")
			l.off++
			continue
		}
		esc := l.s[l.off+1]
		switch esc {
		case '"', '\\', '\'':
			b.WriteByte(esc)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			// \u{X..} with 2 to 8 hex digits; Elasticsearch rejects \uXXXX.
			if l.off+2 < len(l.s) && l.s[l.off+2] == '{' {
				e := strings.IndexByte(l.s[l.off+3:], '}')
				if e < 0 {
					l.errorf(l.off, "unterminated unicode escape")
					l.off = len(l.s)
					return token{kind: tString, pos: Pos(start), end: Pos(l.off), text: b.String()}
				}
				hex := l.s[l.off+3 : l.off+3+e]
				v, err := strconv.ParseUint(hex, 16, 32)
				if err != nil || len(hex) < 2 || len(hex) > 8 || !utf8.ValidRune(rune(v)) {
					l.errorf(l.off, "invalid unicode escape \\u{%s}", hex)
				} else {
					b.WriteRune(rune(v))
				}
				l.off += 3 + e + 1
				continue
			}
			l.errorf(l.off, "invalid unicode escape: use \\u{XXXX} with 2 to 8 hex digits")
		default:
			l.errorf(l.off, "invalid escape sequence \\%c", esc)
		}
		l.off += 2
	}
}
