// Package integration runs the processor binary end to end against a real
// Apache Kafka and checks the exactly-once contract from the outside: the
// alert IDs read from the alerts topic with read_committed must equal an
// offline `processor eval` of the same input exactly (0 missing, 0
// duplicated, 0 unexpected), across a clean run, SIGTERM and kill -9
// restarts, a member leaving a two-member group, and a catalogue of bad
// records that must reach the dead-letter topic exactly once.
//
// The package has only tests. TestMain builds cmd/processor once into a
// temporary directory; every test uses its own topics and consumer group
// (a random suffix), so tests never see each other's records, and deletes
// them when it passes (they are kept, and named in the log, when it fails).
// Each processor is a subprocess whose stderr goes to a file under the
// test's temporary directory; its tail is printed when the test fails.
//
// Brokers come from internal/kafkatest, the one policy of every Kafka test:
// KAFKA_BROKERS (comma separated) when set; else a Kafka 4.1 container
// started with testcontainers-go from the project's image
// (deployments/kafka/image) when a Docker-compatible engine answers; else,
// outside CI, a node started with deployments/kafka/kafka-local.sh (java and
// mvn). The cluster is started by the first test that needs it and stopped
// by TestMain. Under CI=true, neither KAFKA_BROKERS nor an engine fails the
// tests. The broker-fault tests (pause, stop, restart) need kafka-local.sh
// (KAFKA_LOCAL, or the node started for them); on a container they skip,
// and fail under CI. Against a cluster of your own:
//
//	deployments/kafka/kafka-local.sh up 1
//	KAFKA_BROKERS=$(deployments/kafka/kafka-local.sh brokers) go test -race -count=1 -v ./integration/
//	deployments/kafka/kafka-local.sh down
//
// Streaming never sees the end of its input, while `processor eval` decides
// what is left in its reorder buffer at the end of its file. The processor
// does that for a partition that has been quiet for --idle-flush (wall-clock
// time): TestEndToEndMatchesEval ends its input with the event completing a
// sequence and checks that the idle flush releases it. The fault tests turn
// the idle flush off, so that their output depends on the input alone and
// not on how long the loaded machine stalls, and append one trailer event
// per host a minute of event time after the last one (see appendTrailer).
//
// Environment: EQLSTREAM_IT_PROCESSOR_RACE=1 builds the processor with -race
// (twice as slow); EQLSTREAM_IT_LOG_DIR keeps the processors' logs there;
// EQLSTREAM_IT_RUN_ARGS adds flags to every processor, e.g.
// --unsafe-test-mode=at-least-once, which TestRestartSIGTERMAndKill9 must
// catch as duplicates, or --unsafe-test-mode=keep-state-on-abort, which
// TestTwoProcessorsOneLeaves must catch as missing alerts.
//
// BenchmarkEndToEnd measures throughput (events/s from processor start to
// the group's committed offsets reaching the end of a pre-produced input)
// and event-to-alert latency (p50/p99 of eqlstream_event_to_alert_seconds
// while events arrive at a steady rate); EQLSTREAM_BENCH_EVENTS,
// EQLSTREAM_BENCH_RATE and EQLSTREAM_BENCH_LIVE_SECONDS size it:
//
//	KAFKA_BROKERS=... go test -run '^$' -bench EndToEnd -benchtime 1x ./integration/
package integration
