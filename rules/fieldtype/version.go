package fieldtype

import (
	"strings"
)

// CompareVersions orders two values of a version field as Elasticsearch's
// version type does (its reference: "precedence as defined by Semantic
// Versioning"): dot-separated numeric parts compared as numbers (any number
// of parts; 1.2 sorts before 1.2.0), then a release after any of its
// pre-releases (1.0.0-alpha < 1.0.0), pre-release identifiers compared
// numerically when both are numbers, numbers before other identifiers, text
// identifiers by byte order, fewer identifiers first. Build metadata (+...)
// does not order, but equality is of the whole string, as a term query's is.
// A value that is not a valid version sorts after every valid one, and two
// invalid ones by byte order.
func CompareVersions(a, b string) int {
	va, okA := parseVersion(a)
	vb, okB := parseVersion(b)
	switch {
	case okA && !okB:
		return -1
	case !okA && okB:
		return 1
	case !okA:
		return strings.Compare(a, b)
	}
	if c := cmpNumParts(va.nums, vb.nums); c != 0 {
		return c
	}
	switch {
	case va.pre == nil && vb.pre != nil:
		return 1
	case va.pre != nil && vb.pre == nil:
		return -1
	}
	if c := cmpPre(va.pre, vb.pre); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

type version struct {
	nums []string // digits without leading zeros
	pre  []string // nil when there is no pre-release
}

func parseVersion(s string) (version, bool) {
	var v version
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !validIdents(build) {
		return v, false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre {
		if !validIdents(pre) {
			return v, false
		}
		v.pre = strings.Split(pre, ".")
	}
	for _, p := range strings.Split(core, ".") {
		if p == "" || !allDigits(p) {
			return v, false
		}
		v.nums = append(v.nums, strings.TrimLeft(p, "0"))
	}
	return v, true
}

func validIdents(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// cmpNum compares decimal digit strings without leading zeros.
func cmpNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func cmpNumParts(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmpNum(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmpLen(len(a), len(b))
}

func cmpLen(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpPre(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		na, nb := allDigits(a[i]), allDigits(b[i])
		var c int
		switch {
		case na && nb:
			c = cmpNum(strings.TrimLeft(a[i], "0"), strings.TrimLeft(b[i], "0"))
		case na:
			c = -1
		case nb:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmpLen(len(a), len(b))
}
