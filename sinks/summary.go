package sinks

import (
	"fmt"

	json "github.com/goccy/go-json"
)

// AlertSummary is the one-line form of an alert document that people read
// in a terminal (the embedded demo, processor consume): its ID, severity,
// rule, host and the event time of the first matched event. name is the
// rule's name; ok is false when doc is not an alert document.
func AlertSummary(doc []byte) (line, name string, ok bool) {
	var a struct {
		ID   string `json:"kibana.alert.uuid"`
		Name string `json:"kibana.alert.rule.name"`
		Sev  string `json:"kibana.alert.severity"`
		Orig string `json:"kibana.alert.original_time"`
		Host struct {
			Name string `json:"name"`
		} `json:"host"`
	}
	if err := json.Unmarshal(doc, &a); err != nil || a.ID == "" {
		return "", "", false
	}
	return fmt.Sprintf("ALERT %s  %-6s  %-52s host=%s  event_time=%s", a.ID, a.Sev, a.Name, a.Host.Name, a.Orig), a.Name, true
}
