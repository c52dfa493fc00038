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
SHELL_IMAGE=${EQLSTREAM_SHELL_IMAGE:-localhost/eqlstream/busybox:bookworm}
mkdir -p "$STATE"

step "packages"
missing=()
for tool in podman runc debootstrap podman-compose; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ -x /usr/lib/cni/dnsname ]] || missing+=(dnsname) # service names on compose networks
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    podman runc debootstrap uidmap slirp4netns containernetworking-plugins \
    podman-compose golang-github-containernetworking-plugin-dnsname >/dev/null
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

COMPOSE=(podman-compose -f deployments/docker-compose.yml -f deployments/docker-compose.local-images.yml)
COMPOSE_UP=
SERVICE_PID=
finish() {
  local rc=$?
  step "cleanup"
  if [[ -n $COMPOSE_UP ]]; then
    "${COMPOSE[@]}" down >"$STATE/compose-down.log" 2>&1 || true
    echo "compose project down"
  fi
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
# EQLSTREAM_CONTAINER_GOCACHE: another build cache for the image build (an
# empty one measures a fresh machine's build).
gocache=(-v "$(go env GOROOT):/usr/local/go:ro" -v "$(go env GOMODCACHE):/go/pkg/mod"
  -v "${EQLSTREAM_CONTAINER_GOCACHE:-$(go env GOCACHE)}:/root/.cache/go-build")
podman build -q "${gocache[@]}" -f deployments/Dockerfile --target runtime \
  --build-arg GO_IMAGE="$BASE_IMAGE" --build-arg BASE=scratch -t "$PROCESSOR_IMAGE" .
# The generator's shell must know pipefail (Debian's dash does not): a
# busybox image from Debian's busybox-static, like the busybox image it
# stands for.
if podman image exists "$SHELL_IMAGE"; then
  echo "$SHELL_IMAGE reused"
else
  printf '%s\n' 'ARG BASE' 'FROM ${BASE} AS bb' \
    'RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null && cp "$(command -v busybox)" /busybox' \
    'FROM scratch' 'COPY --from=bb /busybox /bin/busybox' 'RUN ["/bin/busybox", "--install", "-s", "/bin"]' |
    podman build -q --build-arg BASE="$BASE_IMAGE" -t "$SHELL_IMAGE" -f - "$STATE"
fi
podman build -q "${gocache[@]}" -f deployments/Dockerfile --target generator \
  --build-arg GO_IMAGE="$BASE_IMAGE" --build-arg SHELL_BASE="$SHELL_IMAGE" -t "$GENERATOR_IMAGE" .
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

# ---------------------------------------------------------------- compose
# deployments/docker-compose.yml with podman-compose (Debian's 1.0.3), the
# images replaced by the local ones (docker-compose.local-images.yml): kafka,
# the processor and the generator (`processor gen | processor produce`, 10000
# events). The alerts the processor commits must be those `processor eval`
# finds in the same generated events, with the same IDs.
step "compose: podman-compose up (deployments/docker-compose.yml)"
go build -o "$STATE/processor" ./cmd/processor
"$STATE/processor" gen | "$STATE/processor" eval --quiet >"$STATE/compose-eval.ndjson"
grep -o '"kibana.alert.uuid":"[0-9a-f]*"' "$STATE/compose-eval.ndjson" | cut -d'"' -f4 | sort >"$STATE/compose-want.txt"
want=$(wc -l <"$STATE/compose-want.txt")
COMPOSE_UP=1
"${COMPOSE[@]}" up -d --no-build >"$STATE/compose-up.log" 2>&1 || { tail -n 30 "$STATE/compose-up.log"; exit 1; }
podman ps --filter label=io.podman.compose.project --format '{{.Names}} {{.Image}} {{.Status}}'
generator=$(podman ps -a --filter label=com.docker.compose.service=generator --format '{{.Names}}' | head -n 1)
network=$(podman inspect "$generator" --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}')
deadline=$((SECONDS + 240))
got=0
while ((SECONDS < deadline)); do
  if [[ $(podman inspect "$generator" --format '{{.State.Status}} {{.State.ExitCode}}') == "exited 0" ]]; then
    podman run --rm --net "$network" --label org.eqlstream.test=compose "$PROCESSOR_IMAGE" \
      consume --brokers kafka:9092 --topic alerts --from-beginning >"$STATE/compose-alerts.txt" 2>"$STATE/compose-consume.log" || true
    got=$(wc -l <"$STATE/compose-alerts.txt")
    ((got >= want)) && break
  fi
  sleep 3
done
podman logs "$generator" 2>&1 | grep '^produce: [0-9]* records to' || true
cut -d' ' -f2 "$STATE/compose-alerts.txt" | sort >"$STATE/compose-got.txt"
if ! cmp -s "$STATE/compose-want.txt" "$STATE/compose-got.txt"; then
  echo "compose: alerts differ from processor eval (want $want, got $got):"
  diff "$STATE/compose-want.txt" "$STATE/compose-got.txt" | head -n 20
  podman logs --tail 30 "$(podman ps -a --filter label=com.docker.compose.service=processor --format '{{.Names}}' | head -n 1)" || true
  exit 1
fi
echo "compose: the processor service committed $got alerts, the same IDs as processor eval of the generated events ($want)"
"${COMPOSE[@]}" down >"$STATE/compose-down.log" 2>&1
COMPOSE_UP=
echo "compose: down"
