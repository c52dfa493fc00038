// Command processor is eqlstream's binary: the Kafka pipeline (`run`), the
// offline evaluator (`eval`), rule tooling (`check`, `rules`), the event
// generator (`gen`), a producer for captured events (`produce`) and the
// Kafka ACLs a deployment needs (`acls`), a reader of topics (`consume`) and
// of committed idle flush points (`flushes`).
package main

import (
	"fmt"
	"os"
)

const usage = `usage: processor <command> [flags]

commands:
  eval     evaluate rules over NDJSON events offline, print alerts
  check    compile rule files, print errors and warnings
  rules    list rules; push|delete|list|diff a rules topic that processors follow
  gen      generate realistic Elastic Defend-like Linux events
  run      the exactly-once Kafka pipeline (--embedded: a zero-setup demo)
  produce  publish NDJSON events to Kafka keyed by host.id
  consume  read a topic read_committed: alerts as one line each, dead letters, or raw JSON
  flushes  print the idle flush points a processor group committed (for eval --flush-at)
  sink     sink elasticsearch: index the alerts topic into Elasticsearch, exactly once by alert ID
  acls     print the Kafka ACLs a run configuration needs (--check: verify them)
  version  print the version, commit and Go version

'processor <command> --help' lists a command's flags.
`

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	rest := args[1:]
	switch args[0] {
	case "eval":
		return cmdEval(rest, os.Stdin, os.Stdout, os.Stderr)
	case "check":
		return cmdCheck(rest, os.Stdout, os.Stderr)
	case "rules":
		return cmdRules(rest, os.Stdout, os.Stderr)
	case "gen":
		return cmdGen(rest, os.Stdout, os.Stderr)
	case "run":
		return cmdRun(rest, os.Stdout, os.Stderr)
	case "produce":
		return cmdProduce(rest, os.Stdin, os.Stderr)
	case "consume":
		return cmdConsume(rest, os.Stdout, os.Stderr)
	case "sink":
		return cmdSink(rest, os.Stdout, os.Stderr)
	case "acls":
		return cmdACLs(rest, os.Stdout, os.Stderr)
	case "version", "--version":
		return cmdVersion(rest, os.Stdout, os.Stderr)
	case "flushes":
		return cmdFlushes(rest, os.Stdout, os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "processor: unknown command %q\n\n%s", args[0], usage)
	return 2
}
