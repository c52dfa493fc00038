// Package elasticalert builds alert documents the way Kibana's detection
// engine builds them for EQL rules (processor run/eval --alert-format
// elastic): for an event query one alert per event, the source event's
// fields at the top level with event.kind "signal", kibana.alert.* (rule,
// reason, ancestors, depth, original_time, kibana.alert.original_event.*);
// for a sequence (and a sample) one building-block alert per matched event
// plus a "shell" alert holding what the events have in common, all sharing
// kibana.alert.group.id. It owns the field list those documents are checked
// against (fieldmap.tsv), which the Elasticsearch sink's index template
// follows.
//
// Read from Kibana's source (Elastic License 2.0; behaviour re-implemented,
// nothing copied): x-pack/solutions/security/plugins/security_solution/
// server/lib/detection_engine/rule_types/ eql/build_alert_group_from_sequence.ts,
// factories/utils/{build_alert,transform_hit_to_alert,
// generate_building_block_ids}.ts and utils/reason_formatters.ts.
//
// Deliberate differences, all for determinism (the same events give the same
// documents, byte for byte, offline and online): IDs are eqlstream's alert ID
// (the shell's and the group's) and a hash of it and the member's position
// (a building block's), not Kibana's SHA-256 of ancestors; @timestamp is the
// time of the last matched event, not the wall clock of the rule run; an
// ancestor's id is the event's event.id (or a hash of its bytes) and its index
// the data stream it would have been indexed into.
package elasticalert

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/rules"
	json "github.com/goccy/go-json"
)

// Format renders the Elastic documents of one alert; it is a
// rules.Formatter. id is the alert's ID (rules.AlertID).
func Format(in rules.AlertInput, id string) ([]rules.AlertDoc, error) {
	var srcs []map[string]any
	var raws [][]byte
	for _, e := range in.Events {
		if e.Missing {
			continue // a missing-event stage has no document (Kibana gets none)
		}
		d, err := decode(e.Raw)
		if err != nil {
			return nil, fmt.Errorf("alert %s: matched event: %w", id, err)
		}
		srcs = append(srcs, d)
		raws = append(raws, e.Raw)
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("alert %s: no matched event", id)
	}
	ts := stringAt(srcs[len(srcs)-1], "@timestamp")
	r := in.Rule
	if in.Kind == "event" && len(srcs) == 1 {
		doc := eventAlert(r, srcs[0], raws[0], id, ts)
		setBuildingBlockType(doc, r)
		b, err := marshal(doc)
		return []rules.AlertDoc{{ID: id, Doc: b}}, err
	}
	// a group: building blocks first (their IDs go into the shell's ancestors)
	blocks := make([]map[string]any, len(srcs))
	bases := make([]map[string]any, len(srcs))
	ids := make([]string, len(srcs))
	for i := range srcs {
		ids[i] = MemberID(id, i)
		base := eventAlert(r, srcs[i], raws[i], ids[i], ts)
		setBuildingBlockType(base, r)
		bases[i] = base
	}
	shell := shellAlert(r, bases, ids, id, ts)
	out := []rules.AlertDoc{{ID: id}}
	for i, base := range bases {
		b := base
		b[fBuildingBlock] = "default"
		b[fGroupID] = id
		b[fGroupIndex] = i
		blocks[i] = b
	}
	var err error
	if out[0].Doc, err = marshal(shell); err != nil {
		return nil, err
	}
	for i, b := range blocks {
		doc, err := marshal(b)
		if err != nil {
			return nil, err
		}
		out = append(out, rules.AlertDoc{ID: ids[i], Doc: doc})
	}
	return out, nil
}

// MemberID is the ID of the building block at position index (0-based,
// among the matched events that exist) of the group whose shell alert is
// groupID.
func MemberID(groupID string, index int) string {
	h := xxhash.New()
	h.WriteString(groupID)
	h.Write([]byte{0})
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(index))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], h.Sum64())
	return hex.EncodeToString(n[:])
}

// Field names (Kibana's @kbn/rule-data-utils and security field_names).
const (
	fUUID          = "kibana.alert.uuid"
	fAncestors     = "kibana.alert.ancestors"
	fDepth         = "kibana.alert.depth"
	fReason        = "kibana.alert.reason"
	fOriginalTime  = "kibana.alert.original_time"
	fOriginalEvent = "kibana.alert.original_event"
	fBuildingBlock = "kibana.alert.building_block_type"
	fGroupID       = "kibana.alert.group.id"
	fGroupIndex    = "kibana.alert.group.index"
	fRuleUUID      = "kibana.alert.rule.uuid"
)

// eventAlert is the alert of one event: Kibana's transformHitToAlert with
// buildAlertFields of one parent.
func eventAlert(r *rules.Rule, src map[string]any, raw []byte, id, ts string) map[string]any {
	doc := map[string]any{}
	for k, v := range src {
		doc[k] = v
	}
	// event.kind becomes "signal"; the source's event.* is kept under
	// kibana.alert.original_event.*
	if ev, ok := src["event"].(map[string]any); ok {
		for k, v := range flatten(fOriginalEvent, ev) {
			doc[k] = v
		}
		cp := map[string]any{}
		for k, v := range ev {
			if k != "kind" {
				cp[k] = v
			}
		}
		if len(cp) > 0 {
			doc["event"] = cp
		} else {
			delete(doc, "event")
		}
	}
	for k, v := range src {
		if strings.HasPrefix(k, "event.") {
			doc[fOriginalEvent+k[len("event"):]] = v
			if k == "event.kind" {
				delete(doc, k)
			}
		}
	}
	anc := []any{map[string]any{"id": eventID(src, raw), "type": "event", "index": eventIndex(src), "depth": 0}}
	for k, v := range alertFields(r, id, ts, stringAt(src, "@timestamp"), anc, 1, Reason(r.Name, r.Severity, src)) {
		doc[k] = v
	}
	return doc
}

// shellAlert is Kibana's buildAlertRoot: the intersection of the building
// blocks, then the alert fields of a parent set made of them.
func shellAlert(r *rules.Rule, bases []map[string]any, ids []string, id, ts string) map[string]any {
	objs := make([]any, len(bases))
	for i, b := range bases {
		objs[i] = b
	}
	merged, _ := intersectAll(objs).(map[string]any)
	if merged == nil {
		merged = map[string]any{}
	}
	var anc []any
	for i, b := range bases {
		if prev, ok := b[fAncestors].([]any); ok {
			anc = append(anc, prev...)
		}
		anc = append(anc, map[string]any{"id": ids[i], "type": "signal", "index": "", "depth": 1, "rule": r.ID})
	}
	// the parents are the building blocks, whose @timestamp is ts
	for k, v := range alertFields(r, id, ts, ts, anc, 2, Reason(r.Name, r.Severity, merged)) {
		merged[k] = v
	}
	merged[fGroupID] = id
	setBuildingBlockType(merged, r)
	return merged
}

// alertFields are the kibana.alert.* fields every alert of a rule carries
// (Kibana's buildAlertFields), with event.kind "signal".
func alertFields(r *rules.Rule, id, ts, originalTime string, ancestors []any, depth int, reason string) map[string]any {
	m := map[string]any{
		"@timestamp":                           ts,
		"event.kind":                           "signal",
		"kibana.space_ids":                     []string{"default"},
		fOriginalTime:                          originalTime,
		fAncestors:                             ancestors,
		fDepth:                                 depth,
		fReason:                                reason,
		fUUID:                                  id,
		"kibana.alert.instance.id":             id,
		"kibana.alert.status":                  "active",
		"kibana.alert.workflow_status":         "open",
		"kibana.alert.workflow_tags":           []string{},
		"kibana.alert.workflow_assignee_ids":   []string{},
		"kibana.alert.severity":                r.Severity,
		"kibana.alert.risk_score":              r.RiskScore,
		"kibana.alert.intended_timestamp":      ts,
		"kibana.alert.rule.execution.type":     "scheduled",
		"kibana.alert.rule.category":           "Event Correlation Rule",
		"kibana.alert.rule.consumer":           "siem",
		"kibana.alert.rule.producer":           "siem",
		"kibana.alert.rule.rule_type_id":       "siem.eqlRule",
		"kibana.alert.rule.revision":           0,
		"kibana.alert.rule.actions":            []any{},
		"kibana.alert.rule.author":             metaStrings(r, "author"),
		"kibana.alert.rule.description":        r.Description,
		"kibana.alert.rule.enabled":            r.Enabled,
		"kibana.alert.rule.exceptions_list":    []any{},
		"kibana.alert.rule.false_positives":    metaStrings(r, "false_positives"),
		"kibana.alert.rule.from":               r.From,
		"kibana.alert.rule.immutable":          r.Builtin,
		"kibana.alert.rule.indices":            metaStrings(r, "index"),
		"kibana.alert.rule.interval":           metaString(r, "interval", "5m"),
		"kibana.alert.rule.license":            metaString(r, "license", ""),
		"kibana.alert.rule.max_signals":        metaInt(r, "max_signals", 100),
		"kibana.alert.rule.name":               r.Name,
		"kibana.alert.rule.note":               r.Note,
		"kibana.alert.rule.references":         metaStrings(r, "references"),
		"kibana.alert.rule.risk_score_mapping": []any{},
		"kibana.alert.rule.rule_id":            r.ID,
		"kibana.alert.rule.severity_mapping":   []any{},
		"kibana.alert.rule.tags":               nonNil(r.Tags),
		"kibana.alert.rule.threat":             threat(r.Threat),
		"kibana.alert.rule.to":                 "now",
		"kibana.alert.rule.type":               "eql",
		fRuleUUID:                              r.ID,
		"kibana.alert.rule.version":            r.Version,
		"kibana.alert.rule.risk_score":         r.RiskScore,
		"kibana.alert.rule.severity":           r.Severity,
		"kibana.alert.rule.parameters":         parameters(r),
	}
	// Kibana leaves out what the rule does not set
	if r.TimestampOverride != "" {
		m["kibana.alert.rule.timestamp_override"] = r.TimestampOverride
	}
	if r.BuildingBlockType != "" {
		m["kibana.alert.rule.building_block_type"] = r.BuildingBlockType
	}
	if l := metaString(r, "license", ""); l != "" {
		m["kibana.alert.rule.license"] = l
	}
	if r.Note != "" {
		m["kibana.alert.rule.note"] = r.Note
	}
	return m
}

// setBuildingBlockType marks the alert of a building-block rule (Kibana
// copies the rule's building_block_type; group members get "default" after).
func setBuildingBlockType(doc map[string]any, r *rules.Rule) {
	if r.BuildingBlockType != "" {
		doc[fBuildingBlock] = r.BuildingBlockType
	}
}

// parameters is kibana.alert.rule.parameters: the rule's parameters in
// snake case (a flattened field).
func parameters(r *rules.Rule) map[string]any {
	p := map[string]any{
		"description": r.Description, "risk_score": r.RiskScore, "severity": r.Severity,
		"rule_id": r.ID, "version": r.Version, "type": "eql", "language": "eql", "query": r.Query,
		"from": r.From, "to": "now", "max_signals": metaInt(r, "max_signals", 100),
		"author": metaStrings(r, "author"), "false_positives": metaStrings(r, "false_positives"),
		"references": metaStrings(r, "references"), "index": metaStrings(r, "index"),
		"threat": threat(r.Threat), "immutable": r.Builtin, "exceptions_list": []any{},
		"risk_score_mapping": []any{}, "severity_mapping": []any{},
	}
	if r.Note != "" {
		p["note"] = r.Note
	}
	if l := metaString(r, "license", ""); l != "" {
		p["license"] = l
	}
	if r.BuildingBlockType != "" {
		p["building_block_type"] = r.BuildingBlockType
	}
	if r.TimestampOverride != "" {
		p["timestamp_override"] = r.TimestampOverride
	}
	if r.EventCategoryOverride != "" {
		p["event_category_override"] = r.EventCategoryOverride
	}
	return p
}

func threat(ts []rules.Threat) []any {
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		techs := make([]any, 0, len(t.Techniques))
		for _, tc := range t.Techniques {
			m := map[string]any{"id": tc.ID, "name": tc.Name, "reference": tc.Reference}
			if len(tc.Subtechniques) > 0 {
				subs := make([]any, 0, len(tc.Subtechniques))
				for _, s := range tc.Subtechniques {
					subs = append(subs, map[string]any{"id": s.ID, "name": s.Name, "reference": s.Reference})
				}
				m["subtechnique"] = subs
			}
			techs = append(techs, m)
		}
		m := map[string]any{"framework": t.Framework,
			"tactic": map[string]any{"id": t.Tactic.ID, "name": t.Tactic.Name, "reference": t.Tactic.Reference}}
		if len(techs) > 0 {
			m["technique"] = techs
		}
		out = append(out, m)
	}
	return out
}

func metaStrings(r *rules.Rule, key string) []string {
	out := []string{}
	switch v := r.Metadata[key].(type) {
	case string:
		out = append(out, v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, v...)
	}
	return out
}

func metaString(r *rules.Rule, key, def string) string {
	if s, ok := r.Metadata[key].(string); ok {
		return s
	}
	return def
}

func metaInt(r *rules.Rule, key string, def int) int {
	switch v := r.Metadata[key].(type) {
	case int64:
		return int(v)
	case int:
		return v
	}
	return def
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// eventID identifies a source event in an ancestor entry: its event.id, or
// (an event without one) the hash of its bytes.
func eventID(src map[string]any, raw []byte) string {
	if s := stringAt(src, "event.id"); s != "" {
		return s
	}
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], xxhash.Sum64(raw))
	return hex.EncodeToString(n[:])
}

// eventIndex is the data stream an Elastic Agent would have indexed the
// event into (type-dataset-namespace), or "" when the event does not say.
func eventIndex(src map[string]any) string {
	t, d, n := stringAt(src, "data_stream.type"), stringAt(src, "data_stream.dataset"), stringAt(src, "data_stream.namespace")
	if t == "" || d == "" || n == "" {
		return ""
	}
	return t + "-" + d + "-" + n
}

func decode(raw []byte) (map[string]any, error) {
	var d map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	return d, nil
}

// marshal writes the document with sorted keys (deterministic).
func marshal(doc map[string]any) ([]byte, error) {
	return json.MarshalNoEscape(doc)
}

func stringAt(doc map[string]any, path string) string {
	v, _ := rules.Lookup(doc, path)
	s, _ := v.(string)
	return s
}

// flatten turns an object into dotted keys under prefix (arrays are values).
func flatten(prefix string, m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(p string, v any)
	walk = func(p string, v any) {
		if o, ok := v.(map[string]any); ok {
			for k, x := range o {
				walk(p+"."+k, x)
			}
			return
		}
		out[p] = v
	}
	walk(prefix, m)
	return out
}
