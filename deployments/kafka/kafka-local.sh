#!/usr/bin/env bash
# kafka-local.sh — run a real Apache Kafka (KRaft) cluster on 127.0.0.1 without Docker.
#
# Needs only java (17+) and mvn. The broker jars come from Maven Central through a
# tiny generated pom and are cached outside the repository; cluster data, logs and
# PIDs live in a state directory. Every action on a node goes through the PID that
# was recorded when that node was started (and is checked against /proc first).
#
# Usage: kafka-local.sh <command> [args]
#   fetch          download the Kafka jars into the cache (done by `up` as needed);
#                  prints the lib dir (java -cp '<lib>/*' ...)
#   up [1|3]       format storage, start 1 (default) or 3 combined broker+controller
#                  nodes, wait until every node logs "Kafka Server started", print
#                  the bootstrap list (if that cluster is already running: restart
#                  any of its stopped nodes, print the bootstrap list)
#   up --secure [--mtls] [1|3]
#                  the same, secured: SASL_SSL (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)
#                  with a CA and server certificate generated into the state dir,
#                  StandardAuthorizer denying by default, super user admin, users
#                  admin processor producer reader with password files; --mtls adds
#                  an SSL listener requiring client certificates (principal = CN) and
#                  a certificate per user. Layout: deployments/kafka/kafka-local-secure.sh
#   secure-env     (secure cluster) print `export KAFKA_SECURE_*=` lines: bootstrap
#                  lists, state dir, CA, admin client config; and each user's files
#   acl ARGS...    (secure cluster) org.apache.kafka.tools.AclCommand as admin, e.g.
#                  acl --add --allow-principal User:processor --operation Read --topic T
#                  acl --list; acl --remove --force ... (kafka-tools jars are fetched
#                  into the jar cache on first use)
#   fetch-tools    download the kafka-tools jars; prints their lib dir
#   compose-secrets DIR
#                  write the secrets and broker configuration docker-compose.secure.yml
#                  mounts (a CA, a certificate for kafka/localhost, user passwords and
#                  client certificates) into DIR, e.g. deployments/secure; starts nothing
#   down           stop every node (SIGTERM, then SIGKILL after a timeout), remove state
#   brokers        print the bootstrap list, comma separated (e.g. 127.0.0.1:19092);
#                  `brokers --mtls`: the mTLS listener's list (secure --mtls cluster)
#   kill N         SIGKILL node N
#   stop N         SIGTERM node N and wait for it to exit (SIGKILL after the timeout)
#   start N        restart node N with its existing data and wait until it is ready
#   pause N        SIGSTOP node N
#   resume N       SIGCONT node N
#   pid N          print node N's recorded PID
#   status         one line per node: id, state, pid, broker address, log file
#
# Environment (all optional):
#   EQLSTREAM_KAFKA_VERSION          Kafka version (default 4.1.1)
#   EQLSTREAM_KAFKA_LOG4J_VERSION    log4j2 version (default 2.25.2)
#   EQLSTREAM_KAFKA_HOME             jar cache (default $HOME/.cache/eqlstream-kafka)
#   EQLSTREAM_KAFKA_STATE            data/logs/pids (default /tmp/eqlstream-kafka)
#   EQLSTREAM_KAFKA_BROKER_PORT      first broker port (default 19092); node N uses +2*(N-1)
#   EQLSTREAM_KAFKA_CONTROLLER_PORT  first controller port (default 19093); node N uses +2*(N-1)
#   EQLSTREAM_KAFKA_HEAP             heap flags (default "-Xms256m -Xmx768m")
#   EQLSTREAM_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 120)
#   EQLSTREAM_KAFKA_STOP_TIMEOUT     seconds between SIGTERM and SIGKILL (default 30)
#   EQLSTREAM_KAFKA_AUTO_CREATE      auto.create.topics.enable (default true)
#   EQLSTREAM_KAFKA_MTLS_PORT        first mTLS port with --mtls (default broker port + 100)
#   EQLSTREAM_KAFKA_SECURE_USERS     users of a secure cluster (default: admin processor
#                                    producer reader; admin is always created)
set -euo pipefail

KAFKA_VERSION=${EQLSTREAM_KAFKA_VERSION:-4.1.1}
LOG4J_VERSION=${EQLSTREAM_KAFKA_LOG4J_VERSION:-2.25.2}
KAFKA_HOME=${EQLSTREAM_KAFKA_HOME:-$HOME/.cache/eqlstream-kafka}
STATE=${EQLSTREAM_KAFKA_STATE:-/tmp/eqlstream-kafka}
BROKER_PORT=${EQLSTREAM_KAFKA_BROKER_PORT:-19092}
CONTROLLER_PORT=${EQLSTREAM_KAFKA_CONTROLLER_PORT:-19093}
HEAP=${EQLSTREAM_KAFKA_HEAP:--Xms256m -Xmx768m}
START_TIMEOUT=${EQLSTREAM_KAFKA_START_TIMEOUT:-120}
STOP_TIMEOUT=${EQLSTREAM_KAFKA_STOP_TIMEOUT:-30}
AUTO_CREATE=${EQLSTREAM_KAFKA_AUTO_CREATE:-true}
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

LIB=$KAFKA_HOME/$KAFKA_VERSION/lib
JVM_COMMON=(-XX:+UseG1GC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true)

log() { echo "kafka-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

broker_port() { echo $((BROKER_PORT + 2 * ($1 - 1))); }
controller_port() { echo $((CONTROLLER_PORT + 2 * ($1 - 1))); }
node_dir() { echo "$STATE/node-$1"; }

# shellcheck source=deployments/kafka/kafka-local-secure.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka-local-secure.sh"

# ---------------------------------------------------------------- jars

# dep GROUP ARTIFACT VERSION: one <dependency> element.
dep() {
  printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' "$1" "$2" "$3"
}

fetch() {
  [[ -f $LIB/.complete ]] && return 0
  # Kafka 4.x pins slf4j-api 1.7.x, so the log4j2 binding is log4j-slf4j-impl
  # (the one Kafka's own distribution ships), not log4j-slf4j2-impl.
  mvn_fetch "$LIB" "kafka_2.13-$KAFKA_VERSION.jar" "$(dep org.apache.kafka kafka_2.13 "$KAFKA_VERSION")
$(dep org.apache.logging.log4j log4j-core "$LOG4J_VERSION")
$(dep org.apache.logging.log4j log4j-slf4j-impl "$LOG4J_VERSION")"
}

# mvn_fetch LIBDIR JAR DEPENDENCIES: copy the runtime closure of DEPENDENCIES (XML) into
# LIBDIR through a generated pom, once (LIBDIR/.complete), under a lock.
mvn_fetch() {
  local lib=$1 jar=$2 deps=$3
  [[ -f $lib/.complete ]] && return 0
  command -v java >/dev/null || die "java not found (Java 17+ is needed)"
  command -v mvn >/dev/null || die "mvn not found"
  mkdir -p "$KAFKA_HOME/$KAFKA_VERSION"
  local lock=$lib.lock
  (
    if command -v flock >/dev/null; then
      exec 9>"$lock"
      flock 9
    fi
    [[ -f $lib/.complete ]] && exit 0
    log "fetching $(basename "$lib") jars ($jar and dependencies) from Maven Central into $lib"
    local pomdir=$lib.pom
    rm -rf "$lib" "$pomdir"
    mkdir -p "$pomdir"
    cat >"$pomdir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.eqlstream.local</groupId>
  <artifactId>kafka-local</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
</project>
EOF
    local try
    for try in 1 2 3; do
      if (cd "$pomdir" && mvn -q -B -Dstyle.color=never "$DEPENDENCY_PLUGIN:copy-dependencies" \
        -DincludeScope=runtime -DoutputDirectory="$lib" >"$pomdir/mvn.log" 2>&1); then
        ls "$lib/$jar" >/dev/null || die "$jar missing in $lib"
        touch "$lib/.complete"
        exit 0
      fi
      tail -n 40 "$pomdir/mvn.log" >&2 || true
      log "mvn failed (try $try)"
      ((try == 3)) || sleep $((try * 5))
    done
    die "could not fetch $jar"
  )
}

# ---------------------------------------------------------------- pids

recorded_pid() {
  local f
  f="$(node_dir "$1")/kafka.pid"
  [[ -s $f ]] && cat "$f"
}

# alive_pid N: print node N's PID if that process is alive and really is node N.
alive_pid() {
  local pid props
  pid=$(recorded_pid "$1") || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  props="$(node_dir "$1")/server.properties"
  # Guard against PID reuse: the process must be kafka.Kafka with this node's config.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $props" || return 1
  gone "$pid" && return 1
  echo "$pid"
}

proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo "?"; }

node_count() {
  [[ -s $STATE/nodes ]] || die "no cluster in $STATE (run: $0 up)"
  cat "$STATE/nodes"
}

check_node_arg() {
  local n=${1:-}
  [[ $n =~ ^[0-9]+$ ]] || die "expected a node number, got '${n}'"
  local count
  count=$(node_count)
  ((n >= 1 && n <= count)) || die "node $n does not exist (cluster has $count)"
}

# gone PID: the process has exited. A zombie leader whose other threads are still
# exiting still holds the JVM's sockets, so it counts as gone only once alone.
gone() {
  [[ -e /proc/$1 ]] || return 0
  [[ $(proc_state "$1") == Z ]] || return 1
  local tasks=(/proc/"$1"/task/*)
  ((${#tasks[@]} <= 1))
}

# wait_gone PID SECONDS: 0 once the process has exited.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  until gone "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# wait_ports_free N SECONDS: 0 once nothing listens on node N's ports.
wait_ports_free() {
  local n=$1 deadline=$((SECONDS + $2))
  while port_busy "$(broker_port "$n")" || port_busy "$(controller_port "$n")" ||
    { is_mtls && port_busy "$(mtls_port "$n")"; }; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- config

write_log4j() {
  cat >"$STATE/log4j2.properties" <<'EOF'
# Generated by kafka-local.sh: broker logs go to files under ${sys:kafka.logs.dir}.
status = warn
name = eqlstream-kafka-local

appender.server.type = RollingFile
appender.server.name = SERVER
appender.server.fileName = ${sys:kafka.logs.dir}/server.log
appender.server.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 50MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3

appender.state.type = RollingFile
appender.state.name = STATECHANGE
appender.state.fileName = ${sys:kafka.logs.dir}/state-change.log
appender.state.filePattern = ${sys:kafka.logs.dir}/state-change.log.%i
appender.state.layout.type = PatternLayout
appender.state.layout.pattern = [%d] %p %m (%c)%n
appender.state.policies.type = Policies
appender.state.policies.size.type = SizeBasedTriggeringPolicy
appender.state.policies.size.size = 20MB
appender.state.strategy.type = DefaultRolloverStrategy
appender.state.strategy.max = 2

rootLogger.level = INFO
rootLogger.appenderRef.server.ref = SERVER

logger.statechange.name = state.change.logger
logger.statechange.level = INFO
logger.statechange.additivity = false
logger.statechange.appenderRef.state.ref = STATECHANGE

logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.network.name = kafka.network.RequestChannel$
logger.network.level = WARN
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
EOF
}

write_server_properties() {
  local n=$1 count=$2 dir voters="" i rf misr
  dir=$(node_dir "$n")
  for ((i = 1; i <= count; i++)); do
    voters+="${voters:+,}$i@127.0.0.1:$(controller_port "$i")"
  done
  if ((count >= 3)); then rf=3 misr=2; else rf=1 misr=1; fi
  mkdir -p "$dir/data" "$dir/logs"
  local listener_props
  if is_secure; then
    listener_props=$(secure_listener_props "$n")
    (umask 077 && : >"$dir/server.properties") # it holds the passwords
  else
    listener_props="listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  fi
  cat >"$dir/server.properties" <<EOF
# Generated by kafka-local.sh: node $n of $count.
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
$listener_props
log.dirs=$dir/data

num.network.threads=2
num.io.threads=4
num.partitions=3
auto.create.topics.enable=$AUTO_CREATE
default.replication.factor=$rf
min.insync.replicas=$misr
unclean.leader.election.enable=false

offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$misr
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$misr

group.initial.rebalance.delay.ms=0
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
controlled.shutdown.enable=true
log.segment.bytes=67108864
EOF
}

# ---------------------------------------------------------------- processes

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# launch N: start node N in its own session, recording the JVM's PID.
launch() {
  local n=$1 dir
  dir=$(node_dir "$n")
  rm -f "$dir/kafka.pid"
  local -a heap
  read -r -a heap <<<"$HEAP"
  # setsid: the JVM must not get the caller's Ctrl-C or hang-up. The inner shell
  # records its own PID and then execs java, so the recorded PID is the JVM's.
  local -a cmd=(java "${heap[@]}" "${JVM_COMMON[@]}"
    "-Dlog4j2.configurationFile=$STATE/log4j2.properties"
    "-Dkafka.logs.dir=$dir/logs"
    -cp "$LIB/*" kafka.Kafka "$dir/server.properties")
  local -a wrapper=()
  command -v setsid >/dev/null && wrapper=(setsid)
  "${wrapper[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$dir/kafka.pid" "${cmd[@]}" \
    </dev/null >>"$dir/logs/stdout.log" 2>&1 &
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $dir/kafka.pid ]] && break
    sleep 0.05
  done
  [[ -s $dir/kafka.pid ]] || die "node $n: no PID recorded"
}

log_size() {
  local f
  f="$(node_dir "$1")/logs/server.log"
  if [[ -f $f ]]; then stat -c %s "$f"; else echo 0; fi
}

# started_since N OFFSET: node N logged "Kafka Server started" after byte OFFSET.
started_since() {
  local f off=$2
  f="$(node_dir "$1")/logs/server.log"
  [[ -f $f ]] || return 1
  (($(stat -c %s "$f") >= off)) || off=0 # rolled over
  tail -c +"$((off + 1))" "$f" | grep -q "Kafka Server started"
}

# wait_ready OFFSETS... : one byte offset per node listed in WAIT_NODES.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) n pending
  local -a nodes=("${WAIT_NODES[@]}")
  while :; do
    pending=()
    for n in "${nodes[@]}"; do
      alive_pid "$n" >/dev/null || {
        log "node $n exited during startup; last log lines:"
        tail -n 30 "$(node_dir "$n")/logs/stdout.log" >&2 || true
        tail -n 30 "$(node_dir "$n")/logs/server.log" >&2 || true
        return 1
      }
      if ! started_since "$n" "${WAIT_OFFSET[$n]}" || ! port_busy "$(broker_port "$n")"; then
        pending+=("$n")
      fi
    done
    ((${#pending[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      log "timed out after ${START_TIMEOUT}s waiting for node(s) ${pending[*]}"
      for n in "${pending[@]}"; do
        log "--- node $n server.log (tail)"
        tail -n 20 "$(node_dir "$n")/logs/server.log" >&2 || true
      done
      return 1
    fi
    sleep 0.5
  done
}

# signal_stop N SECONDS: SIGTERM node N, SIGKILL it if still there after SECONDS.
signal_stop() {
  local n=$1 timeout=$2 pid
  pid=$(alive_pid "$n") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true # a paused node cannot act on SIGTERM
  if ! wait_gone "$pid" "$timeout"; then
    log "node $n (pid $pid) still running after ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || log "node $n (pid $pid) did not exit"
  fi
}

stop_all() {
  local timeout=$1 count n pid
  [[ -s $STATE/nodes ]] || return 0
  count=$(cat "$STATE/nodes")
  local -a pids=()
  for ((n = 1; n <= count; n++)); do
    if pid=$(alive_pid "$n"); then
      pids+=("$pid")
      kill -TERM "$pid" 2>/dev/null || true
      kill -CONT "$pid" 2>/dev/null || true
    fi
  done
  local deadline=$((SECONDS + timeout))
  for pid in "${pids[@]}"; do
    local left=$((deadline - SECONDS))
    ((left > 0)) || left=0
    if ! wait_gone "$pid" "$left"; then
      log "pid $pid still running after ${timeout}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || log "pid $pid did not exit"
    fi
  done
}

bootstrap() {
  local count n out=""
  count=$(node_count)
  for ((n = 1; n <= count; n++)); do
    out+="${out:+,}127.0.0.1:$(broker_port "$n")"
  done
  echo "$out"
}

# ---------------------------------------------------------------- commands

any_alive() {
  local count n
  [[ -s $STATE/nodes ]] || return 1
  count=$(cat "$STATE/nodes")
  for ((n = 1; n <= count; n++)); do
    alive_pid "$n" >/dev/null && return 0
  done
  return 1
}

start_cluster() {
  local count=$1 secure=${2:-0} mtls=${3:-0} n cluster_id
  rm -rf "$STATE"
  mkdir -p "$STATE"
  write_log4j
  echo "$count" >"$STATE/nodes"
  local -a format_extra=()
  if ((secure)); then
    secure_prepare "$count" "$mtls"
    mapfile -t format_extra < <(scram_format_args)
  fi
  for ((n = 1; n <= count; n++)); do
    wait_ports_free "$n" 20 || die "node $n's ports ($(broker_port "$n"), $(controller_port "$n")) are already in use"
    write_server_properties "$n" "$count"
  done
  cluster_id=$(java -Xmx128m -XX:TieredStopAtLevel=1 -cp "$LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  [[ -n $cluster_id ]] || die "StorageTool random-uuid gave no cluster id"
  echo "$cluster_id" >"$STATE/cluster.id"
  local -a fpids=()
  for ((n = 1; n <= count; n++)); do
    java -Xmx256m -XX:TieredStopAtLevel=1 "-Dlog4j2.configurationFile=$STATE/log4j2.properties" \
      "-Dkafka.logs.dir=$(node_dir "$n")/logs" -cp "$LIB/*" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$(node_dir "$n")/server.properties" "${format_extra[@]}" \
      >"$(node_dir "$n")/logs/format.log" 2>&1 &
    fpids+=($!)
  done
  for ((n = 1; n <= count; n++)); do
    wait "${fpids[$((n - 1))]}" || {
      cat "$(node_dir "$n")/logs/format.log" >&2
      die "formatting node $n failed"
    }
  done
  WAIT_NODES=()
  WAIT_OFFSET=()
  for ((n = 1; n <= count; n++)); do
    WAIT_NODES+=("$n")
    WAIT_OFFSET[n]=0
    launch "$n"
  done
  wait_ready
}

cmd_up() {
  local count=1 secure=0 mtls=0 arg
  for arg in "$@"; do
    case $arg in
      --secure) secure=1 ;;
      --mtls) mtls=1 ;;
      *) count=$arg ;;
    esac
  done
  [[ $count == 1 || $count == 3 ]] || die "up takes 1 or 3 nodes, got '$count'"
  ((mtls == 0 || secure == 1)) || die "--mtls needs --secure"
  if ((secure)); then command -v openssl >/dev/null || die "openssl not found (needed by --secure)"; fi
  if any_alive; then
    local have want_mode=plaintext have_mode=plaintext
    have=$(cat "$STATE/nodes")
    [[ $have == "$count" ]] || die "a $have-node cluster is already running in $STATE (run: $0 down)"
    ((secure)) && want_mode="secure mtls=$mtls"
    is_secure && have_mode="secure mtls=$(secure_conf mtls)"
    [[ $have_mode == "$want_mode" ]] || die "a $have_mode cluster is already running in $STATE (run: $0 down)"
    local n
    for ((n = 1; n <= have; n++)); do
      alive_pid "$n" >/dev/null || cmd_start "$n"
    done
    log "cluster already running"
    bootstrap
    return 0
  fi
  fetch
  local start=$SECONDS attempt
  for attempt in 1 2; do
    if start_cluster "$count" "$secure" "$mtls"; then
      local what=""
      if ((secure)); then
        what=" secured (SASL_SSL"
        if ((mtls)); then what+=", mTLS on $(cat "$STATE/bootstrap-mtls")"; fi
        what+="; '$0 secure-env' prints the files)"
      fi
      log "$count-node cluster$what ready in $((SECONDS - start))s (Kafka $KAFKA_VERSION, state $STATE)"
      bootstrap
      return 0
    fi
    stop_all 10
    ((attempt == 1)) && log "startup failed; retrying once from scratch"
  done
  die "cluster did not start; logs are under $STATE"
}

cmd_down() {
  if [[ -d $STATE ]]; then
    stop_all "$STOP_TIMEOUT"
    rm -rf "$STATE"
  fi
  log "cluster down"
}

cmd_start() {
  local n=$1
  check_node_arg "$n"
  if alive_pid "$n" >/dev/null; then
    log "node $n already running"
    return 0
  fi
  wait_ports_free "$n" 20 || die "node $n's ports ($(broker_port "$n"), $(controller_port "$n")) are in use by something else"
  WAIT_NODES=("$n")
  WAIT_OFFSET=()
  WAIT_OFFSET[n]=$(log_size "$n")
  launch "$n"
  local attempt
  for attempt in 1 2; do
    wait_ready && { log "node $n started"; return 0; }
    signal_stop "$n" 10
    ((attempt == 1)) || break
    log "node $n did not start; retrying once"
    WAIT_OFFSET[n]=$(log_size "$n")
    launch "$n"
  done
  die "node $n did not start"
}

cmd_signal() {
  local what=$1 n=$2 pid
  check_node_arg "$n"
  pid=$(alive_pid "$n") || die "node $n is not running"
  case $what in
    kill)
      kill -KILL "$pid"
      wait_gone "$pid" 10 || die "node $n (pid $pid) did not die"
      log "node $n (pid $pid) killed"
      ;;
    stop)
      signal_stop "$n" "$STOP_TIMEOUT"
      log "node $n (pid $pid) stopped"
      ;;
    pause)
      kill -STOP "$pid"
      log "node $n (pid $pid) paused"
      ;;
    resume)
      kill -CONT "$pid"
      log "node $n (pid $pid) resumed"
      ;;
  esac
}

cmd_status() {
  local count n pid state
  count=$(node_count)
  for ((n = 1; n <= count; n++)); do
    if pid=$(alive_pid "$n"); then
      case $(proc_state "$pid") in
        T | t) state=paused ;;
        *) state=running ;;
      esac
    else
      pid=$(recorded_pid "$n" || echo -)
      state=down
    fi
    printf 'node %d\t%-7s\tpid %s\t127.0.0.1:%d\t%s\n' "$n" "$state" "$pid" \
      "$(broker_port "$n")" "$(node_dir "$n")/logs/server.log"
  done
}

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    fetch) fetch; echo "$LIB" ;;
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    brokers)
      if [[ ${1:-} == --mtls ]]; then
        is_mtls || die "the cluster in $STATE has no mTLS listener (run: $0 up --secure --mtls)"
        secure_bootstrap mtls_port
      else
        bootstrap
      fi
      ;;
    secure-env) cmd_secure_env ;;
    compose-secrets) cmd_compose_secrets "${1:-}" ;;
    acl) cmd_acl "$@" ;;
    fetch-tools) fetch_tools; echo "$TOOLS_LIB" ;;
    kill | stop | pause | resume) cmd_signal "$cmd" "${1:-}" ;;
    start) cmd_start "${1:-}" ;;
    pid)
      check_node_arg "${1:-}"
      recorded_pid "$1" || die "node $1 has no recorded PID"
      ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
