// Package deployments holds what it takes to run eqlstream outside a test:
// the container image (Dockerfile), a local demo (docker-compose.yml) and its
// secured variant (docker-compose.secure.yml: SASL_SSL, ACLs), the Kubernetes
// manifests (k8s/: TLS and SASL from mounted Secrets; optional KEDA
// autoscaler and its TriggerAuthentication, Strimzi topics, ServiceMonitor
// and PrometheusRule in k8s/optional/), the operator kit in observability/
// (Grafana dashboard, alerting rules and their tests) and
// kafka/kafka-local.sh, which runs a real 1- or 3-node KRaft Kafka cluster
// from Maven Central jars for tests and CI without Docker, plaintext or
// secured (up --secure [--mtls]).
//
// The package has no code; its tests check the structure of those files so
// that a change to one of them cannot silently drop a probe, the non-root
// user or the per-pod instance ID, and that every flag and EQLSTREAM_
// variable the manifests set exists in the processor built from this tree.
package deployments
