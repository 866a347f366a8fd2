#!/usr/bin/env bash
# Start a single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1:$KAFKA_PORT,
# from jars that Maven fetches once into .cache/kafka/$KAFKA_VERSION/libs. Returns once the broker
# answers a metadata request. Idempotent: does nothing when its broker already runs on that port.
# SECURE=1: the client listener is SASL_SSL (TLS with a CA and certificate made here, SCRAM-SHA-512
# and PLAIN users made here); see README.md. After 'KAFKA_KEEP_DATA=1 kafka-down.sh' it starts on the
# kept data (same topics, offsets, cluster id, users and certificates) instead of a fresh dir.
# Settings: see lib.sh. Stop it with kafka-down.sh.
# KAFKA_NODES=N (N > 1): a cluster of N nodes instead (cluster.sh up).
set -euo pipefail

if [ "${KAFKA_NODES:-1}" != 1 ]; then
  exec bash "$(dirname "${BASH_SOURCE[0]}")/cluster.sh" up
fi

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kafka_check_port_number "$KAFKA_PORT" KAFKA_PORT

kafka_lock

if kafka_running; then
  kafka_say "Kafka ${BROKER_VERSION:-?} already running on $KAFKA_HOST:$KAFKA_PORT (pid $BROKER_PID); nothing to do"
  exit 0
fi

case $SECURE in
  0 | 1) ;;
  *) kafka_die "SECURE must be 0 or 1, got '$SECURE'" ;;
esac

# --- data kept by 'KAFKA_KEEP_DATA=1 kafka-down.sh', or leftovers of a broker that died ----------
reuse_dir='' reuse_cluster_id='' reuse_controller_port=''
if kafka_read_state; then
  if [ "${BROKER_KEPT:-0}" = 1 ] && [ -d "${BROKER_DATA_DIR:-}" ]; then
    if [ "${BROKER_SECURE:-0}" != "$SECURE" ]; then
      kafka_die "the data kept on port $KAFKA_PORT is from a SECURE=${BROKER_SECURE:-0} broker; start it with SECURE=${BROKER_SECURE:-0}, or remove it with kafka-down.sh"
    fi
    if [ "$KAFKA_VERSION" != "${BROKER_VERSION:-}" ]; then
      kafka_die "the data kept on port $KAFKA_PORT is from Kafka ${BROKER_VERSION:-?}; start it with KAFKA_VERSION=${BROKER_VERSION:-?}, or remove it with kafka-down.sh"
    fi
    reuse_dir=$BROKER_DATA_DIR reuse_cluster_id=$BROKER_CLUSTER_ID reuse_controller_port=$BROKER_CONTROLLER_PORT
  else
    case ${BROKER_DATA_DIR:-} in
      */kafka-data.*) rm -rf -- "$BROKER_DATA_DIR" ;;
    esac
  fi
fi
if [ -z "$reuse_dir" ]; then
  rm -f "$KAFKA_PID_FILE" "$KAFKA_STATE_FILE"
  rm -rf -- "$KAFKA_SECURE_DIR"
fi

# --- prerequisites, each failing with one line --------------------------------------------------
kafka_require_java
command -v node >/dev/null 2>&1 || kafka_die "Node.js is needed for the readiness probe (deploy/kafka/probe.mjs), but no 'node' is on PATH"

if kafka_port_busy "$KAFKA_PORT"; then
  kafka_die "port $KAFKA_PORT on $KAFKA_HOST is already in use (stop what holds it, or set KAFKA_PORT)"
fi

if [ -n "$reuse_controller_port" ]; then
  # The kept metadata log names this controller port as the quorum's voter: keep it.
  if kafka_port_busy "$reuse_controller_port"; then
    kafka_die "controller port $reuse_controller_port of the kept broker on $KAFKA_HOST is already in use; free it, or remove the kept data with kafka-down.sh"
  fi
  controller_port=$reuse_controller_port
elif [ -n "${KAFKA_CONTROLLER_PORT:-}" ]; then
  kafka_check_port_number "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
  if kafka_port_busy "$KAFKA_CONTROLLER_PORT"; then
    kafka_die "controller port $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is already in use (set KAFKA_CONTROLLER_PORT)"
  fi
  controller_port=$KAFKA_CONTROLLER_PORT
else
  controller_port=
  for candidate in $(seq $((KAFKA_PORT + 1)) $((KAFKA_PORT + 50))); do
    [ "$candidate" -le 65535 ] || break
    if ! kafka_port_busy "$candidate"; then
      controller_port=$candidate
      break
    fi
  done
  [ -n "$controller_port" ] || kafka_die "no free controller port in $((KAFKA_PORT + 1))-$((KAFKA_PORT + 50)); set KAFKA_CONTROLLER_PORT"
fi

# --- jars: fetched once per version -------------------------------------------------------------
kafka_ensure_libs
libs=$KAFKA_LIBS

# --- SECURE=1: a CA, the broker's certificate and two users, made fresh for each new data dir -----
# The CA's key signs one certificate and is deleted; nothing but this broker is ever signed by it.
# Passwords are random, one file per user (mode 600); clients get the file's name, not its content.
kafka_make_secrets() {
  command -v openssl >/dev/null 2>&1 || kafka_die "SECURE=1 needs 'openssl' to make the broker's certificate, but it is not on PATH"
  local d=$KAFKA_SECURE_DIR user
  rm -rf -- "$d"
  mkdir -p "$d"
  chmod 700 "$d"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sentiment-stream local Kafka CA (port $KAFKA_PORT)" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout "$d/ca.key" -out "$d/ca.pem" &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$KAFKA_HOST" -keyout "$d/broker.key" -out "$d/broker.csr" &&
      printf 'subjectAltName=IP:%s,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' "$KAFKA_HOST" >"$d/broker.ext" &&
      openssl x509 -req -days 30 -in "$d/broker.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
        -extfile "$d/broker.ext" -out "$d/broker.crt" &&
      cat "$d/broker.key" "$d/broker.crt" >"$d/broker-keystore.pem"
  ) >"$d/openssl.log" 2>&1 || kafka_die "openssl could not make the broker's certificate; see $d/openssl.log"
  rm -f -- "$d/ca.key" "$d/ca.srl" "$d/broker.csr" "$d/broker.ext" "$d/broker.key"
  for user in "$KAFKA_SASL_BROKER_USER" "$KAFKA_SASL_CLIENT_USER"; do
    (umask 077 && openssl rand -hex 24 >"$d/$user.password") || kafka_die "openssl could not make a password for '$user'"
  done
}

kafka_password() {
  cat "$KAFKA_SECURE_DIR/$1.password"
}

if [ "$SECURE" = 1 ]; then
  if [ -n "$reuse_dir" ]; then
    for f in ca.pem broker-keystore.pem "$KAFKA_SASL_BROKER_USER.password" "$KAFKA_SASL_CLIENT_USER.password"; do
      [ -s "$KAFKA_SECURE_DIR/$f" ] || kafka_die "the kept SECURE=1 broker on port $KAFKA_PORT lacks $KAFKA_SECURE_DIR/$f; remove it with kafka-down.sh"
    done
  else
    kafka_make_secrets
  fi
fi

# --- configuration ------------------------------------------------------------------------------
if [ -n "$reuse_dir" ]; then
  data_dir=$reuse_dir
else
  data_dir=$(mktemp -d "${TMPDIR:-/tmp}/kafka-data.XXXXXXXX")
fi
mkdir -p "$KAFKA_RUN_DIR"

# Listeners: PLAINTEXT for clients, CONTROLLER for KRaft. SECURE=1: the client listener is SASL_SSL
# instead (TLS, then SCRAM-SHA-512 or PLAIN), and the broker talks to itself over it as the admin
# user; the controller listener stays PLAINTEXT on 127.0.0.1 (KRaft's own, no client uses it).
kafka_listener_config() {
  if [ "$SECURE" != 1 ]; then
    cat <<EOF
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$controller_port
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
EOF
    return
  fi
  local admin_pw client_pw
  admin_pw=$(kafka_password "$KAFKA_SASL_BROKER_USER")
  client_pw=$(kafka_password "$KAFKA_SASL_CLIENT_USER")
  cat <<EOF
listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$controller_port
advertised.listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
controller.listener.names=CONTROLLER

# TLS: the certificate made by kafka-up (SAN IP:$KAFKA_HOST); no client certificates are asked for.
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SECURE_DIR/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_SECURE_DIR/ca.pem
ssl.client.auth=none
ssl.enabled.protocols=TLSv1.3,TLSv1.2

# SASL: SCRAM-SHA-512 users live in the metadata log (StorageTool format --add-scram); PLAIN users
# are listed here. Both mechanisms know the same two users with the same passwords.
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_SASL_BROKER_USER" password="$admin_pw";
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$KAFKA_SASL_BROKER_USER" password="$admin_pw" user_$KAFKA_SASL_BROKER_USER="$admin_pw" user_$KAFKA_SASL_CLIENT_USER="$client_pw";
EOF
}

# Extra arguments to 'StorageTool format', one a line (SECURE=1: --add-scram for each user).
kafka_format_extra_args() {
  [ "$SECURE" = 1 ] || return 0
  local user
  for user in "$KAFKA_SASL_BROKER_USER" "$KAFKA_SASL_CLIENT_USER"; do
    echo --add-scram
    echo "SCRAM-SHA-512=[name=$user,password=$(kafka_password "$user")]"
  done
}

# server.properties holds the PLAIN users' passwords with SECURE=1: only this user may read it.
umask 077
{
  cat <<EOF
# Written by deploy/kafka/kafka-up.sh for Kafka $KAFKA_VERSION; regenerated on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$controller_port
EOF
  kafka_listener_config
  cat <<EOF
log.dirs=$data_dir

# One node: everything replicated once. Exactly-once needs the transaction log to be writable.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true

# Small machine, shared with other work.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
} >"$KAFKA_CONFIG_FILE"

# Kafka 4.x logs with Log4j 2, 3.x with reload4j; pass both, each ignores the other's property.
# shellcheck disable=SC2206
heap_opts=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g})
common_opts=(
  -Djava.awt.headless=true
  -Dkafka.logs.dir="$KAFKA_RUN_DIR"
  -Dlog4j2.configurationFile="$KAFKA_SCRIPT_DIR/log4j2.properties"
  -Dlog4j.configuration="file:$KAFKA_SCRIPT_DIR/log4j.properties"
  -cp "$libs/*"
)
jvm_opts=("${heap_opts[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError "${common_opts[@]}")

# The one-shot format tool starts faster on a small heap with C1 only (about 1 s less).
tool_opts=(-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${common_opts[@]}")

# KRaft needs a formatted log dir with a cluster id (22 characters of URL-safe base64, no '-' first).
cluster_id=$reuse_cluster_id
while [ -z "$cluster_id" ] || [ "${cluster_id:0:1}" = - ]; do
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
done

[ ! -f "$KAFKA_LOG_FILE" ] || mv -f "$KAFKA_LOG_FILE" "$KAFKA_LOG_FILE.prev"
started_at=$(date +%s.%N)

mapfile -t format_extra_args < <(kafka_format_extra_args)
if [ -n "$reuse_dir" ]; then
  # Already formatted (with its SCRAM users in the metadata log): start on it as it is.
  : >"$KAFKA_LOG_FILE"
elif ! java "${tool_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONFIG_FILE" \
  "${format_extra_args[@]}" >"$KAFKA_LOG_FILE" 2>&1; then
  rm -rf -- "$data_dir" "$KAFKA_SECURE_DIR"
  kafka_die "formatting the KRaft log dir failed; see $KAFKA_LOG_FILE"
fi

# Own session (setsid) so a Ctrl-C in the caller's terminal does not reach the broker directly;
# the inner shell writes its pid and execs java, so the pid file names the JVM itself. 9>&- keeps
# the lock of kafka_lock out of the broker (else kafka-down would wait for the broker to exit).
# shellcheck disable=SC2016  # $$ and $@ are the inner shell's
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-broker "$KAFKA_PID_FILE" \
  java "${jvm_opts[@]}" kafka.Kafka "$KAFKA_CONFIG_FILE" >>"$KAFKA_LOG_FILE" 2>&1 </dev/null 9>&- &

for _ in $(seq 1 50); do
  [ -s "$KAFKA_PID_FILE" ] && break
  sleep 0.1
done
pid=$(cat "$KAFKA_PID_FILE" 2>/dev/null || true)
[ -n "$pid" ] || kafka_die "the broker did not start; see $KAFKA_LOG_FILE"

cat >"$KAFKA_STATE_FILE" <<EOF
BROKER_PID=$pid
BROKER_VERSION=$KAFKA_VERSION
BROKER_DATA_DIR=$data_dir
BROKER_CONTROLLER_PORT=$controller_port
BROKER_CLUSTER_ID=$cluster_id
BROKER_SECURE=$SECURE
EOF

# --- readiness: a real metadata request ---------------------------------------------------------
probe_args=(--brokers "$KAFKA_HOST:$KAFKA_PORT" --timeout "$KAFKA_START_TIMEOUT" --pid "$pid")
if [ "$SECURE" = 1 ]; then
  probe_args+=(--ssl-ca "$KAFKA_SECURE_DIR/ca.pem" --sasl-mechanism scram-sha-512 --sasl-username "$KAFKA_SASL_CLIENT_USER"
    --sasl-password-file "$KAFKA_SECURE_DIR/$KAFKA_SASL_CLIENT_USER.password")
fi
if ! probe_out=$(node --no-warnings "$KAFKA_SCRIPT_DIR/probe.mjs" "${probe_args[@]}" 2>&1); then
  if kafka_pid_is_ours "$pid" "$KAFKA_CONFIG_FILE"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kafka_pid_is_ours "$pid" "$KAFKA_CONFIG_FILE" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$reuse_dir" ]; then
    # Kept data stays kept: another kafka-up may succeed, and kafka-down still removes it.
    sed -i 's/^BROKER_PID=.*/BROKER_PID=/' "$KAFKA_STATE_FILE"
    echo BROKER_KEPT=1 >>"$KAFKA_STATE_FILE"
    rm -f "$KAFKA_PID_FILE"
  else
    rm -rf -- "$data_dir" "$KAFKA_SECURE_DIR"
    rm -f "$KAFKA_PID_FILE" "$KAFKA_STATE_FILE"
  fi
  {
    echo "kafka-up: Kafka $KAFKA_VERSION did not become ready on $KAFKA_HOST:$KAFKA_PORT: ${probe_out:-no answer}; see $KAFKA_LOG_FILE (last lines below)"
    tail -n 15 "$KAFKA_LOG_FILE" 2>/dev/null | sed 's/^/    /'
  } >&2
  exit 1
fi

elapsed=$(awk -v a="$started_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
extra=''
[ "$SECURE" != 1 ] || extra+="; SASL_SSL with SCRAM-SHA-512 and PLAIN, CA $KAFKA_SECURE_DIR/ca.pem"
[ -z "$reuse_dir" ] || extra+="; on the kept data dir $data_dir"
kafka_say "Kafka $KAFKA_VERSION ready on $KAFKA_HOST:$KAFKA_PORT in ${elapsed}s (pid $pid, $probe_out; log $KAFKA_LOG_FILE$extra)"
