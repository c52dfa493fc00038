# eqlstream — `make test` is the one command that runs every test (README).
GO        ?= go
PKGS      ?= ./...
SEED      ?= 1
DURATION  ?= 3m

.PHONY: mutants all build test unit perf-guards integration vet fmt-check fuzz bench demo kafka-up kafka-down kafka-secure-up kafka-secure-env kafka-secure-down chaos chaos-ci clean es-up es-down es-sink-test

# chaos: the exactly-once proof on a 3-node cluster (started here unless
# KAFKA_BROKERS and KAFKA_LOCAL point at one; EQLSTREAM_KAFKA_STATE,
# EQLSTREAM_KAFKA_BROKER_PORT and EQLSTREAM_KAFKA_CONTROLLER_PORT choose its
# state dir and ports). Processors run with their default flags (idle flush
# 2s). MODE= runs a negative control, which passes when the checker catches
# its own violation: keep-state-on-abort (missing), at-least-once
# (duplicated) or flush-unrecorded (state_mismatches).
EVENTS      ?= 200000
HOSTS       ?= 1000
ATTACK_RATE ?= 0.02
MODE        ?=

all: build

# VERSION is stamped into the binary (processor version); the build info
# adds the commit where Go can read it.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/processor ./cmd/processor

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Unit + integration tests with the race detector. The Kafka tests use
# KAFKA_BROKERS when set; else a Kafka container (testcontainers-go) when a
# Docker-compatible engine answers; else a kafka-local.sh node they start and
# stop themselves (internal/kafkatest). With CI=true a missing broker fails them.
unit:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Only the end-to-end tests of the processor binary on a real Kafka (the same
# choice of cluster as unit; CI=true fails without KAFKA_BROKERS or an engine). PROCESSOR_RACE=1 also builds the
# processor under test with -race (about twice as slow).
PROCESSOR_RACE ?=
integration:
	EQLSTREAM_IT_PROCESSOR_RACE=$(PROCESSOR_RACE) $(GO) test -race -count=1 -v -timeout 15m ./integration/

# Bounded fuzzing of the parsers (no panics, no hangs). Bounded by count, not
# time: a time bound can end while a worker is mid-input, which go test then
# reports as "context deadline exceeded".
FUZZN ?= 150000x
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZN) ./rules/eql/
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZN) ./rules/engine/
	$(GO) test -run='^$$' -fuzz='^FuzzCompileEval$$' -fuzztime=$(FUZZN) ./rules/engine/
	$(GO) test -run='^$$' -fuzz='^FuzzLuceneRegex$$' -fuzztime=$(FUZZN) ./rules/engine/

# Memory and allocation guards need a build without the race detector; the
# generator's oracle tests, the ground-truth comparison and the corpus over
# generated data run at full size only without it (under -race they shrink),
# so they run here too.
perf-guards:
	$(GO) test -count=1 -run='^(TestZeroAllocNoMatch|TestZeroAllocNoMatchInOrder|TestStateBytesPerPartial)$$' ./rules/engine/ ./rules/bench/
	$(GO) test -count=1 ./internal/gen/
	$(GO) test -count=1 -run='^(TestAlertsEqualGeneratorGroundTruth|TestCorpusOnGeneratedData)$$' ./rules/

test: fmt-check vet unit perf-guards fuzz

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -cpu=1 -count=6 ./rules/bench/ ./rules/engine/ | tee bench.out

demo: build
	./bin/processor run --embedded

kafka-up:
	deployments/kafka/kafka-local.sh up 1

# Elasticsearch 8.17 from Maven Central on 127.0.0.1 (EQLSTREAM_ES_* choose
# state dir and ports) for the sink's tests: ES_URL=$$(deployments/elasticsearch/es-local.sh url)
es-up:
	deployments/elasticsearch/es-local.sh up

es-down:
	deployments/elasticsearch/es-local.sh down

# Only the Elasticsearch sink's tests (KAFKA_BROKERS and ES_URL).
es-sink-test:
	$(GO) test -count=1 -v -timeout 10m -run '^TestElasticSink' ./integration/

kafka-down:
	deployments/kafka/kafka-local.sh down

# A secured node (SASL_SSL, mTLS, ACLs) beside the plaintext one, for
# integration/secure_test.go: eval "$$(make -s kafka-secure-env)" exports
# KAFKA_SECURE_BROKERS, KAFKA_SECURE_DIR and friends.
SECURE_KAFKA = EQLSTREAM_KAFKA_STATE=$${EQLSTREAM_KAFKA_SECURE_STATE:-/tmp/eqlstream-kafka-secure} \
	EQLSTREAM_KAFKA_BROKER_PORT=$${EQLSTREAM_KAFKA_SECURE_BROKER_PORT:-19192} \
	EQLSTREAM_KAFKA_CONTROLLER_PORT=$${EQLSTREAM_KAFKA_SECURE_CONTROLLER_PORT:-19193} \
	EQLSTREAM_KAFKA_MTLS_PORT=$${EQLSTREAM_KAFKA_SECURE_MTLS_PORT:-19292} \
	deployments/kafka/kafka-local.sh
kafka-secure-up:
	$(SECURE_KAFKA) up --secure --mtls 1

kafka-secure-env:
	@$(SECURE_KAFKA) secure-env

kafka-secure-down:
	$(SECURE_KAFKA) down

chaos:
	@set -e; \
	if [ -z "$$KAFKA_BROKERS" ]; then \
	  export EQLSTREAM_KAFKA_STATE=$${EQLSTREAM_KAFKA_STATE:-/tmp/eqlstream-kafka-chaos}; \
	  export EQLSTREAM_KAFKA_BROKER_PORT=$${EQLSTREAM_KAFKA_BROKER_PORT:-39092}; \
	  export EQLSTREAM_KAFKA_CONTROLLER_PORT=$${EQLSTREAM_KAFKA_CONTROLLER_PORT:-39093}; \
	  export KAFKA_LOCAL=$(CURDIR)/deployments/kafka/kafka-local.sh; \
	  trap '$$KAFKA_LOCAL down' EXIT; \
	  $$KAFKA_LOCAL up 3; \
	  export KAFKA_BROKERS=$$($$KAFKA_LOCAL brokers); \
	fi; \
	CHAOS_SEED=$(SEED) CHAOS_DURATION=$(DURATION) CHAOS_EVENTS=$(EVENTS) CHAOS_HOSTS=$(HOSTS) \
	CHAOS_ATTACK_RATE=$(ATTACK_RATE) CHAOS_MODE=$(MODE) RULE_CHANGES=$(RULE_CHANGES) \
	CHAOS_SUPPRESSION=$(SUPPRESSION) \
	$(GO) test -tags chaos -count=1 -v -timeout 90m -run '^TestChaos$$' ./integration/chaos/

# The bounded version CI runs on every submission: the exactly-once run and
# the four negative controls, on the cluster .ci/run started. The
# exactly-once run adds a rule with alert suppression and an exception list.
chaos-ci:
	$(MAKE) chaos SEED=$(SEED) DURATION=75s EVENTS=60000 HOSTS=300 ATTACK_RATE=0.012 SUPPRESSION=1
	$(MAKE) chaos SEED=$(SEED) DURATION=60s EVENTS=40000 HOSTS=200 ATTACK_RATE=0.02 MODE=keep-state-on-abort
	$(MAKE) chaos SEED=$(SEED) DURATION=60s EVENTS=40000 HOSTS=200 ATTACK_RATE=0.02 MODE=at-least-once
	$(MAKE) chaos SEED=$(SEED) DURATION=60s EVENTS=30000 HOSTS=200 ATTACK_RATE=0.02 MODE=flush-unrecorded
	$(MAKE) chaos SEED=$(SEED) DURATION=45s EVENTS=30000 HOSTS=200 ATTACK_RATE=0.02 MODE=wrong-rule
	$(MAKE) chaos SEED=$(SEED) DURATION=45s EVENTS=30000 HOSTS=200 ATTACK_RATE=0.02 SUPPRESSION=1 RULE_CHANGES=1

# Mutation check of the test suite (not part of make test: ~5 minutes): each
# mutant in internal/mutants/mutants.txt must make a test fail.
mutants:
	$(GO) run ./internal/mutants

clean:
	rm -rf bin bench.out
