package rules

import (
	"time"

	"github.com/eqlstream/eqlstream/rules/engine"
)

// AlertDoc is one document of an alert as it leaves eqlstream, with the ID a
// sink uses for it (the Kafka header eqlstream.alert_id, the Elasticsearch
// _id). The compact format gives one document per match; Elastic's format
// gives one per event alert and, for a sequence, a shell document and one
// building-block document per matched event.
type AlertDoc struct {
	ID  string
	Doc []byte
}

// Formatter renders the documents of one alert. id is AlertID(in.Rule,
// in.Events); the first document returned is the alert's own (its ID is id),
// the others belong to its group. It must be deterministic.
type Formatter func(in AlertInput, id string) ([]AlertDoc, error)

// SetFormatter chooses the document format of AlertDocs; nil is the
// compact document of BuildAlert.
func (s *RuleSet) SetFormatter(f Formatter) { s.format = f }

// AlertDocs renders the documents of a match in the set's format (see
// SetFormatter); the first one is the alert's own document.
func (s *RuleSet) AlertDocs(m engine.Match, bodies Bodies, processedAt time.Time) ([]AlertDoc, error) {
	if s.format == nil {
		doc, id, err := s.Alert(m, bodies, processedAt)
		if err != nil {
			return nil, err
		}
		return []AlertDoc{{ID: id, Doc: doc}}, nil
	}
	in, err := s.alertInput(m, bodies, processedAt)
	if err != nil {
		return nil, err
	}
	return s.format(in, AlertID(in.Rule, in.Events))
}

// Lookup finds a field in a decoded document: nested objects, dotted keys
// or a mix, as Elasticsearch treats them.
func Lookup(doc map[string]any, path string) (any, bool) { return lookup(doc, path) }
