package elasticalert

import (
	"strings"

	"github.com/eqlstream/eqlstream/rules"

	json "github.com/goccy/go-json"
)

// Reason is kibana.alert.reason as Kibana's buildReasonMessageUtil writes it
// for a document, e.g. "process event with process apt, by root on web-1
// created medium alert Suspicious APT Execution.". Like Kibana it takes
// strings and arrays only (a numeric port is left out) and skips "-".
func Reason(name, severity string, doc map[string]any) string {
	interest := false
	get := func(path string, ofInterest bool) string {
		v, ok := rules.Lookup(doc, path)
		if !ok {
			return ""
		}
		var s string
		switch x := v.(type) {
		case string:
			if x == "" || x == "-" {
				return ""
			}
			s = x
		case []any:
			if len(x) == 0 || (len(x) == 1 && x[0] == "-") {
				return ""
			}
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = jsString(e)
			}
			s = strings.Join(parts, ", ")
		default:
			return "" // numbers, booleans, objects have no length in Kibana's check
		}
		if ofInterest {
			interest = true
		}
		return s
	}
	dstAddr, dstPort := get("destination.ip", true), get("destination.port", true)
	category := get("event.category", false)
	file := get("file.name", true)
	host := get("host.name", false)
	proc, parent := get("process.name", true), get("process.parent.name", true)
	srcAddr, srcPort := get("source.ip", true), get("source.port", true)
	user := get("user.name", false)

	var b strings.Builder
	if category != "" {
		b.WriteString(category + " ")
	}
	b.WriteString("event")
	if interest {
		b.WriteString(" with")
	}
	if proc != "" {
		b.WriteString(" process " + proc + ",")
	}
	if parent != "" {
		b.WriteString(" parent process " + parent + ",")
	}
	if file != "" {
		b.WriteString(" file " + file + ",")
	}
	if srcAddr != "" {
		b.WriteString(" source " + srcAddr)
	}
	if srcPort != "" {
		b.WriteString(":" + srcPort + ",")
	}
	if dstAddr != "" {
		b.WriteString(" destination " + dstAddr)
	}
	if dstPort != "" {
		b.WriteString(":" + dstPort + ",")
	}
	if user != "" {
		b.WriteString(" by " + user)
	}
	if host != "" {
		b.WriteString(" on " + host)
	}
	b.WriteString(" created " + severity + " alert " + name + ".")
	return b.String()
}

// jsString is how JavaScript's Array.join prints an element.
func jsString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
