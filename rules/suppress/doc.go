package suppress

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"
	json "github.com/goccy/go-json"

	"github.com/eqlstream/eqlstream/rules"
)

// fmtTime formats event time (Unix nanoseconds) as the alert documents do.
func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// suppressionFields appends Kibana's suppression fields, each with a
// leading comma, to b.
func suppressionFields(b []byte, w *window, docs uint64) []byte {
	b = append(b, `,"kibana.alert.instance_id":"`...)
	b = append(b, instanceID(w)...)
	b = append(b, `","kibana.alert.suppression.terms":`...)
	b = append(b, w.terms...)
	b = append(b, `,"kibana.alert.suppression.start":"`...)
	b = append(b, fmtTime(w.first)...)
	b = append(b, `","kibana.alert.suppression.end":"`...)
	b = append(b, fmtTime(w.last)...)
	b = append(b, `","kibana.alert.suppression.docs_count":`...)
	b = strconv.AppendUint(b, docs, 10)
	return b
}

// withSuppression adds the suppression fields to an alert document (a JSON
// object) before its closing brace.
func withSuppression(doc []byte, w *window, docs uint64) []byte {
	end := bytes.LastIndexByte(doc, '}')
	if end < 0 {
		return doc
	}
	out := make([]byte, 0, len(doc)+256)
	out = append(out, doc[:end]...)
	out = suppressionFields(out, w, docs)
	return append(out, doc[end:]...)
}

// SummaryID is the deterministic ID of a window's summary: the rule, its
// version, the terms and the window start.
func summaryID(r *rules.Rule, w *window) string {
	h := xxhash.New()
	h.WriteString("suppression\x00")
	h.WriteString(r.ID)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.Version))
	h.Write(n[:])
	h.Write(w.terms)
	binary.BigEndian.PutUint64(n[:], uint64(w.first))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], h.Sum64())
	return hex.EncodeToString(n[:])
}

// summaryDoc renders the summary alert of a closed window: the rule's
// alert fields, the suppression fields with the count, host.id when it is a
// term, and the ID of the alert that opened the window.
func summaryDoc(r *rules.Rule, w *window) ([]byte, string) {
	id := summaryID(r, w)
	f := func(b []byte, k string, v any) []byte {
		if len(b) > 1 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.MarshalNoEscape(v)
		return append(append(append(b, kb...), ':'), vb...)
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	b := []byte{'{'}
	b = f(b, "@timestamp", fmtTime(w.last))
	b = f(b, "kibana.alert.uuid", id)
	b = f(b, "kibana.alert.rule.uuid", r.ID)
	b = f(b, "kibana.alert.rule.rule_id", r.ID)
	b = f(b, "kibana.alert.rule.name", r.Name)
	b = f(b, "kibana.alert.rule.description", r.Description)
	b = f(b, "kibana.alert.rule.type", "eql")
	b = f(b, "kibana.alert.rule.version", r.Version)
	b = f(b, "kibana.alert.rule.tags", tags)
	b = f(b, "kibana.alert.severity", r.Severity)
	b = f(b, "kibana.alert.risk_score", r.RiskScore)
	b = f(b, "kibana.alert.original_time", fmtTime(w.first))
	b = f(b, "kibana.alert.status", "active")
	b = f(b, "kibana.alert.workflow_status", "open")
	b = suppressionFields(b, w, w.docs)
	b = f(b, "event.kind", "signal")
	b = f(b, "rule", map[string]any{"id": r.ID, "uuid": r.ID, "name": r.Name, "version": strconv.Itoa(r.Version)})
	if w.host != "" {
		b = f(b, "host", map[string]any{"id": w.host})
	}
	b = f(b, "eqlstream", map[string]any{"kind": "suppression_summary", "suppressed_alert": w.id, "window_end": fmtTime(w.end)})
	return append(b, '}'), id
}
