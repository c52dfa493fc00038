// Package chaos is the exactly-once proof: a seeded chaos test on a 3-node
// Apache Kafka cluster (kill -9 and SIGTERM of processors, scaling between 1
// and 4 processors, kill -9 and SIGSTOP of brokers) whose alerts, read with
// read_committed, must equal an offline evaluation of the same input exactly.
// Run it with `make chaos SEED=<n> DURATION=<d>` (build tag chaos).
package chaos
