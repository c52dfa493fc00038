#!/usr/bin/env bash
# The container path (issue #13), run by .ci/run after `make test`; also runs
# on a developer's machine as root: `bash .ci/containers.sh`.
#
# No image registry is reachable here, so every image is built locally:
#   - a Debian base with a JRE, made with debootstrap from the Debian mirror
#     apt uses and imported (kept and reused: about a minute the first time),
#     and a Maven image on top of it (apt-get install maven in a build);
#   - the Kafka image (deployments/kafka/image; mvn resolves the Kafka 4.1.1
#     jars from Maven Central in the build, with the local Maven repository
#     mounted as its cache);
#   - the processor images (deployments/Dockerfile: runtime on scratch,
#     generator on the Debian base; the build stage runs Go from the host's
#     /usr/local/go with the host's module and build caches mounted).
# Then podman's Docker API socket is started (stopped by its PID at exit), the
# integration tests run through testcontainers-go with KAFKA_BROKERS unset:
# the end-to-end test on a Kafka container, and the processor image (the
# embedded demo; a processor container against a Kafka container, alerts
# equal to processor eval). Leftover containers are removed by label.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$SECONDS
step() { echo "== containers: $* (+$((SECONDS - T0))s)"; }

STATE=${EQLSTREAM_CONTAINERS_STATE:-/tmp/eqlstream-containers}
BASE_IMAGE=${EQLSTREAM_BASE_IMAGE:-localhost/eqlstream/debian-jre:bookworm}
MAVEN_IMAGE=${EQLSTREAM_MAVEN_IMAGE:-localhost/eqlstream/debian-maven:bookworm}
KAFKA_IMAGE=${EQLSTREAM_KAFKA_IMAGE:-localhost/eqlstream/kafka:4.1.1}
PROCESSOR_IMAGE=${EQLSTREAM_PROCESSOR_IMAGE:-localhost/eqlstream/processor:dev}
GENERATOR_IMAGE=${EQLSTREAM_GENERATOR_IMAGE:-localhost/eqlstream/processor-generator:dev}
mkdir -p "$STATE"

step "packages"
missing=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman runc debootstrap uidmap slirp4netns containernetworking-plugins >/dev/null
fi
podman --version

# This VM's cgroup layout is hybrid and it lacks CAP_SYS_RESOURCE: runc (crun
# refuses hybrid cgroups) and ulimits within the current hard limits.
export CONTAINERS_CONF=$STATE/containers.conf
cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF

# Every container the tests start carries org.testcontainers (testcontainers-go)
# and org.eqlstream.test (ours); a killed test binary leaves them behind.
cleanup_containers() {
  local ids
  ids=$({ podman ps -aq --filter label=org.testcontainers; podman ps -aq --filter label=org.eqlstream.test; } | sort -u)
  if [[ -n $ids ]]; then
    echo "removing leftover containers: $(echo $ids)"
    # shellcheck disable=SC2086
    podman rm -f -t 10 $ids >/dev/null
  fi
  echo "containers labelled org.testcontainers or org.eqlstream.test: $({ podman ps -aq --filter label=org.testcontainers; podman ps -aq --filter label=org.eqlstream.test; } | sort -u | wc -l)"
}

SERVICE_PID=
finish() {
  local rc=$?
  step "cleanup"
  if [[ -n $SERVICE_PID ]]; then
    kill "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
    echo "podman system service (pid $SERVICE_PID) stopped"
  fi
  cleanup_containers || true
  step "done, rc=$rc, $((SECONDS - T0))s in all"
  exit "$rc"
}
trap finish EXIT

step "base image $BASE_IMAGE"
if podman image exists "$BASE_IMAGE"; then
  echo "reused"
else
  mirror=$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^[:space:]]+' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$STATE/rootfs
  rm -rf "$rootfs"
  echo "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase --include=openjdk-17-jre-headless bookworm "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$STATE/debootstrap.log"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/*
  tar -C "$rootfs" -c . | podman import -q - "$BASE_IMAGE"
  rm -rf "$rootfs"
fi
if podman image exists "$MAVEN_IMAGE"; then
  echo "$MAVEN_IMAGE reused"
else
  printf '%s\n' 'ARG BASE' 'FROM ${BASE}' \
    'RUN mkdir -p /usr/share/man/man1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends maven >/dev/null && rm -rf /var/lib/apt/lists/*' |
    podman build -q --build-arg BASE="$BASE_IMAGE" -t "$MAVEN_IMAGE" -f - "$STATE"
fi

step "kafka image $KAFKA_IMAGE"
mkdir -p "$HOME/.m2"
podman build -q -v "$HOME/.m2:/root/.m2" \
  --build-arg BASE="$BASE_IMAGE" --build-arg MAVEN_IMAGE="$MAVEN_IMAGE" \
  -t "$KAFKA_IMAGE" deployments/kafka/image

step "processor images $PROCESSOR_IMAGE, $GENERATOR_IMAGE"
go mod download # every module of go.sum, for the build stage's offline module cache
gocache=(-v "$(go env GOROOT):/usr/local/go:ro" -v "$(go env GOMODCACHE):/go/pkg/mod" -v "$(go env GOCACHE):/root/.cache/go-build")
podman build -q "${gocache[@]}" -f deployments/Dockerfile --target runtime \
  --build-arg GO_IMAGE="$BASE_IMAGE" --build-arg BASE=scratch -t "$PROCESSOR_IMAGE" .
podman build -q "${gocache[@]}" -f deployments/Dockerfile --target generator \
  --build-arg GO_IMAGE="$BASE_IMAGE" --build-arg SHELL_BASE="$BASE_IMAGE" -t "$GENERATOR_IMAGE" .
podman images --filter reference='localhost/eqlstream/*'

step "docker API socket"
cleanup_containers
sock=$STATE/podman.sock
rm -f "$sock"
podman system service --time=0 "unix://$sock" >"$STATE/podman-service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 50); do
  [[ -S $sock ]] && break
  sleep 0.1
done
[[ -S $sock ]] || { cat "$STATE/podman-service.log"; echo "podman system service did not create $sock"; exit 1; }
echo "podman system service pid $SERVICE_PID at unix://$sock"

step "integration tests through testcontainers-go (KAFKA_BROKERS unset)"
# TESTCONTAINERS_RYUK_DISABLED: the reaper image cannot be pulled (cleanup is
# by label, above and at exit). TESTCONTAINERS_HOST_OVERRIDE: a /.dockerenv on
# these machines makes testcontainers-go think it runs in a container.
(
  unset KAFKA_BROKERS KAFKA_LOCAL KAFKA_SECURE_BROKERS KAFKA_SECURE_DIR KAFKA_SECURE_MTLS_BROKERS
  export CI=true DOCKER_HOST=unix://$sock TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=localhost \
    EQLSTREAM_KAFKA_IMAGE=$KAFKA_IMAGE EQLSTREAM_PROCESSOR_IMAGE=$PROCESSOR_IMAGE
  go test -tags containers -race -count=1 -v -timeout 15m \
    -run '^(TestEndToEndMatchesEval|TestProcessorImageEmbedded|TestProcessorImageAgainstKafka)$' ./integration/
) 2>&1 | tee "$STATE/integration.log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok|kafkatest:)|Container (started|terminated)|image_test|e2e_test|panic' || true
grep -qE '^ok[[:space:]]+github.com/eqlstream/eqlstream/integration' "$STATE/integration.log" ||
  { tail -n 80 "$STATE/integration.log"; echo "containers: integration tests failed"; exit 1; }
echo "containers: $(grep -c '^--- PASS' "$STATE/integration.log") tests passed through testcontainers-go"
