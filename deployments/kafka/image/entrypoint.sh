#!/usr/bin/env bash
# One Kafka KRaft node (broker + controller) in a container: formats its
# storage once, then execs the broker (PID 1 is the JVM, so SIGTERM stops it
# cleanly). Environment (all optional):
#   KAFKA_EXTERNAL_ADVERTISED  address clients outside the container use for
#                              port 9092 (default localhost:9092); file:PATH
#                              waits up to KAFKA_ADVERTISED_WAIT seconds
#                              (default 60) for PATH to hold it
#   KAFKA_INTERNAL_ADVERTISED  address other containers use for port 19092
#                              (default <hostname>:19092)
#   KAFKA_HEAP_OPTS            JVM heap flags (default -Xms256m -Xmx512m)
#   any other KAFKA_<NAME>     a broker property, as the apache/kafka image
#                              reads them: KAFKA_NODE_ID=1 is node.id=1 (_ is
#                              ".", __ is "_", ___ is "-"); it overrides the
#                              defaults below, so the compose file's settings
#                              for apache/kafka work unchanged
set -euo pipefail

DATA=/var/lib/kafka/data
CONF=/var/lib/kafka/server.properties
LIB=/opt/kafka/libs

log() { echo "kafka-entrypoint: $*" >&2; }

external=${KAFKA_EXTERNAL_ADVERTISED:-localhost:9092}
if [[ $external == file:* ]]; then
  file=${external#file:}
  wait_s=${KAFKA_ADVERTISED_WAIT:-60}
  for ((i = 0; i < wait_s * 10; i++)); do
    [[ -s $file ]] && break
    sleep 0.1
  done
  [[ -s $file ]] || { log "error: no advertised address in $file after ${wait_s}s"; exit 1; }
  external=$(tr -d ' \n' <"$file")
fi
internal=${KAFKA_INTERNAL_ADVERTISED:-$(hostname):19092}
log "default listeners: EXTERNAL://$external INTERNAL://$internal (KAFKA_* variables override them)"

cat >"$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:9093
listeners=EXTERNAL://0.0.0.0:9092,INTERNAL://0.0.0.0:19092,CONTROLLER://127.0.0.1:9093
advertised.listeners=EXTERNAL://$external,INTERNAL://$internal
listener.security.protocol.map=EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
log.dirs=$DATA
num.network.threads=2
num.io.threads=4
num.partitions=3
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
log.segment.bytes=67108864
PROPS

# KAFKA_<NAME> variables, after the defaults (the last value of a key wins).
own=" KAFKA_EXTERNAL_ADVERTISED KAFKA_INTERNAL_ADVERTISED KAFKA_ADVERTISED_WAIT KAFKA_HEAP_OPTS KAFKA_OPTS "
while IFS='=' read -r -d '' name value; do
  [[ $name == KAFKA_* && $own != *" $name "* ]] || continue
  key=${name#KAFKA_}
  key=${key,,}
  key=${key//___/-}
  key=${key//__/@}
  key=${key//_/.}
  key=${key//@/_}
  printf '%s=%s\n' "$key" "$value" >>"$CONF"
done < <(env -0)

jvm=(-XX:+UseG1GC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dlog4j2.configurationFile=/opt/kafka/log4j2.properties)

# Format once: Kafka 4 refuses a second cluster id for existing storage.
if [[ ! -f $DATA/meta.properties ]]; then
  # A cluster id is 16 random bytes, base64url without padding.
  id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  java -Xmx256m "${jvm[@]}" -cp "$LIB/*" kafka.tools.StorageTool format -t "$id" -c "$CONF" >&2
fi

read -r -a heap <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
exec java "${heap[@]}" "${jvm[@]}" -cp "$LIB/*" kafka.Kafka "$CONF"
