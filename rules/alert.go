package rules

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	json "github.com/goccy/go-json"
)

// MatchedEvent is one event of a match as received, or a missing-event stage.
type MatchedEvent struct {
	Raw     []byte // the event exactly as received; nil when Missing
	Missing bool
}

// AlertInput is what an alert is built from.
type AlertInput struct {
	Rule      *Rule
	Kind      string // "event", "sequence" or "sample"
	Events    []MatchedEvent
	KeyFields []string // join key fields of the first stage, e.g. ["host.id", "process.entity_id"]
	// ProcessedAt is the wall-clock processing time; zero leaves the field out.
	ProcessedAt time.Time
	// RulesRevision is the rule-set revision that raised the alert
	// (eqlstream.rules_revision); "" leaves the field out.
	RulesRevision string
}

// AlertID is the deterministic ID of an alert: a hash of the rule ID, the rule
// version and the bytes of the matched events, so evaluating the same events
// again (offline, online, after any replay) gives the same ID.
func AlertID(r *Rule, events []MatchedEvent) string {
	h := xxhash.New()
	var n [8]byte
	h.WriteString(r.ID)
	h.Write([]byte{0})
	binary.BigEndian.PutUint64(n[:], uint64(r.Version))
	h.Write(n[:])
	for _, e := range events {
		if e.Missing {
			h.Write([]byte{1})
			continue
		}
		binary.BigEndian.PutUint64(n[:], xxhash.Sum64(e.Raw))
		h.Write([]byte{2})
		h.Write(n[:])
	}
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], h.Sum64())
	return hex.EncodeToString(id[:])
}

// lookup finds a field in a decoded event: nested objects, dotted keys or a
// mix, as Elasticsearch treats them.
func lookup(doc map[string]any, path string) (any, bool) {
	if v, ok := doc[path]; ok {
		return v, true
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := doc[path[:i]].(map[string]any); ok {
			if v, ok := lookup(sub, path[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

// BuildAlert renders the alert document: ECS rule.* and threat.*, the Elastic
// Security alert fields (kibana.alert.*), host.* of the matched events, the
// join key values and the matched events in sequence order.
func BuildAlert(in AlertInput) ([]byte, error) {
	r := in.Rule
	id := AlertID(r, in.Events)
	var docs []map[string]any
	var first, last map[string]any
	for _, e := range in.Events {
		if e.Missing {
			docs = append(docs, nil)
			continue
		}
		var d map[string]any
		dec := json.NewDecoder(bytes.NewReader(e.Raw))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			return nil, err
		}
		docs = append(docs, d)
		if first == nil {
			first = d
		}
		last = d
	}
	var b bytes.Buffer
	w := &objWriter{b: &b}
	w.open()
	ts := ""
	if last != nil {
		if v, ok := lookup(last, "@timestamp"); ok {
			ts, _ = v.(string)
		}
	}
	origTime := ""
	if first != nil {
		if v, ok := lookup(first, "@timestamp"); ok {
			origTime, _ = v.(string)
		}
	}
	w.field("@timestamp", ts)
	w.field("kibana.alert.uuid", id)
	w.field("kibana.alert.rule.uuid", r.ID)
	w.field("kibana.alert.rule.rule_id", r.ID)
	w.field("kibana.alert.rule.name", r.Name)
	w.field("kibana.alert.rule.description", r.Description)
	w.field("kibana.alert.rule.type", "eql")
	w.field("kibana.alert.rule.version", r.Version)
	w.field("kibana.alert.rule.tags", nonNil(r.Tags))
	w.field("kibana.alert.severity", r.Severity)
	w.field("kibana.alert.risk_score", r.RiskScore)
	w.field("kibana.alert.original_time", origTime)
	w.field("kibana.alert.status", "active")
	w.field("kibana.alert.workflow_status", "open")
	if r.BuildingBlockType != "" {
		w.field("kibana.alert.building_block_type", r.BuildingBlockType)
	}
	w.field("event.kind", "signal")
	if in.RulesRevision != "" {
		w.field("eqlstream.rules_revision", in.RulesRevision)
	}
	w.field("rule", map[string]any{
		"id": r.ID, "uuid": r.ID, "name": r.Name, "description": r.Description,
		"version": strconv.Itoa(r.Version), "category": in.Kind, "ruleset": rulesetName(r),
	})
	if len(r.Threat) > 0 {
		w.field("threat", threatDoc(r.Threat))
	}
	if first != nil {
		if h := hostObject(first); len(h) > 0 {
			w.field("host", h)
		}
	}
	keys := map[string]any{}
	for _, f := range in.KeyFields {
		if first == nil {
			break
		}
		if v, ok := lookup(first, f); ok {
			keys[f] = v
		}
	}
	w.field("eqlstream", map[string]any{"kind": in.Kind, "join_keys": keys, "event_count": len(in.Events)})
	if !in.ProcessedAt.IsZero() {
		w.field("eqlstream.processed_at", in.ProcessedAt.UTC().Format(time.RFC3339Nano))
	}
	w.key("events")
	b.WriteByte('[')
	for i, e := range in.Events {
		if i > 0 {
			b.WriteByte(',')
		}
		if e.Missing {
			b.WriteString(`{"missing":true}`)
			continue
		}
		if err := json.Compact(&b, e.Raw); err != nil {
			return nil, err
		}
	}
	b.WriteByte(']')
	b.WriteByte('}')
	return b.Bytes(), w.err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func rulesetName(r *Rule) string {
	if r.Builtin {
		return "eqlstream-builtin"
	}
	return "custom"
}

func threatDoc(ts []Threat) []any {
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		techs := make([]any, 0, len(t.Techniques))
		for _, tc := range t.Techniques {
			subs := make([]any, 0, len(tc.Subtechniques))
			for _, s := range tc.Subtechniques {
				subs = append(subs, map[string]any{"id": s.ID, "name": s.Name, "reference": s.Reference})
			}
			m := map[string]any{"id": tc.ID, "name": tc.Name, "reference": tc.Reference}
			if len(subs) > 0 {
				m["subtechnique"] = subs
			}
			techs = append(techs, m)
		}
		m := map[string]any{
			"framework": t.Framework,
			"tactic":    map[string]any{"id": t.Tactic.ID, "name": t.Tactic.Name, "reference": t.Tactic.Reference},
		}
		if len(techs) > 0 {
			m["technique"] = techs
		}
		out = append(out, m)
	}
	return out
}

type objWriter struct {
	b   *bytes.Buffer
	n   int
	err error
}

func (w *objWriter) open() { w.b.WriteByte('{') }

func (w *objWriter) key(k string) {
	if w.n > 0 {
		w.b.WriteByte(',')
	}
	w.n++
	kb, _ := json.Marshal(k)
	w.b.Write(kb)
	w.b.WriteByte(':')
}

func (w *objWriter) field(k string, v any) {
	w.key(k)
	// map keys are sorted, so the document is deterministic
	vb, err := json.MarshalNoEscape(v)
	if err != nil && w.err == nil {
		w.err = err
	}
	w.b.Write(vb)
}

// hostObject gathers the event's host fields, nested or dotted, into one
// nested object.
func hostObject(doc map[string]any) map[string]any {
	out := map[string]any{}
	if h, ok := doc["host"].(map[string]any); ok {
		for k, v := range h {
			out[k] = v
		}
	}
	for k, v := range doc {
		if !strings.HasPrefix(k, "host.") {
			continue
		}
		m := out
		parts := strings.Split(k[len("host."):], ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	return out
}
