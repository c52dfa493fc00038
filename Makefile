# eqlstream — `make test` is the one command that runs every test (README).
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 10s
SEED      ?= 1
DURATION  ?= 3m

.PHONY: all build test unit vet fmt-check fuzz bench demo kafka-up kafka-down chaos chaos-ci clean

all: build

build:
	$(GO) build -o bin/processor ./cmd/processor

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Unit + integration tests with the race detector. Integration tests use
# KAFKA_BROKERS; with CI=true a missing broker fails them.
unit:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Bounded fuzzing of the parsers (no panics, no hangs).
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./rules/eql/
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./rules/engine/
	$(GO) test -run='^$$' -fuzz='^FuzzCompileEval$$' -fuzztime=$(FUZZTIME) ./rules/engine/

test: fmt-check vet unit fuzz

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=6 ./rules/engine/ | tee bench.out

demo: build
	./bin/processor run --embedded

kafka-up:
	deployments/kafka/kafka-local.sh up 1

kafka-down:
	deployments/kafka/kafka-local.sh down

clean:
	rm -rf bin bench.out
