#!/usr/bin/env bash
# Stop the broker that kafka-up.sh started on $KAFKA_PORT (by its pid file), wait for it to exit and
# remove its temporary data dir. A no-op when none runs.
# KAFKA_KEEP_DATA=1: stop it but keep its data dir (and SECURE=1 certificates and users); the next
# kafka-up.sh on that port starts on it again, like a broker coming back after an outage. A later
# plain kafka-down.sh removes kept data.
# KAFKA_NODES=N (N > 1): stop the cluster cluster.sh started on KAFKA_PORT (cluster.sh down).
set -euo pipefail

if [ "${KAFKA_NODES:-1}" != 1 ]; then
  exec bash "$(dirname "${BASH_SOURCE[0]}")/cluster.sh" down
fi

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kafka_check_port_number "$KAFKA_PORT" KAFKA_PORT
kafka_lock

if ! kafka_read_state; then
  kafka_say "no broker started by kafka-up on port $KAFKA_PORT; nothing to do"
  exit 0
fi

stopped=
if kafka_pid_is_ours "$BROKER_PID" "$KAFKA_CONFIG_FILE"; then
  t0=$(date +%s)
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  deadline=$((t0 + KAFKA_STOP_TIMEOUT))
  while kafka_pid_is_ours "$BROKER_PID" "$KAFKA_CONFIG_FILE"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "kafka-down: broker (pid $BROKER_PID) still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL" >&2
      kill -KILL "$BROKER_PID" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kafka_pid_is_ours "$BROKER_PID" "$KAFKA_CONFIG_FILE" || break
        sleep 0.1
      done
      break
    fi
    sleep 0.2
  done
  if kafka_pid_is_ours "$BROKER_PID" "$KAFKA_CONFIG_FILE"; then
    kafka_die "broker (pid $BROKER_PID) did not exit; state kept in $KAFKA_RUN_DIR"
  fi
  stopped="stopped Kafka ${BROKER_VERSION:-?} on $KAFKA_HOST:$KAFKA_PORT (pid $BROKER_PID) in $(($(date +%s) - t0))s"
elif [ "${BROKER_KEPT:-0}" = 1 ]; then
  stopped="broker on port $KAFKA_PORT was already stopped (its data kept)"
else
  stopped="broker on port $KAFKA_PORT (pid ${BROKER_PID:-?}) was no longer running"
fi

if [ "$KAFKA_KEEP_DATA" = 1 ] && [ -d "${BROKER_DATA_DIR:-}" ]; then
  # The state file stays, without a pid and marked kept, so kafka-up finds the data dir again.
  sed -i 's/^BROKER_PID=.*/BROKER_PID=/; /^BROKER_KEPT=/d' "$KAFKA_STATE_FILE"
  echo BROKER_KEPT=1 >>"$KAFKA_STATE_FILE"
  rm -f "$KAFKA_PID_FILE"
  kafka_say "$stopped; kept $BROKER_DATA_DIR for the next kafka-up on port $KAFKA_PORT (KAFKA_KEEP_DATA=1)"
  exit 0
fi

# Only ever remove a data dir that kafka-up made with mktemp.
case ${BROKER_DATA_DIR:-} in
  */kafka-data.*) rm -rf -- "$BROKER_DATA_DIR" ;;
esac
rm -f "$KAFKA_PID_FILE" "$KAFKA_STATE_FILE"
rm -rf -- "$KAFKA_SECURE_DIR"
kafka_say "$stopped; removed ${BROKER_DATA_DIR:-no data dir}"
