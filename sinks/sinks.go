// Package sinks shapes what leaves eqlstream: alert and dead-letter records
// for Kafka, with the headers downstream systems filter on, and NDJSON lines
// for files and stdout. It does no I/O scheduling of its own: the pipeline
// produces the records inside its transaction, eval writes the lines.
package sinks

import (
	"bufio"
	"io"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names on alert and dead-letter records.
const (
	HeaderRuleID       = "eqlstream.rule_id"
	HeaderAlertID      = "eqlstream.alert_id"
	HeaderReason       = "eqlstream.error.reason"
	HeaderError        = "eqlstream.error.message"
	HeaderSrcTopic     = "eqlstream.source.topic"
	HeaderSrcPartition = "eqlstream.source.partition"
	HeaderSrcOffset    = "eqlstream.source.offset"
)

// AlertRecord is the record of one alert document: keyed by host.id (so a
// host's alerts stay in order on one partition), with the rule and alert IDs
// as headers.
func AlertRecord(topic string, hostKey, doc []byte, ruleID, alertID string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: hostKey, Value: doc, Headers: []kgo.RecordHeader{
		{Key: HeaderRuleID, Value: []byte(ruleID)},
		{Key: HeaderAlertID, Value: []byte(alertID)},
	}}
}

// DeadLetterRecord carries a rejected input record unchanged (key and value),
// with headers naming the reason, the error and where it came from.
func DeadLetterRecord(topic string, src *kgo.Record, reason, msg string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: src.Key, Value: src.Value, Headers: []kgo.RecordHeader{
		{Key: HeaderReason, Value: []byte(reason)},
		{Key: HeaderError, Value: []byte(msg)},
		{Key: HeaderSrcTopic, Value: []byte(src.Topic)},
		{Key: HeaderSrcPartition, Value: []byte(strconv.Itoa(int(src.Partition)))},
		{Key: HeaderSrcOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
	}}
}

// NDJSON writes one document per line, buffered; Flush reports write errors.
type NDJSON struct {
	w *bufio.Writer
	n int
}

// NewNDJSON returns a writer on w.
func NewNDJSON(w io.Writer) *NDJSON { return &NDJSON{w: bufio.NewWriterSize(w, 1<<16)} }

// Write appends doc and a newline.
func (s *NDJSON) Write(doc []byte) error {
	if _, err := s.w.Write(doc); err != nil {
		return err
	}
	s.n++
	return s.w.WriteByte('\n')
}

// Count is the number of documents written.
func (s *NDJSON) Count() int { return s.n }

// Flush writes out buffered documents.
func (s *NDJSON) Flush() error { return s.w.Flush() }
