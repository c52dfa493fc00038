#!/usr/bin/env bash
# es-local.sh — run a real single-node Elasticsearch on 127.0.0.1 without Docker,
# for the Elasticsearch sink's tests and local use.
#
# Needs java 17 and mvn (or curl). The distribution is Maven Central's
# org.elasticsearch.distribution.integ-test-zip:elasticsearch (no X-Pack modules;
# a sink needs none), fetched into a cache outside the repository. Elasticsearch
# refuses to run as root: as root the node runs as uid/gid 65534 (setpriv).
#
# Usage: es-local.sh <command>
#   fetch    download and unpack the distribution into the cache; print its home
#   up       start one node (security off, 127.0.0.1), wait until it answers, print its URL
#            (if it is already running: print its URL)
#   down     stop the node (SIGTERM, SIGKILL after a timeout), remove the state dir
#   url      print the URL (http://127.0.0.1:PORT)
#   status   running or stopped, pid, URL, log file
#
# Environment (all optional):
#   EQLSTREAM_ES_VERSION        version (default 8.17.0; 9.x fails its entitlement
#                               self-test here, 8.17 needs Java 17-21)
#   EQLSTREAM_ES_HOME           cache (default $HOME/.cache/eqlstream-es)
#   EQLSTREAM_ES_STATE          data, logs, config, pid (default /tmp/eqlstream-es)
#   EQLSTREAM_ES_HTTP_PORT      HTTP port (default 9200)
#   EQLSTREAM_ES_TRANSPORT_PORT transport port (default 9300)
#   EQLSTREAM_ES_HEAP           heap (default 512m)
#   EQLSTREAM_ES_START_TIMEOUT  seconds to wait for the node (default 120)
#   JAVA_HOME                   the Java to use (default: the one on PATH)
set -euo pipefail

VERSION=${EQLSTREAM_ES_VERSION:-8.17.0}
CACHE=${EQLSTREAM_ES_HOME:-$HOME/.cache/eqlstream-es}
STATE=${EQLSTREAM_ES_STATE:-/tmp/eqlstream-es}
HTTP_PORT=${EQLSTREAM_ES_HTTP_PORT:-9200}
TRANSPORT_PORT=${EQLSTREAM_ES_TRANSPORT_PORT:-9300}
HEAP=${EQLSTREAM_ES_HEAP:-512m}
START_TIMEOUT=${EQLSTREAM_ES_START_TIMEOUT:-120}
GROUP=org.elasticsearch.distribution.integ-test-zip
ARTIFACT=elasticsearch
URL=http://127.0.0.1:$HTTP_PORT

log() { echo "es-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

home() { echo "$CACHE/elasticsearch-$VERSION"; }

fetch() {
  local h zip
  h=$(home)
  if [[ -x $h/bin/elasticsearch ]]; then echo "$h"; return; fi
  mkdir -p "$CACHE"
  zip=$CACHE/elasticsearch-$VERSION.zip
  if [[ ! -s $zip ]]; then
    if command -v mvn >/dev/null; then
      log "fetching $GROUP:$ARTIFACT:$VERSION:zip with mvn"
      mvn -q -B -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        -Dartifact="$GROUP:$ARTIFACT:$VERSION:zip" -DoutputDirectory="$CACHE" >"$CACHE/mvn.log" 2>&1 ||
        { tail -n 30 "$CACHE/mvn.log" >&2; die "mvn could not fetch the distribution"; }
    else
      command -v curl >/dev/null || die "neither mvn nor curl found"
      log "fetching $VERSION from Maven Central with curl"
      curl -fsSL -o "$zip.part" "https://repo1.maven.org/maven2/${GROUP//.//}/$ARTIFACT/$VERSION/$ARTIFACT-$VERSION.zip" &&
        mv "$zip.part" "$zip" || die "download failed"
    fi
  fi
  rm -rf "$h.part" && mkdir -p "$h.part"
  (cd "$h.part" && unzip -q "$zip") || die "unzip $zip failed"
  mv "$h.part/elasticsearch-$VERSION" "$h" && rm -rf "$h.part"
  echo "$h"
}

pid_alive() { [[ -f $STATE/pid ]] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; }

answers() { curl -fsS -m 2 "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

up() {
  if pid_alive && answers; then echo "$URL"; return; fi
  command -v java >/dev/null || [[ -n ${JAVA_HOME:-} ]] || die "java not found (Java 17 needed)"
  local h; h=$(fetch)
  rm -rf "$STATE"
  mkdir -p "$STATE/data" "$STATE/logs" "$STATE/config" "$STATE/tmp"
  cp -r "$h/config/." "$STATE/config/"
  cat >"$STATE/config/elasticsearch.yml" <<YML
cluster.name: eqlstream-local
node.name: es-local-1
discovery.type: single-node
network.host: 127.0.0.1
http.port: $HTTP_PORT
transport.port: $TRANSPORT_PORT
path.data: $STATE/data
path.logs: $STATE/logs
xpack.security.enabled: false
action.destructive_requires_name: false
cluster.routing.allocation.disk.threshold_enabled: false
YML
  printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" >"$STATE/config/jvm.options.d/heap.options"
  local -a run=()
  if [[ $(id -u) == 0 ]]; then
    # uid 65534 cannot read root's cache: run a copy from the state dir
    cp -a "$h" "$STATE/home" && h=$STATE/home
    chown -R 65534:65534 "$STATE"
    run=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  fi
  log "starting Elasticsearch $VERSION on $URL (state $STATE)"
  ES_PATH_CONF=$STATE/config ES_TMPDIR=$STATE/tmp ES_JAVA_HOME=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")} \
    setsid "${run[@]}" "$h/bin/elasticsearch" >"$STATE/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$STATE/pid"
  local waited=0
  until answers; do
    pid_alive || { tail -n 40 "$STATE/logs/stdout.log" >&2; die "Elasticsearch exited (log: $STATE/logs/stdout.log)"; }
    ((waited++ < START_TIMEOUT * 2)) || { tail -n 40 "$STATE/logs/stdout.log" >&2; die "not answering after ${START_TIMEOUT}s"; }
    sleep 0.5
  done
  log "ready after ~$((waited / 2))s"
  echo "$URL"
}

down() {
  if pid_alive; then
    local pid; pid=$(cat "$STATE/pid")
    # the launcher (pid) runs the server as its child, in its own session
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$STATE"
}

status() {
  if pid_alive; then echo "running pid=$(cat "$STATE/pid") url=$URL log=$STATE/logs/stdout.log"; else echo "stopped url=$URL"; fi
}

case ${1:-} in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  url) echo "$URL" ;;
  status) status ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
