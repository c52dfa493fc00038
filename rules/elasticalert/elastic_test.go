package elasticalert

import (
	"testing"

	"github.com/eqlstream/eqlstream/rules"
	json "github.com/goccy/go-json"
)

// The reason messages of Kibana's own EQL rule tests (the expectation is
// Kibana's, from x-pack/test/.../eql/eql.ts), rebuilt from those events.
func TestReasonAsKibana(t *testing.T) {
	bb := map[string]any{
		"event":   map[string]any{"category": "anomoly", "action": "changed-promiscuous-mode-on-device"},
		"process": map[string]any{"name": "bro", "pid": json.Number("30157")},
		"user":    map[string]any{"name": "root"},
		"host":    map[string]any{"name": "zeek-sensor-amsterdam"},
	}
	if got, want := Reason("Alert Testing Query", "high", bb), "anomoly event with process bro, by root on zeek-sensor-amsterdam created high alert Alert Testing Query."; got != want {
		t.Errorf("building block reason\n got %q\nwant %q", got, want)
	}
	shell := map[string]any{"user": map[string]any{"name": "root"}, "host.name": "zeek-sensor-amsterdam"}
	if got, want := Reason("Alert Testing Query", "high", shell), "event by root on zeek-sensor-amsterdam created high alert Alert Testing Query."; got != want {
		t.Errorf("shell reason\n got %q\nwant %q", got, want)
	}
	single := map[string]any{"event": map[string]any{"category": "configuration"}, "host": map[string]any{"name": "suricata-zeek-sensor-toronto"}}
	if got, want := Reason("Alert Testing Query", "high", single), "configuration event on suricata-zeek-sensor-toronto created high alert Alert Testing Query."; got != want {
		t.Errorf("event reason\n got %q\nwant %q", got, want)
	}
	// a numeric port is left out (Kibana checks .length), a string one kept
	net := map[string]any{"source": map[string]any{"ip": "10.0.0.1", "port": json.Number("4444")},
		"destination": map[string]any{"ip": "10.0.0.2", "port": "80"}, "event": map[string]any{"category": []any{"network", "x"}}}
	if got, want := Reason("R", "low", net), "network, x event with source 10.0.0.1 destination 10.0.0.2:80, created low alert R."; got != want {
		t.Errorf("network reason\n got %q\nwant %q", got, want)
	}
}

func TestIntersectionAsKibana(t *testing.T) {
	a := map[string]any{"host": map[string]any{"name": "h", "id": "1"}, "c": []any{"x", "y", "x"}, "n": "a", "o": map[string]any{"p": "1"}}
	b := map[string]any{"host": map[string]any{"name": "h", "id": "2"}, "c": "x", "n": "b", "o": map[string]any{"p": "2"}}
	got, _ := json.Marshal(intersectAll([]any{a, b}))
	if want := `{"c":["x"],"host":{"name":"h"}}`; string(got) != want {
		t.Errorf("intersection %s, want %s", got, want)
	}
}

func TestSequenceGroup(t *testing.T) {
	r := &rules.Rule{ID: "r-1", Name: "Seq", Severity: "high", RiskScore: 73, Version: 2}
	e1 := []byte(`{"@timestamp":"2026-01-01T00:00:01Z","event":{"id":"e1","kind":"event","category":["process"]},"host":{"id":"h1","name":"web"},"process":{"name":"apt"},"data_stream":{"type":"logs","dataset":"endpoint.events.process","namespace":"default"}}`)
	e2 := []byte(`{"@timestamp":"2026-01-01T00:00:02Z","event":{"id":"e2","kind":"event","category":["network"]},"host":{"id":"h1","name":"web"},"process":{"name":"curl"}}`)
	in := rules.AlertInput{Rule: r, Kind: "sequence", Events: []rules.MatchedEvent{{Raw: e1}, {Missing: true}, {Raw: e2}}}
	id := rules.AlertID(r, in.Events)
	docs, err := Format(in, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want a shell and 2 building blocks", len(docs))
	}
	again, _ := Format(in, id)
	for i := range docs {
		if string(docs[i].Doc) != string(again[i].Doc) || docs[i].ID != again[i].ID {
			t.Fatalf("document %d differs between two builds", i)
		}
	}
	var shell map[string]any
	json.Unmarshal(docs[0].Doc, &shell)
	if docs[0].ID != id || shell["kibana.alert.uuid"] != id || shell["kibana.alert.group.id"] != id || shell["kibana.alert.depth"] != float64(2) {
		t.Errorf("shell: id %s uuid %v group %v depth %v", docs[0].ID, shell["kibana.alert.uuid"], shell["kibana.alert.group.id"], shell["kibana.alert.depth"])
	}
	if _, ok := shell["kibana.alert.building_block_type"]; ok {
		t.Error("shell has building_block_type")
	}
	anc, _ := shell["kibana.alert.ancestors"].([]any)
	if len(anc) != 4 {
		t.Fatalf("shell ancestors %v", anc)
	}
	for i, want := range []string{"e1", docs[1].ID, "e2", docs[2].ID} {
		a := anc[i].(map[string]any)
		if a["id"] != want {
			t.Errorf("ancestor %d id %v, want %s", i, a["id"], want)
		}
	}
	if anc[0].(map[string]any)["index"] != "logs-endpoint.events.process-default" || anc[1].(map[string]any)["rule"] != "r-1" {
		t.Errorf("ancestors %v", anc)
	}
	if shell["kibana.alert.reason"] != "event on web created high alert Seq." {
		t.Errorf("shell reason %q", shell["kibana.alert.reason"])
	}
	if h, _ := shell["host"].(map[string]any); h["id"] != "h1" || h["name"] != "web" {
		t.Errorf("shell host %v", shell["host"])
	}
	if _, ok := shell["process"]; ok {
		t.Error("shell keeps process, which differs between the events")
	}
	for i, d := range docs[1:] {
		var b map[string]any
		json.Unmarshal(d.Doc, &b)
		if d.ID != MemberID(id, i) || b["kibana.alert.uuid"] != d.ID || b["kibana.alert.group.id"] != id ||
			b["kibana.alert.group.index"] != float64(i) || b["kibana.alert.building_block_type"] != "default" || b["kibana.alert.depth"] != float64(1) {
			t.Errorf("building block %d: %s", i, d.Doc)
		}
		if b["event.kind"] != "signal" || b["kibana.alert.original_event.kind"] != "event" {
			t.Errorf("building block %d: event.kind %v original %v", i, b["event.kind"], b["kibana.alert.original_event.kind"])
		}
		if ev, _ := b["event"].(map[string]any); ev["kind"] != nil {
			t.Errorf("building block %d keeps the source event.kind", i)
		}
	}
	if docs[1].ID == docs[2].ID || docs[1].ID == id {
		t.Error("member IDs collide")
	}
}

func TestEventAlert(t *testing.T) {
	r := &rules.Rule{ID: "r-2", Name: "One", Severity: "low", RiskScore: 21, Version: 1, BuildingBlockType: "default"}
	e := []byte(`{"@timestamp":"2026-01-01T00:00:01Z","event.kind":"event","event.action":"exec","host":{"name":"db"},"process":{"executable":"/bin/sh","name":"sh"}}`)
	in := rules.AlertInput{Rule: r, Kind: "event", Events: []rules.MatchedEvent{{Raw: e}}}
	docs, err := Format(in, "abc")
	if err != nil || len(docs) != 1 {
		t.Fatalf("%d docs, %v", len(docs), err)
	}
	var d map[string]any
	json.Unmarshal(docs[0].Doc, &d)
	p, _ := d["process"].(map[string]any)
	if p["executable"] != "/bin/sh" || d["event.kind"] != "signal" || d["kibana.alert.original_event.kind"] != "event" ||
		d["kibana.alert.original_event.action"] != "exec" || d["kibana.alert.depth"] != float64(1) ||
		d["kibana.alert.building_block_type"] != "default" || d["kibana.alert.original_time"] != "2026-01-01T00:00:01Z" ||
		d["kibana.alert.reason"] != "event with process sh, on db created low alert One." {
		t.Errorf("event alert: %s", docs[0].Doc)
	}
}
