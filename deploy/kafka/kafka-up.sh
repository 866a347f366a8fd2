#!/usr/bin/env bash
# Start a single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1:$KAFKA_PORT,
# from jars that Maven fetches once into .cache/kafka/$KAFKA_VERSION/libs. Returns once the broker
# answers a metadata request. Idempotent: does nothing when its broker already runs on that port.
# Settings: see lib.sh. Stop it with kafka-down.sh.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kafka_check_port_number "$KAFKA_PORT" KAFKA_PORT

kafka_lock

if kafka_running; then
  kafka_say "Kafka ${BROKER_VERSION:-?} already running on $KAFKA_HOST:$KAFKA_PORT (pid $BROKER_PID); nothing to do"
  exit 0
fi

# --- leftovers of a broker that died without kafka-down -----------------------------------------
if kafka_read_state; then
  case ${BROKER_DATA_DIR:-} in
    */kafka-data.*) rm -rf -- "$BROKER_DATA_DIR" ;;
  esac
fi
rm -f "$KAFKA_PID_FILE" "$KAFKA_STATE_FILE"

# --- prerequisites, each failing with one line --------------------------------------------------
command -v java >/dev/null 2>&1 || kafka_die "Java 17+ is needed to run Kafka, but no 'java' is on PATH"
java_version=$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n1)
case $java_version in
  1.*) java_major=$(echo "$java_version" | cut -d. -f2) ;;
  *) java_major=${java_version%%[!0-9]*} ;;
esac
if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
  kafka_die "Java 17+ is needed to run Kafka, but '$(command -v java)' is Java ${java_version:-of unknown version}"
fi

command -v node >/dev/null 2>&1 || kafka_die "Node.js is needed for the readiness probe (deploy/kafka/probe.mjs), but no 'node' is on PATH"

if kafka_port_busy "$KAFKA_PORT"; then
  kafka_die "port $KAFKA_PORT on $KAFKA_HOST is already in use (stop what holds it, or set KAFKA_PORT)"
fi

if [ -n "${KAFKA_CONTROLLER_PORT:-}" ]; then
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
version_dir=$KAFKA_CACHE/$KAFKA_VERSION
libs=$version_dir/libs
if [ ! -f "$libs/.complete" ]; then
  command -v mvn >/dev/null 2>&1 ||
    kafka_die "Maven ('mvn') is needed to fetch Kafka $KAFKA_VERSION from Maven Central the first time, but it is not on PATH"
  kafka_say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $libs (first start only)..."
  mkdir -p "$version_dir"
  tmp_libs=$version_dir/libs.partial
  rm -rf -- "$tmp_libs"
  mvn_log=$version_dir/mvn.log
  mvn_args=(-B -q -f "$KAFKA_SCRIPT_DIR/pom.xml" -Dkafka.version="$KAFKA_VERSION" -Dkafka.libs="$tmp_libs")
  mvn "${mvn_args[@]}" dependency:copy-dependencies >"$mvn_log" 2>&1 ||
    kafka_die "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is that a Kafka release?); see $mvn_log"
  [ -f "$tmp_libs/kafka_2.13-$KAFKA_VERSION.jar" ] ||
    kafka_die "Maven ran but $tmp_libs has no kafka_2.13-$KAFKA_VERSION.jar; see $mvn_log"
  # The POM names slf4j-api only; add the binding the release tarball would ship.
  log4j2_api=$(kafka_first_jar "$tmp_libs" 'log4j-api-2*.jar')
  if [ -n "$log4j2_api" ]; then
    binding=(-Plog4j2 -Dlog4j2.version="$(echo "$log4j2_api" | sed 's/^log4j-api-//; s/\.jar$//')")
  else
    slf4j_api=$(kafka_first_jar "$tmp_libs" 'slf4j-api-*.jar')
    [ -n "$slf4j_api" ] || kafka_die "no slf4j-api jar among Kafka $KAFKA_VERSION's dependencies; see $mvn_log"
    binding=(-Preload4j -Dslf4j.version="$(echo "$slf4j_api" | sed 's/^slf4j-api-//; s/\.jar$//')")
  fi
  mvn "${mvn_args[@]}" "${binding[@]}" dependency:copy-dependencies >>"$mvn_log" 2>&1 ||
    kafka_die "Maven could not fetch the logging binding (${binding[*]}) for Kafka $KAFKA_VERSION; see $mvn_log"
  rm -rf -- "$libs"
  mv "$tmp_libs" "$libs"
  touch "$libs/.complete"
fi

# --- configuration ------------------------------------------------------------------------------
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/kafka-data.XXXXXXXX")
mkdir -p "$KAFKA_RUN_DIR"

# Listeners: PLAINTEXT for clients, CONTROLLER for KRaft. SECURE=1 would add a SASL_SSL listener
# (and its ssl.* / sasl.* settings) here.
kafka_listener_config() {
  cat <<EOF
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$controller_port
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
EOF
}

# Extra arguments to 'StorageTool format' (SECURE=1 would add --add-scram for its test user).
kafka_format_extra_args() {
  :
}

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
cluster_id=
while [ -z "$cluster_id" ] || [ "${cluster_id:0:1}" = - ]; do
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
done

[ ! -f "$KAFKA_LOG_FILE" ] || mv -f "$KAFKA_LOG_FILE" "$KAFKA_LOG_FILE.prev"
started_at=$(date +%s.%N)

# shellcheck disable=SC2046
if ! java "${tool_opts[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONFIG_FILE" \
  $(kafka_format_extra_args) >"$KAFKA_LOG_FILE" 2>&1; then
  rm -rf -- "$data_dir"
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
EOF

# --- readiness: a real metadata request ---------------------------------------------------------
if ! probe_out=$(node "$KAFKA_SCRIPT_DIR/probe.mjs" --brokers "$KAFKA_HOST:$KAFKA_PORT" \
  --timeout "$KAFKA_START_TIMEOUT" --pid "$pid" 2>&1); then
  if kafka_pid_is_ours "$pid" "$KAFKA_CONFIG_FILE"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kafka_pid_is_ours "$pid" "$KAFKA_CONFIG_FILE" || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf -- "$data_dir"
  rm -f "$KAFKA_PID_FILE" "$KAFKA_STATE_FILE"
  {
    echo "kafka-up: Kafka $KAFKA_VERSION did not become ready on $KAFKA_HOST:$KAFKA_PORT: ${probe_out:-no answer}; see $KAFKA_LOG_FILE (last lines below)"
    tail -n 15 "$KAFKA_LOG_FILE" 2>/dev/null | sed 's/^/    /'
  } >&2
  exit 1
fi

elapsed=$(awk -v a="$started_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
kafka_say "Kafka $KAFKA_VERSION ready on $KAFKA_HOST:$KAFKA_PORT in ${elapsed}s (pid $pid, $probe_out; log $KAFKA_LOG_FILE)"
