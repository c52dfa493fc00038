# kafka-local-secure.sh — the secured mode of kafka-local.sh (sourced by it; not run alone).
#
# `kafka-local.sh up --secure [--mtls] [1|3]` starts the same KRaft nodes with:
#   - an EXTERNAL listener on the broker port: SASL_SSL with SCRAM-SHA-512, SCRAM-SHA-256
#     and PLAIN; server certificate (SAN DNS:localhost, IP:127.0.0.1) signed by a CA
#     generated into the state directory (openssl);
#   - with --mtls, an MTLS listener (SSL, ssl.client.auth=required) on
#     EQLSTREAM_KAFKA_MTLS_PORT (default broker port + 100; node N uses +2*(N-1)); the
#     principal is the client certificate's CN (User:<name>), and a client certificate
#     and key are generated for every user;
#   - the CONTROLLER listener on SASL_PLAINTEXT (PLAIN, admin only), 127.0.0.1;
#   - StandardAuthorizer, allow.everyone.if.no.acl.found=false, super.users=User:admin;
#   - users (EQLSTREAM_KAFKA_SECURE_USERS, default "admin processor producer reader";
#     admin is always one): SCRAM-SHA-512 and SCRAM-SHA-256 credentials created at format
#     time, PLAIN credentials in the listener's JAAS configuration; random passwords.
#
# Layout of the state directory (files holding secrets are 0600):
#   secure.conf               mode=secure, mtls=0|1, users=...
#   bootstrap, bootstrap-mtls the SASL_SSL and (with --mtls) the mTLS bootstrap lists
#   tls/ca.crt                the CA certificate (PEM) clients must trust
#   tls/ca.key                the CA key (to sign more certificates by hand)
#   tls/server.crt|.key|.p12  the brokers' certificate (one for every node)
#   tls/<user>.crt|.key       client certificate and key, CN=<user> (--mtls only)
#   users/<user>.password     the user's password, no trailing newline
#   users/<user>.properties   Java client settings for the user (SASL_SSL, SCRAM-SHA-512)
#   admin.properties          the same for admin (what `acl` uses as --command-config)
# shellcheck shell=bash

SECURE_USERS=${EQLSTREAM_KAFKA_SECURE_USERS:-admin processor producer reader}
MTLS_PORT=${EQLSTREAM_KAFKA_MTLS_PORT:-$((BROKER_PORT + 100))}
TOOLS_LIB=$KAFKA_HOME/$KAFKA_VERSION/tools-lib
TLS_DAYS=${EQLSTREAM_KAFKA_TLS_DAYS:-30}

mtls_port() { echo $((MTLS_PORT + 2 * ($1 - 1))); }

# secure_conf KEY: a value from $STATE/secure.conf (empty when not a secure cluster).
secure_conf() {
  [[ -f $STATE/secure.conf ]] || return 0
  sed -n "s/^$1=//p" "$STATE/secure.conf"
}

is_secure() { [[ $(secure_conf mode) == secure ]]; }
is_mtls() { [[ $(secure_conf mtls) == 1 ]]; }

secure_users() {
  local u out="admin"
  for u in $SECURE_USERS; do
    [[ $u =~ ^[A-Za-z0-9._-]+$ ]] || die "user name '$u' (EQLSTREAM_KAFKA_SECURE_USERS) must match [A-Za-z0-9._-]+"
    [[ $u == admin ]] || out+=" $u"
  done
  echo "$out"
}

password_of() { cat "$STATE/users/$1.password"; }

# ---------------------------------------------------------------- certificates and users

# make_secrets MTLS: CA, server certificate, keystore, users and their passwords.
make_secrets() {
  local mtls=$1 u
  (
    umask 077
    mkdir -p "$STATE/tls" "$STATE/users"
    cd "$STATE/tls"
    cat >openssl.cnf <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1${EXTRA_SANS:+, $EXTRA_SANS}
authorityKeyIdentifier = keyid
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
      -days "$TLS_DAYS" -config openssl.cnf -extensions ca -subj "/CN=eqlstream kafka-local CA" \
      -keyout ca.key -out ca.crt 2>/dev/null || die "openssl: CA"
    # sign NAME SECTION SUBJECT
    sign() {
      openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -config openssl.cnf \
        -subj "$3" -keyout "$1.key" -out "$1.csr" 2>/dev/null || die "openssl: $1 request"
      openssl x509 -req -sha256 -days "$TLS_DAYS" -in "$1.csr" -CA ca.crt -CAkey ca.key \
        -set_serial "0x$(openssl rand -hex 16)" -extfile openssl.cnf -extensions "$2" \
        -out "$1.crt" 2>/dev/null || die "openssl: signing $1"
      rm -f "$1.csr"
    }
    sign server server "/CN=localhost"
    openssl rand -hex 16 | tr -d '\n' >keystore.password
    openssl pkcs12 -export -in server.crt -inkey server.key -certfile ca.crt -name server \
      -out server.p12 -passout "file:keystore.password" || die "openssl: server.p12"
    for u in $(secure_users); do
      openssl rand -hex 16 | tr -d '\n' >"../users/$u.password"
      if ((mtls)); then sign "$u" client "/O=eqlstream/CN=$u"; fi
    done
    chmod 0644 ca.crt
    chmod 0755 .
  ) || die "generating the CA, certificates and passwords in $STATE failed"
  for u in $(secure_users); do
    write_client_properties "$u" >"$STATE/users/$u.properties"
  done
  cp "$STATE/users/admin.properties" "$STATE/admin.properties"
  chmod 0600 "$STATE"/users/*.properties "$STATE/admin.properties"
}

write_client_properties() {
  cat <<EOF
# Generated by kafka-local.sh: user $1 over SASL_SSL with SCRAM-SHA-512.
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$1" password="$(password_of "$1")";
ssl.truststore.type=PEM
ssl.truststore.location=${SECRETS_PATH:-$STATE}/tls/ca.crt
EOF
}

# scram_format_args: StorageTool arguments creating every user's SCRAM credentials.
scram_format_args() {
  local u p mech
  for u in $(secure_users); do
    p=$(password_of "$u")
    for mech in SCRAM-SHA-512 SCRAM-SHA-256; do
      printf '%s\n' --add-scram "$mech=[name=$u,password=$p]"
    done
  done
}

# secure_listener_props N: the listener and security part of node N's server.properties.
secure_listener_props() {
  local n=$1 listeners advertised map
  listeners="EXTERNAL://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")"
  advertised="EXTERNAL://127.0.0.1:$(broker_port "$n")"
  map="EXTERNAL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
  if is_mtls; then
    listeners+=",MTLS://127.0.0.1:$(mtls_port "$n")"
    advertised+=",MTLS://127.0.0.1:$(mtls_port "$n")"
    map+=",MTLS:SSL"
  fi
  cat <<EOF
listeners=$listeners
advertised.listeners=$advertised
inter.broker.listener.name=EXTERNAL
controller.listener.names=CONTROLLER
listener.security.protocol.map=$map
EOF
  secure_security_props
}

# secure_security_props: SASL, TLS and authorizer settings; files under
# SECRETS_PATH (default: the state dir).
secure_security_props() {
  local admin_pw plain_users u dir=${SECRETS_PATH:-$STATE}
  admin_pw=$(password_of admin)
  plain_users=""
  for u in $(secure_users); do
    plain_users+=" user_$u=\"$(password_of "$u")\""
  done
  cat <<EOF

# Security (kafka-local.sh up --secure): SASL_SSL for clients and brokers, PLAIN between
# brokers and controllers, deny by default, admin is the super user.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.external.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_pw"$plain_users;
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.external.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$admin_pw" user_admin="$admin_pw";
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/server.p12
ssl.keystore.password=$(cat "$STATE/tls/keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=$dir/tls/ca.crt
ssl.endpoint.identification.algorithm=https
listener.name.mtls.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^.*CN=([A-Za-z0-9._-]+).*$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
EOF
}

secure_bootstrap() {
  local count n out="" port_of=${1:-broker_port}
  count=$(node_count)
  for ((n = 1; n <= count; n++)); do
    out+="${out:+,}127.0.0.1:$($port_of "$n")"
  done
  echo "$out"
}

# secure_prepare COUNT MTLS: called by start_cluster after the state dir is made.
secure_prepare() {
  local count=$1 mtls=$2
  printf 'mode=secure\nmtls=%s\nusers=%s\n' "$mtls" "$(secure_users)" >"$STATE/secure.conf"
  make_secrets "$mtls"
  echo "$count" >"$STATE/nodes"
  secure_bootstrap >"$STATE/bootstrap"
  if ((mtls)); then secure_bootstrap mtls_port >"$STATE/bootstrap-mtls"; fi
}

# ---------------------------------------------------------------- commands

cmd_secure_env() {
  is_secure || die "the cluster in $STATE is not a secure one (run: $0 up --secure)"
  local u
  echo "export KAFKA_SECURE_BROKERS=$(cat "$STATE/bootstrap")"
  if is_mtls; then echo "export KAFKA_SECURE_MTLS_BROKERS=$(cat "$STATE/bootstrap-mtls")"; fi
  echo "export KAFKA_SECURE_DIR=$STATE"
  echo "export KAFKA_SECURE_CA=$STATE/tls/ca.crt"
  echo "export KAFKA_SECURE_ADMIN_CONFIG=$STATE/admin.properties"
  for u in $(secure_users); do
    printf '# user %s: --sasl-username %s --sasl-password-file %s' "$u" "$u" "$STATE/users/$u.password"
    if is_mtls; then printf ' (mTLS: --tls-cert %s --tls-key %s)' "$STATE/tls/$u.crt" "$STATE/tls/$u.key"; fi
    echo
  done
}

# cmd_compose_secrets DIR: the secrets of docker-compose.secure.yml (a CA, the broker's
# certificate for kafka, localhost and 127.0.0.1, users with passwords and client
# certificates), its broker configuration (server.properties, scram.args: the SCRAM
# users for kafka-storage.sh format) and admin.properties, with the paths the
# containers see (/etc/kafka/secure). Nothing is started.
cmd_compose_secrets() {
  local dir=${1:-}
  [[ -n $dir ]] || die "compose-secrets needs a directory, e.g. deployments/secure"
  command -v openssl >/dev/null || die "openssl not found"
  [[ ! -e $dir/tls/ca.crt ]] || die "$dir already holds secrets; remove it first to make new ones"
  mkdir -p "$dir"
  STATE=$(cd "$dir" && pwd)
  EXTRA_SANS="DNS:kafka" SECRETS_PATH=/etc/kafka/secure make_secrets 1
  SECRETS_PATH=/etc/kafka/secure
  local cid
  cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
  echo "$cid" >"$STATE/cluster.id"
  (
    umask 077
    cat >"$STATE/server.properties" <<EOF
# Generated by kafka-local.sh compose-secrets for docker-compose.secure.yml.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka:9094
listeners=EXTERNAL://:9093,CONTROLLER://:9094
advertised.listeners=EXTERNAL://kafka:9093
inter.broker.listener.name=EXTERNAL
controller.listener.names=CONTROLLER
listener.security.protocol.map=EXTERNAL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT
log.dirs=/tmp/kafka-data
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    secure_security_props >>"$STATE/server.properties"
    scram_format_args >"$STATE/scram.args"
  ) || die "writing the broker configuration into $STATE failed"
  log "secrets for docker-compose.secure.yml written to $STATE (never commit them)"
}

fetch_tools() {
  [[ -f $TOOLS_LIB/.complete ]] && return 0
  mvn_fetch "$TOOLS_LIB" "kafka-tools-$KAFKA_VERSION.jar" "$(dep org.apache.kafka kafka-tools "$KAFKA_VERSION")
$(dep org.apache.logging.log4j log4j-core "$LOG4J_VERSION")
$(dep org.apache.logging.log4j log4j-slf4j-impl "$LOG4J_VERSION")"
}

# cmd_acl ARGS...: org.apache.kafka.tools.AclCommand as admin against this cluster, e.g.
#   acl --add --allow-principal User:processor --operation Read --topic ecs-events
#   acl --remove --force --allow-principal User:processor --operation Read --topic ecs-events
#   acl --list
cmd_acl() {
  is_secure || die "the cluster in $STATE is not a secure one (run: $0 up --secure)"
  (($# > 0)) || die "acl needs AclCommand arguments, e.g. --list, or --add --allow-principal User:processor --operation Read --topic T"
  fetch_tools
  cat >"$STATE/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
  java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "-Dlog4j2.configurationFile=$STATE/tools-log4j2.properties" \
    -cp "$TOOLS_LIB/*" org.apache.kafka.tools.AclCommand \
    --bootstrap-server "$(cat "$STATE/bootstrap")" --command-config "$STATE/admin.properties" "$@"
}
