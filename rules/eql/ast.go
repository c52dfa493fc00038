// Package eql is the front end of eqlstream's EQL implementation: a hand-written
// lexer, a precedence-climbing parser producing an AST with byte offsets, and a
// checker that validates function calls and reports the warnings a rule author
// needs. It has no notion of events or evaluation; package engine compiles the
// checked AST.
package eql

import "time"

// Pos is a byte offset into the query source.
type Pos int

// Query is the root of a parsed EQL statement.
type Query interface{ queryNode() }

// EventQuery is `category where cond` or `any where cond`.
type EventQuery struct {
	Pos      Pos
	Category string // "" when Any
	Any      bool
	Where    Expr
}

// Stage is one bracketed term of a sequence or sample.
type Stage struct {
	Pos     Pos
	Query   *EventQuery
	By      []*Field
	Missing bool // ![...]
	Runs    int  // with runs=N; 0 when absent
}

// SequenceQuery is a `sequence` statement.
type SequenceQuery struct {
	Pos     Pos
	By      []*Field
	MaxSpan time.Duration // 0 when absent
	Stages  []*Stage
	Until   *Stage
}

// SampleQuery is a `sample` statement.
type SampleQuery struct {
	Pos    Pos
	By     []*Field
	Stages []*Stage
}

// Pipe is `| name args...`. Pipes are parsed so errors are precise; the engine
// rejects them (no active corpus rule uses one).
type Pipe struct {
	Pos  Pos
	Name string
	Args []Expr
}

// Statement is a query and its pipes.
type Statement struct {
	Query Query
	Pipes []*Pipe
}

func (*EventQuery) queryNode()    {}
func (*SequenceQuery) queryNode() {}
func (*SampleQuery) queryNode()   {}

// Expr is a boolean or value expression.
type Expr interface {
	Position() Pos
}

// Field is a field reference such as `process.parent.name` or `?a.b`.
type Field struct {
	Pos      Pos
	Path     []string // segments; a backtick segment may contain dots
	Optional bool
	Index    []int // [N] subscripts, rejected by the compiler
}

// Name returns the dotted field name.
func (f *Field) Name() string {
	n := 0
	for _, s := range f.Path {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range f.Path {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, s...)
	}
	return string(b)
}

// LitKind is the type of a literal.
type LitKind uint8

// Literal kinds.
const (
	LitNull LitKind = iota
	LitString
	LitInt
	LitFloat
	LitBool
)

// Literal is a constant.
type Literal struct {
	Pos   Pos
	Kind  LitKind
	Str   string
	Int   int64
	Float float64
	Bool  bool
}

// Op is an operator.
type Op uint8

// Operators.
const (
	OpAnd Op = iota
	OpOr
	OpEq
	OpNeq
	OpLt
	OpLte
	OpGt
	OpGte
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMod
)

var opNames = [...]string{"and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"}

func (o Op) String() string { return opNames[o] }

// Binary is a boolean, comparison or arithmetic binary expression.
type Binary struct {
	Pos   Pos // operator position
	Op    Op
	Left  Expr
	Right Expr
}

// Not is `not x`.
type Not struct {
	Pos Pos
	X   Expr
}

// Neg is unary minus.
type Neg struct {
	Pos Pos
	X   Expr
}

// In is `x in (...)`, `x in~ (...)`, `x not in (...)`.
type In struct {
	Pos             Pos
	X               Expr
	List            []Expr
	Negated         bool
	CaseInsensitive bool
}

// MatchKind is the kind of a pattern predicate.
type MatchKind uint8

// Pattern predicate kinds.
const (
	MatchSeq   MatchKind = iota // `:`
	MatchLike                   // like / like~
	MatchRegex                  // regex / regex~
)

// Match is `x : p`, `x like p`, `x regex~ (p1, p2)`.
type Match struct {
	Pos             Pos
	Kind            MatchKind
	X               Expr
	Patterns        []*Literal
	CaseInsensitive bool
}

// Call is a function call; Name is as written (without `~`).
type Call struct {
	Pos             Pos
	Name            string
	Args            []Expr
	CaseInsensitive bool
	EndPos          Pos
}

func (e *Field) Position() Pos   { return e.Pos }
func (e *Literal) Position() Pos { return e.Pos }
func (e *Binary) Position() Pos  { return e.Pos }
func (e *Not) Position() Pos     { return e.Pos }
func (e *Neg) Position() Pos     { return e.Pos }
func (e *In) Position() Pos      { return e.Pos }
func (e *Match) Position() Pos   { return e.Pos }
func (e *Call) Position() Pos    { return e.Pos }
