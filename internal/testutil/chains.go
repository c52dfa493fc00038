package testutil

import (
	"encoding/json"
	"strings"
)

// ChainKey identifies an attack chain or an alert for ground-truth
// comparisons: the rule ID, host.id and the process.entity_id of each
// matched event in stage order.
func ChainKey(ruleID, hostID string, entityIDs []string) string {
	return ruleID + " | " + hostID + " | " + strings.Join(entityIDs, " ")
}

// AlertChainKey reads an alert document's ChainKey.
func AlertChainKey(doc []byte) (string, error) {
	var d struct {
		RuleID string `json:"kibana.alert.rule.rule_id"`
		Host   struct {
			ID string `json:"id"`
		} `json:"host"`
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return "", err
	}
	ids := make([]string, 0, len(d.Events))
	for _, e := range d.Events {
		ids = append(ids, entityID(e))
	}
	return ChainKey(d.RuleID, d.Host.ID, ids), nil
}

// entityID reads process.entity_id, nested, dotted or mixed.
func entityID(e map[string]any) string {
	if v, ok := e["process.entity_id"].(string); ok {
		return v
	}
	if p, ok := e["process"].(map[string]any); ok {
		if v, ok := p["entity_id"].(string); ok {
			return v
		}
	}
	return ""
}
