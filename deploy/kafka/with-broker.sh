#!/usr/bin/env bash
# with-broker.sh CMD [ARGS...]
# Run CMD against a Kafka broker. With KAFKA_BROKERS set, CMD just runs with it. Otherwise a broker
# is started with kafka-up.sh (KAFKA_VERSION, KAFKA_PORT, ... pass through), KAFKA_BROKERS is
# exported as 127.0.0.1:$KAFKA_PORT, CMD runs, and the broker is stopped again whatever happens
# (failure, Ctrl-C, TERM). Exits with CMD's exit code. A broker that was already running on that
# port (a developer's 'make kafka-up') is used and left running. SECURE=1 starts a SASL_SSL broker and
# also exports KAFKA_SSL, KAFKA_SSL_CA_FILE, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and
# KAFKA_SASL_PASSWORD_FILE (the scorer's own variables; the password stays in its file).
# KAFKA_NODES=N (N > 1): a cluster of N nodes (cluster.sh) instead of one broker, with KAFKA_BROKERS
# listing every node; KAFKA_CLUSTER_PORT (= KAFKA_PORT) is exported so tests can find the cluster's
# state and stop or restart one node (test/support/cluster.ts).
# CMD runs in the foreground (it keeps the terminal, and Ctrl-C reaches it and this script alike);
# a TERM sent to this script alone stops the broker once CMD has exited.
set -uo pipefail

if [ $# -eq 0 ]; then
  echo "usage: with-broker.sh CMD [ARGS...]" >&2
  exit 2
fi

if [ -n "${KAFKA_BROKERS:-}" ]; then
  echo "with-broker: using KAFKA_BROKERS=$KAFKA_BROKERS"
  exec "$@"
fi

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${KAFKA_NODES:-1}" != 1 ]; then
  cluster=(bash "$KAFKA_SCRIPT_DIR/cluster.sh")
  cluster_started_here=
  # shellcheck disable=SC2317  # run by the traps
  stop_cluster() {
    local rc=$?
    trap - EXIT INT TERM HUP
    [ -z "$cluster_started_here" ] || "${cluster[@]}" down || true
    exit "$rc"
  }
  trap stop_cluster EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  if [ -f "$KAFKA_CACHE/run/cluster-$KAFKA_PORT/cluster.env" ] && "${cluster[@]}" status | grep -qv ' stopped '; then
    echo "with-broker: using the cluster already running on port $KAFKA_PORT; leaving it running"
    "${cluster[@]}" status
  else
    cluster_started_here=1
    "${cluster[@]}" up || exit $?
  fi
  while IFS= read -r assignment; do
    export "${assignment?}"
  done < <("${cluster[@]}" env)
  export KAFKA_CLUSTER_PORT=$KAFKA_PORT
  export KAFKA_BROKER_SOURCE="Apache Kafka $KAFKA_VERSION started by deploy/kafka (KRaft, $KAFKA_NODES nodes)"
  "$@"
  exit $?
fi

started_here=
# shellcheck disable=SC2317  # run by the traps
stop_broker() {
  local rc=$?
  trap - EXIT INT TERM HUP
  # kafka-up cleans up after a failed start itself; only a broker with state needs stopping.
  if [ -n "$started_here" ] && [ -f "$KAFKA_STATE_FILE" ]; then
    bash "$KAFKA_SCRIPT_DIR/kafka-down.sh" || true
  fi
  exit "$rc"
}
trap stop_broker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if kafka_running; then
  echo "with-broker: using the broker already running on $KAFKA_HOST:$KAFKA_PORT (Kafka ${BROKER_VERSION:-?}, pid $BROKER_PID); leaving it running"
else
  # Mark before starting: an interrupted start is cleaned up too (kafka-down is a no-op then).
  started_here=1
  bash "$KAFKA_SCRIPT_DIR/kafka-up.sh" || exit $?
  kafka_read_state || true
fi

# KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT (and, for a SECURE=1 broker, the client's TLS/SASL settings).
while IFS= read -r assignment; do
  export "${assignment?}"
done < <(kafka_client_env)
export KAFKA_BROKER_SOURCE="Apache Kafka ${BROKER_VERSION:-$KAFKA_VERSION} started by deploy/kafka (KRaft, single node)"
"$@"
exit $?
