package sinks

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return "<none>"
}

func TestDeadLetterRecordKeepsTheOriginal(t *testing.T) {
	src := &kgo.Record{Topic: "in", Partition: 7, Offset: 12345, Key: []byte("h1"), Value: []byte("{not json")}
	r := DeadLetterRecord("dlq", src, "malformed_json", "byte 1: expected a string key")
	if r.Topic != "dlq" || string(r.Key) != "h1" || string(r.Value) != "{not json" {
		t.Fatalf("record %+v does not carry the original key and value", r)
	}
	for k, want := range map[string]string{
		HeaderReason: "malformed_json", HeaderError: "byte 1: expected a string key",
		HeaderSrcTopic: "in", HeaderSrcPartition: "7", HeaderSrcOffset: "12345",
	} {
		if got := header(r, k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestAlertRecord(t *testing.T) {
	r := AlertRecord("alerts", []byte("h1"), []byte(`{"a":1}`), "rule-1", "abc")
	if string(r.Key) != "h1" || header(r, HeaderRuleID) != "rule-1" || header(r, HeaderAlertID) != "abc" {
		t.Fatalf("unexpected record %+v", r)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestNDJSON(t *testing.T) {
	var b bytes.Buffer
	w := NewNDJSON(&b)
	for _, d := range []string{`{"a":1}`, `{"b":2}`} {
		if err := w.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\"a\":1}\n{\"b\":2}\n" || w.Count() != 2 {
		t.Fatalf("got %q (%d)", b.String(), w.Count())
	}
	f := NewNDJSON(failWriter{})
	_ = f.Write([]byte(`{}`))
	if err := f.Flush(); err == nil {
		t.Fatal("a failed write must be reported by Flush")
	}
}
