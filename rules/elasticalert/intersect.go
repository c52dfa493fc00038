package elasticalert

import (
	"reflect"
)

// intersectAll is what the events of a group have in common, as Kibana's
// objectArrayIntersection computes it for a sequence's shell alert: objects
// are intersected key by key, equal values are kept, arrays keep the values
// both sides hold (in the first side's order, without repeats), a key whose
// values differ is dropped, and an object left with nothing is dropped.
func intersectAll(objs []any) any {
	switch len(objs) {
	case 0:
		return nil
	case 1:
		m, ok := objs[0].(map[string]any)
		if !ok {
			return objs[0]
		}
		cp := make(map[string]any, len(m))
		for k, v := range m {
			cp[k] = v
		}
		return cp
	}
	acc := objs[0]
	for _, o := range objs[1:] {
		acc = intersectPair(acc, o)
	}
	return acc
}

// intersectPair is Kibana's objectPairIntersection; nil means undefined.
func intersectPair(a, b any) any {
	am, ok1 := a.(map[string]any)
	bm, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return nil
	}
	out := map[string]any{}
	for k, av := range am {
		bv, ok := bm[k]
		if !ok {
			continue
		}
		_, aObj := av.(map[string]any)
		_, bObj := bv.(map[string]any)
		aArr, aIsArr := av.([]any)
		bArr, bIsArr := bv.([]any)
		switch {
		case aObj && bObj:
			if v := intersectPair(av, bv); v != nil {
				out[k] = v
			}
		case !aIsArr && !bIsArr && !aObj && !bObj && scalarEqual(av, bv):
			out[k] = av
		case aIsArr && bIsArr:
			out[k] = arrayIntersection(aArr, bArr)
		case aIsArr && !bIsArr:
			out[k] = arrayIntersection(aArr, []any{bv})
		case !aIsArr && bIsArr:
			out[k] = arrayIntersection([]any{av}, bArr)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// scalarEqual is JavaScript's === on JSON scalars (objects and arrays are
// never equal to another value).
func scalarEqual(a, b any) bool {
	switch a.(type) {
	case map[string]any, []any:
		return false
	}
	return reflect.DeepEqual(a, b)
}

// arrayIntersection is lodash's intersection of two arrays: the unique
// values of a that b holds (SameValueZero: objects by identity, so never).
func arrayIntersection(a, b []any) []any {
	out := []any{}
	for _, x := range a {
		switch x.(type) {
		case map[string]any, []any:
			continue
		}
		if containsScalar(b, x) && !containsScalar(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func containsScalar(list []any, x any) bool {
	for _, y := range list {
		if scalarEqual(x, y) {
			return true
		}
	}
	return false
}
