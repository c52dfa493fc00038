package eql

import (
	"fmt"
	"strings"
)

// Source is a query text with an optional file name and the position of the
// query inside that file, so errors in queries embedded in TOML point into the
// TOML file.
type Source struct {
	Name string // file name; "" for an inline query
	Text string
	// Line and Col (1-based) of Text[0] inside the file; zero means 1:1.
	Line, Col int
}

// Location resolves a byte offset to a 1-based line and column in the file.
func (s *Source) Location(p Pos) (line, col int) {
	off := int(p)
	if off > len(s.Text) {
		off = len(s.Text)
	}
	if off < 0 {
		off = 0
	}
	line = 1 + strings.Count(s.Text[:off], "\n")
	ls := strings.LastIndexByte(s.Text[:off], '\n') + 1
	col = 1 + len([]rune(s.Text[ls:off]))
	base, bcol := s.Line, s.Col
	if base == 0 {
		base = 1
	}
	if bcol == 0 {
		bcol = 1
	}
	if line == 1 {
		col += bcol - 1
	}
	return base + line - 1, col
}

func (s *Source) lineText(p Pos) (text string, caretCol int) {
	off := int(p)
	if off > len(s.Text) {
		off = len(s.Text)
	}
	if off < 0 {
		off = 0
	}
	ls := strings.LastIndexByte(s.Text[:off], '\n') + 1
	le := strings.IndexByte(s.Text[off:], '\n')
	if le < 0 {
		le = len(s.Text)
	} else {
		le += off
	}
	return strings.TrimRight(s.Text[ls:le], "\r"), len([]rune(s.Text[ls:off]))
}

// Error is a positioned front-end error or warning.
type Error struct {
	Src *Source
	Pos Pos
	Msg string
}

// pos is the error position, moved from past trailing whitespace (an error
// at the end of the query) to just after its last character.
func (e *Error) pos() Pos {
	end := len(strings.TrimRight(e.Src.Text, " \t\r\n"))
	if int(e.Pos) > end {
		return Pos(end)
	}
	return e.Pos
}

func (e *Error) Error() string {
	line, col := e.Src.Location(e.pos())
	name := e.Src.Name
	if name == "" {
		name = "query"
	}
	return fmt.Sprintf("%s:%d:%d: %s", name, line, col, e.Msg)
}

// Detail is the error followed by the offending line and a caret under the
// position.
func (e *Error) Detail() string {
	text, c := e.Src.lineText(e.pos())
	var b strings.Builder
	b.WriteString(e.Error())
	b.WriteString("\n    ")
	b.WriteString(strings.ReplaceAll(text, "\t", " "))
	b.WriteString("\n    ")
	b.WriteString(strings.Repeat(" ", c))
	b.WriteString("^")
	return b.String()
}

// Errors is a list of errors; Error() joins their Detail texts.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Detail()
	}
	return strings.Join(parts, "\n")
}
