# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Shared settings and helpers for kafka-up.sh, kafka-down.sh and with-broker.sh (sourced, not run).
#
# Environment (all optional):
#   KAFKA_VERSION          Apache Kafka release fetched from Maven Central (default below)
#   KAFKA_PORT             client (PLAINTEXT) port on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default: KAFKA_PORT+1, or the next free one)
#   KAFKA_HEAP_OPTS        JVM heap flags (default -Xms256m -Xmx1g)
#   KAFKA_START_TIMEOUT    seconds kafka-up waits for the broker to answer metadata (default 90)
#   KAFKA_STOP_TIMEOUT     seconds kafka-down waits after SIGTERM before SIGKILL (default 30)
#   KAFKA_CACHE            where jars and run state live (default <repo>/.cache/kafka)
#   SECURE                 1: the client listener is SASL_SSL (TLS + SCRAM-SHA-512 and PLAIN) instead
#                          of PLAINTEXT; certificates and users are generated per broker (see README)
#   KAFKA_KEEP_DATA        1 on kafka-down: stop the broker but keep its data (and, with SECURE=1, its
#                          certificates and users) for the next kafka-up on that port
#
# Layout:
#   $KAFKA_CACHE/<version>/libs/      kafka_2.13 + runtime deps (+ an SLF4J binding), fetched once
#   $KAFKA_CACHE/run/<port>/          one running broker: server.properties, kafka.pid, broker.env, server.log
#   $KAFKA_CACHE/run/<port>/secure/   SECURE=1 only (mode 700): CA and broker certificate, the broker's key,
#                                     one password file per user (mode 600)
#
# SECURE=1 plugs in at kafka_listener_config (the SASL_SSL listener and its ssl.* / sasl.* settings),
# kafka_format_extra_args (--add-scram for its users) and kafka_client_env (what probe.mjs and
# with-broker export for clients).

KAFKA_DEFAULT_VERSION=4.4.0

KAFKA_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_REPO_ROOT=$(cd "$KAFKA_SCRIPT_DIR/../.." && pwd)

KAFKA_VERSION=${KAFKA_VERSION:-$KAFKA_DEFAULT_VERSION}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_HOST=127.0.0.1
KAFKA_CACHE=${KAFKA_CACHE:-$KAFKA_REPO_ROOT/.cache/kafka}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}

KAFKA_RUN_DIR=$KAFKA_CACHE/run/$KAFKA_PORT
KAFKA_PID_FILE=$KAFKA_RUN_DIR/kafka.pid
KAFKA_STATE_FILE=$KAFKA_RUN_DIR/broker.env
KAFKA_LOG_FILE=$KAFKA_RUN_DIR/server.log
KAFKA_CONFIG_FILE=$KAFKA_RUN_DIR/server.properties
KAFKA_SECURE_DIR=$KAFKA_RUN_DIR/secure
SECURE=${SECURE:-0}
KAFKA_KEEP_DATA=${KAFKA_KEEP_DATA:-0}
# SECURE=1: the user clients get from with-broker.sh, and the broker's own (inter-broker) user.
KAFKA_SASL_CLIENT_USER="scorer"
KAFKA_SASL_BROKER_USER="admin"

# Print one line on stderr, prefixed by the script's name, and exit non-zero.
kafka_die() {
  echo "$(basename "$0" .sh): $*" >&2
  exit 1
}

kafka_say() {
  echo "$(basename "$0" .sh): $*"
}

kafka_check_port_number() {
  case $1 in
    '' | *[!0-9]*) kafka_die "$2 must be a port number, got '$1'" ;;
  esac
  if [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
    kafka_die "$2 must be between 1 and 65535, got $1"
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
kafka_port_busy() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$KAFKA_HOST/$1" 2>/dev/null
}

# True when $1 is a live (non-zombie) process whose command line is a Kafka broker using $2 as config.
kafka_pid_is_ours() {
  local pid=$1 config=$2 state
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "kafka.Kafka $config" 2>/dev/null
}

# Reads the state file of a broker on KAFKA_PORT into BROKER_* variables; false when there is none.
kafka_read_state() {
  BROKER_PID='' BROKER_DATA_DIR='' BROKER_VERSION='' BROKER_CONTROLLER_PORT='' BROKER_CLUSTER_ID=''
  BROKER_SECURE=0 BROKER_KEPT=0
  [ -f "$KAFKA_STATE_FILE" ] || return 1
  # shellcheck disable=SC1090
  . "$KAFKA_STATE_FILE"
  [ -n "$BROKER_PID" ] || BROKER_PID=$(cat "$KAFKA_PID_FILE" 2>/dev/null || true)
  return 0
}

# True when a broker this tooling started is running on KAFKA_PORT (sets BROKER_* variables).
kafka_running() {
  kafka_read_state || return 1
  kafka_pid_is_ours "$BROKER_PID" "$KAFKA_CONFIG_FILE"
}

# Serialise kafka-up / kafka-down for one port.
kafka_lock() {
  mkdir -p "$KAFKA_RUN_DIR"
  exec 9>"$KAFKA_RUN_DIR/lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 180 9 || kafka_die "another kafka-up/kafka-down for port $KAFKA_PORT holds $KAFKA_RUN_DIR/lock"
  fi
}

# The first file matching a glob, as a bare name (empty when none), e.g. kafka_first_jar DIR 'slf4j-api-*.jar'.
kafka_first_jar() {
  local f
  for f in "$1"/$2; do
    [ -e "$f" ] && basename "$f" && return 0
  done
  return 0
}

# What clients need to reach the broker, one VAR=value a line (with-broker.sh exports them). A broker
# started with SECURE=1 (its state file says so) adds TLS and SASL/SCRAM-SHA-512 in the scorer's own
# variables; the password travels as a file name (KAFKA_SASL_PASSWORD_FILE), never as a value.
kafka_client_env() {
  echo "KAFKA_BROKERS=$KAFKA_HOST:$KAFKA_PORT"
  if [ "${BROKER_SECURE:-$SECURE}" = 1 ]; then
    echo "KAFKA_SSL=true"
    echo "KAFKA_SSL_CA_FILE=$KAFKA_SECURE_DIR/ca.pem"
    echo "KAFKA_SASL_MECHANISM=scram-sha-512"
    echo "KAFKA_SASL_USERNAME=$KAFKA_SASL_CLIENT_USER"
    echo "KAFKA_SASL_PASSWORD_FILE=$KAFKA_SECURE_DIR/$KAFKA_SASL_CLIENT_USER.password"
  fi
}

# Dies with one line unless 'java' on PATH is Java 17 or newer.
kafka_require_java() {
  command -v java >/dev/null 2>&1 || kafka_die "Java 17+ is needed to run Kafka, but no 'java' is on PATH"
  local java_version java_major
  java_version=$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n1)
  case $java_version in
    1.*) java_major=$(echo "$java_version" | cut -d. -f2) ;;
    *) java_major=${java_version%%[!0-9]*} ;;
  esac
  if [ -z "$java_major" ] || [ "$java_major" -lt 17 ]; then
    kafka_die "Java 17+ is needed to run Kafka, but '$(command -v java)' is Java ${java_version:-of unknown version}"
  fi
}

# Fetches kafka_2.13:$KAFKA_VERSION and its runtime dependencies from Maven Central once, into
# $KAFKA_CACHE/$KAFKA_VERSION/libs, and sets KAFKA_LIBS to that folder.
kafka_ensure_libs() {
  local version_dir=$KAFKA_CACHE/$KAFKA_VERSION
  KAFKA_LIBS=$version_dir/libs
  [ ! -f "$KAFKA_LIBS/.complete" ] || return 0
  command -v mvn >/dev/null 2>&1 ||
    kafka_die "Maven ('mvn') is needed to fetch Kafka $KAFKA_VERSION from Maven Central the first time, but it is not on PATH"
  kafka_say "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS (first start only)..."
  mkdir -p "$version_dir"
  local tmp_libs=$version_dir/libs.partial mvn_log=$version_dir/mvn.log log4j2_api slf4j_api
  local -a mvn_args binding
  rm -rf -- "$tmp_libs"
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
  rm -rf -- "$KAFKA_LIBS"
  mv "$tmp_libs" "$KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}
