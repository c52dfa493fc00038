package eql

// FoldOptional rewrites what Elasticsearch's EQL analyzer rewrites before it
// checks that a comparison has a constant side: an optional field `?f` that
// the index mapping does not have is replaced, inside a filter, by the null
// literal (Analyzer.ResolveOrReplaceOptionalRefs), and the optimizer's
// ReplaceNullChecks then reads `null == y` as `y == null` (y is missing),
// `null != y` as `y != null`, and `null == null` as true. So `?x == ?y` is a
// valid query when at least one of them is absent from the mapping; with
// both present it is the field-to-field comparison Elasticsearch refuses.
//
// Only comparisons between two fields (==, != and in lists) are rewritten:
// they are the only place where the fold decides between an error and a
// valid query. Elsewhere `?f` keeps reading the event, so that a field our
// schema lacks but the events carry still matches (on an index whose
// mapping lacks it, no document has it, and the two readings agree). known
// reports whether the mapping has a field; nil folds nothing.
func FoldOptional(st *Statement, known func(name string) bool) {
	if st == nil || known == nil {
		return
	}
	absent := func(e Expr) bool {
		f, ok := e.(*Field)
		return ok && f.Optional && !known(f.Name())
	}
	null := func(e Expr) Expr { return &Literal{Pos: e.Position(), Kind: LitNull} }
	var fold func(e Expr) Expr
	fold = func(e Expr) Expr {
		switch x := e.(type) {
		case *Binary:
			x.Left, x.Right = fold(x.Left), fold(x.Right)
			if x.Op != OpEq && x.Op != OpNeq {
				return x
			}
			if _, ok := x.Left.(*Field); !ok {
				return x
			}
			if _, ok := x.Right.(*Field); !ok {
				return x
			}
			if absent(x.Left) {
				x.Left = null(x.Left)
			}
			if absent(x.Right) {
				x.Right = null(x.Right)
			}
		case *Not:
			x.X = fold(x.X)
		case *In:
			hasField := false
			for _, v := range x.List {
				if _, ok := v.(*Field); ok {
					hasField = true
				}
			}
			if _, ok := x.X.(*Field); !ok || !hasField {
				return x
			}
			for i, v := range x.List {
				if absent(v) {
					x.List[i] = null(v)
				}
			}
			if absent(x.X) {
				x.X = null(x.X)
			}
		}
		return e
	}
	each := func(q *EventQuery) {
		if q != nil && q.Where != nil {
			q.Where = fold(q.Where)
		}
	}
	switch q := st.Query.(type) {
	case *EventQuery:
		each(q)
	case *SequenceQuery:
		for _, s := range stagesOf(q.Stages, q.Until) {
			each(s.Query)
		}
	case *SampleQuery:
		for _, s := range stagesOf(q.Stages, nil) {
			each(s.Query)
		}
	}
}
