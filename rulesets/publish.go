package rulesets

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// ExceptionRecords reads Kibana exception list exports and returns one
// rules-topic record per list: key ExceptionListPrefix + list_id, value the
// export's lines of that list (its container and items, in file order).
func ExceptionRecords(paths ...string) (Docs, error) {
	out := Docs{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<16), 1<<26)
		for n := 1; sc.Scan(); n++ {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var w struct {
				ListID *string `json:"list_id"`
			}
			if err := json.Unmarshal(line, &w); err != nil {
				return nil, fmt.Errorf("%s:%d: invalid JSON: %w", p, n, err)
			}
			if w.ListID == nil {
				continue // the export summary
			}
			k := ExceptionListPrefix + *w.ListID
			out[k] = append(append(out[k], line...), '\n')
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return out, nil
}

// Plan is what a push changes in the topic, by key.
type Plan struct {
	Add, Change, Delete, Same []string
}

// PlanPush compares the records to push with the topic's; with prune, the
// topic's records that are not pushed are deleted.
func PlanPush(topic, push Docs, prune bool) Plan {
	var p Plan
	for _, k := range push.Keys() {
		old, ok := topic[k]
		switch {
		case !ok:
			p.Add = append(p.Add, k)
		case !bytes.Equal(old, push[k]):
			p.Change = append(p.Change, k)
		default:
			p.Same = append(p.Same, k)
		}
	}
	if prune {
		for _, k := range topic.Keys() {
			if _, ok := push[k]; !ok {
				p.Delete = append(p.Delete, k)
			}
		}
	}
	return p
}
