#!/usr/bin/env bash
# A real multi-node Apache Kafka cluster (KRaft) on this machine, from the same jars as kafka-up.sh:
# KAFKA_NODES (default 3) combined broker+controller nodes, a KAFKA_NODES-voter controller quorum,
# replication factor 3 and min.insync.replicas 2 for every topic including __consumer_offsets and
# __transaction_state (with fewer than 3 nodes: replication KAFKA_NODES, min ISR 1).
#
#   cluster.sh up                     start the nodes; returns once every one of them is registered
#                                     and answers metadata; a no-op when the cluster already runs
#   cluster.sh down                   stop every node (SIGKILL) and delete the cluster's data
#   cluster.sh stop-node ID [--kill]  stop node ID (SIGTERM: controlled shutdown; --kill: SIGKILL) and
#                                     keep its data; returns once its JVM has exited
#   cluster.sh start-node ID          start node ID again on its kept data; returns once it is
#                                     registered with the controller and answers metadata
#   cluster.sh status                 one line per node: id, client port, pid or 'stopped', data dir
#   cluster.sh env                    KAFKA_BROKERS=<every node> (what with-broker.sh exports)
#
# Node ID (1..KAFKA_NODES) listens for clients on 127.0.0.1:KAFKA_PORT+ID-1 and for the controller
# quorum on KAFKA_CONTROLLER_PORT+ID-1 (default KAFKA_CONTROLLER_PORT = KAFKA_PORT+KAFKA_NODES, so
# KAFKA_PORT=28092 takes 28092-28097). State: $KAFKA_CACHE/run/cluster-$KAFKA_PORT/ (cluster.env,
# node-ID/{server.properties,kafka.pid,server.log}); data: one mktemp dir with node-ID/ log dirs.
# KAFKA_NODES=3 with kafka-up.sh, kafka-down.sh or with-broker.sh runs this script. Other settings
# as in lib.sh; KAFKA_HEAP_OPTS defaults to -Xms64m -Xmx384m per node here.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kafka_check_port_number "$KAFKA_PORT" KAFKA_PORT
CLUSTER_RUN_DIR=$KAFKA_CACHE/run/cluster-$KAFKA_PORT
CLUSTER_STATE_FILE=$CLUSTER_RUN_DIR/cluster.env

cluster_lock() {
  mkdir -p "$CLUSTER_RUN_DIR"
  exec 9>"$CLUSTER_RUN_DIR/lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 180 9 || kafka_die "another cluster.sh for port $KAFKA_PORT holds $CLUSTER_RUN_DIR/lock"
  fi
}

# Reads cluster.env into CLUSTER_* variables; false when there is none.
cluster_read_state() {
  CLUSTER_NODES='' CLUSTER_VERSION='' CLUSTER_ID='' CLUSTER_CONTROLLER_PORT='' CLUSTER_DATA_DIR='' CLUSTER_HEAP_OPTS=''
  [ -f "$CLUSTER_STATE_FILE" ] || return 1
  # shellcheck disable=SC1090
  . "$CLUSTER_STATE_FILE"
}

node_dir() { echo "$CLUSTER_RUN_DIR/node-$1"; }
node_config() { echo "$CLUSTER_RUN_DIR/node-$1/server.properties"; }
node_port() { echo $((KAFKA_PORT + $1 - 1)); }
node_pid() { cat "$CLUSTER_RUN_DIR/node-$1/kafka.pid" 2>/dev/null || true; }
node_running() { kafka_pid_is_ours "$(node_pid "$1")" "$(node_config "$1")"; }

check_node_id() {
  case $1 in
    '' | *[!0-9]*) kafka_die "node id must be a number from 1 to $CLUSTER_NODES, got '$1'" ;;
  esac
  if [ "$1" -lt 1 ] || [ "$1" -gt "$CLUSTER_NODES" ]; then
    kafka_die "node id must be from 1 to $CLUSTER_NODES, got $1"
  fi
}

need_state() {
  cluster_read_state || kafka_die "no cluster started by cluster.sh on port $KAFKA_PORT (start one with 'KAFKA_PORT=$KAFKA_PORT cluster.sh up')"
}

brokers_list() {
  local id list=''
  for id in $(seq 1 "$CLUSTER_NODES"); do
    list+="${list:+,}$KAFKA_HOST:$(node_port "$id")"
  done
  echo "$list"
}

# The JVM of node $1, in its own session (like kafka-up.sh); writes its pid file and returns at once.
start_jvm() {
  local id=$1 dir
  dir=$(node_dir "$id")
  # shellcheck disable=SC2206
  local heap_opts=($CLUSTER_HEAP_OPTS)
  local jvm_opts=("${heap_opts[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Dkafka.logs.dir="$dir"
    -Dlog4j2.configurationFile="$KAFKA_SCRIPT_DIR/log4j2.properties"
    -Dlog4j.configuration="file:$KAFKA_SCRIPT_DIR/log4j.properties"
    -cp "$KAFKA_CACHE/$CLUSTER_VERSION/libs/*")
  [ ! -f "$dir/server.log" ] || mv -f "$dir/server.log" "$dir/server.log.prev"
  rm -f "$dir/kafka.pid"
  # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-broker "$dir/kafka.pid" \
    java "${jvm_opts[@]}" kafka.Kafka "$(node_config "$id")" >>"$dir/server.log" 2>&1 </dev/null 9>&- &
  local _
  for _ in $(seq 1 50); do
    [ -s "$dir/kafka.pid" ] && return 0
    sleep 0.1
  done
  kafka_die "node $id did not start; see $dir/server.log"
}

# Stops node $1 with signal $2 (TERM or KILL) and waits up to $3 s (then SIGKILL) for its JVM to exit.
stop_jvm() {
  local id=$1 signal=$2 timeout=$3 pid config deadline
  pid=$(node_pid "$id")
  config=$(node_config "$id")
  kafka_pid_is_ours "$pid" "$config" || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  deadline=$(($(date +%s) + timeout))
  while kafka_pid_is_ours "$pid" "$config"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "cluster: node $id (pid $pid) still running ${timeout}s after SIG$signal; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      local _
      for _ in $(seq 1 50); do
        kafka_pid_is_ours "$pid" "$config" || break
        sleep 0.1
      done
      break
    fi
    sleep 0.1
  done
  if kafka_pid_is_ours "$pid" "$config"; then kafka_die "node $id (pid $pid) did not exit"; fi
  rm -f "$(node_dir "$id")/kafka.pid"
}

log_tails() {
  local id
  for id in $(seq 1 "$CLUSTER_NODES"); do
    echo "    --- node $id: $(node_dir "$id")/server.log"
    tail -n 8 "$(node_dir "$id")/server.log" 2>/dev/null | sed 's/^/    /'
  done
}

elapsed_since() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

write_config() {
  local id=$1 voters=$2 rf=$3 min_isr=$4
  umask 077
  cat >"$(node_config "$id")" <<EOF
# Written by deploy/kafka/cluster.sh for Kafka $CLUSTER_VERSION (node $id of $CLUSTER_NODES).
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://$KAFKA_HOST:$(node_port "$id"),CONTROLLER://$KAFKA_HOST:$((CLUSTER_CONTROLLER_PORT + id - 1))
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$(node_port "$id")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$CLUSTER_DATA_DIR/node-$id

# Every topic, the group and transaction logs included, on $rf nodes; a write needs $min_isr in sync,
# so one node may die without stopping producers (acks=all) or transactions.
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
# Leader failover relies on Kafka's defaults (broker.session.timeout.ms=9000: a SIGKILLed node is
# fenced, and its partitions get new leaders, about 9 s after its last heartbeat).

# Small machine, shared with other work: $CLUSTER_NODES JVMs on 2 cores.
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
EOF
}

cmd_up() {
  cluster_lock
  if cluster_read_state; then
    local id running=0
    for id in $(seq 1 "$CLUSTER_NODES"); do
      if node_running "$id"; then running=$((running + 1)); fi
    done
    if [ "$running" = "$CLUSTER_NODES" ]; then
      kafka_say "Kafka $CLUSTER_VERSION cluster of $CLUSTER_NODES nodes already running on $(brokers_list); nothing to do"
      return 0
    fi
    [ "$running" = 0 ] ||
      kafka_die "the cluster on port $KAFKA_PORT runs $running of $CLUSTER_NODES nodes; start the others with 'cluster.sh start-node ID', or 'cluster.sh down' first"
    # Leftovers of a cluster whose nodes all died: start afresh.
    case $CLUSTER_DATA_DIR in
      */kafka-cluster.*) rm -rf -- "$CLUSTER_DATA_DIR" ;;
    esac
    rm -f "$CLUSTER_STATE_FILE"
  fi

  CLUSTER_NODES=${KAFKA_NODES:-3}
  case $CLUSTER_NODES in
    [1-9]) ;;
    *) kafka_die "KAFKA_NODES must be a number from 1 to 9, got '$CLUSTER_NODES'" ;;
  esac
  [ "${SECURE:-0}" = 0 ] || kafka_die "SECURE=1 is for the single-node broker (kafka-up.sh); the cluster listens in PLAINTEXT only"
  CLUSTER_VERSION=$KAFKA_VERSION
  CLUSTER_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + CLUSTER_NODES))}
  kafka_check_port_number "$CLUSTER_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
  CLUSTER_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms64m -Xmx384m}

  kafka_require_java
  command -v node >/dev/null 2>&1 || kafka_die "Node.js is needed for the readiness probe (deploy/kafka/probe.mjs), but no 'node' is on PATH"
  local id port
  for id in $(seq 1 "$CLUSTER_NODES"); do
    for port in "$(node_port "$id")" $((CLUSTER_CONTROLLER_PORT + id - 1)); do
      kafka_check_port_number "$port" "port of node $id"
      if kafka_port_busy "$port"; then
        kafka_die "port $port (node $id) on $KAFKA_HOST is already in use (stop what holds it, or set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
      fi
    done
  done
  kafka_ensure_libs

  CLUSTER_DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kafka-cluster.XXXXXXXX")
  CLUSTER_ID=''
  while [ -z "$CLUSTER_ID" ] || [ "${CLUSTER_ID:0:1}" = - ]; do
    CLUSTER_ID=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  done
  local voters='' rf min_isr
  for id in $(seq 1 "$CLUSTER_NODES"); do
    voters+="${voters:+,}$id@$KAFKA_HOST:$((CLUSTER_CONTROLLER_PORT + id - 1))"
  done
  rf=$((CLUSTER_NODES < 3 ? CLUSTER_NODES : 3))
  min_isr=$((rf >= 3 ? 2 : 1))
  for id in $(seq 1 "$CLUSTER_NODES"); do
    mkdir -p "$(node_dir "$id")"
    write_config "$id" "$voters" "$rf" "$min_isr"
  done
  cat >"$CLUSTER_STATE_FILE" <<EOF
CLUSTER_NODES=$CLUSTER_NODES
CLUSTER_VERSION=$CLUSTER_VERSION
CLUSTER_ID=$CLUSTER_ID
CLUSTER_CONTROLLER_PORT=$CLUSTER_CONTROLLER_PORT
CLUSTER_DATA_DIR=$CLUSTER_DATA_DIR
CLUSTER_HEAP_OPTS='$CLUSTER_HEAP_OPTS'
EOF

  local started_at
  started_at=$(date +%s.%N)
  # Format the nodes' log dirs side by side (one short JVM each, C1 only as in kafka-up.sh).
  local -a pids=()
  for id in $(seq 1 "$CLUSTER_NODES"); do
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$KAFKA_SCRIPT_DIR/log4j2.properties" \
      -cp "$KAFKA_CACHE/$CLUSTER_VERSION/libs/*" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$(node_config "$id")" \
      >"$(node_dir "$id")/format.log" 2>&1 &
    pids+=($!)
  done
  local failed=''
  for id in $(seq 1 "$CLUSTER_NODES"); do
    wait "${pids[$((id - 1))]}" || failed+=" $id"
  done
  if [ -n "$failed" ]; then
    rm -rf -- "$CLUSTER_DATA_DIR"
    rm -f "$CLUSTER_STATE_FILE"
    kafka_die "formatting the KRaft log dir of node(s)$failed failed; see $CLUSTER_RUN_DIR/node-*/format.log"
  fi

  local pid_list=''
  for id in $(seq 1 "$CLUSTER_NODES"); do
    start_jvm "$id"
    pid_list+="${pid_list:+,}$(node_pid "$id")"
  done

  local probe_out
  if ! probe_out=$(node --no-warnings "$KAFKA_SCRIPT_DIR/probe.mjs" --brokers "$(brokers_list)" --timeout "$KAFKA_START_TIMEOUT" \
    --pid "$pid_list" --expect-brokers "$CLUSTER_NODES" 2>&1); then
    for id in $(seq 1 "$CLUSTER_NODES"); do stop_jvm "$id" KILL 5 || true; done
    {
      echo "cluster: the $CLUSTER_NODES-node cluster did not become ready on $(brokers_list): ${probe_out:-no answer} (last log lines below)"
      log_tails
    } >&2
    rm -rf -- "$CLUSTER_DATA_DIR"
    rm -f "$CLUSTER_STATE_FILE"
    exit 1
  fi
  kafka_say "Kafka $CLUSTER_VERSION cluster of $CLUSTER_NODES nodes ready on $(brokers_list) in $(elapsed_since "$started_at")s (pids $pid_list; replication $rf, min ISR $min_isr; $probe_out; logs $CLUSTER_RUN_DIR/node-*/server.log)"
}

cmd_down() {
  cluster_lock
  if ! cluster_read_state; then
    kafka_say "no cluster started by cluster.sh on port $KAFKA_PORT; nothing to do"
    return 0
  fi
  local t0 id
  t0=$(date +%s.%N)
  local -a pids=()
  for id in $(seq 1 "$CLUSTER_NODES"); do
    # SIGKILL: the data is deleted right after, and a controlled shutdown of every node at once took
    # 6.9 s (the last nodes wait for a controller quorum that is going away).
    stop_jvm "$id" KILL 5 &
    pids+=($!)
  done
  local failed=''
  for id in $(seq 1 "$CLUSTER_NODES"); do
    wait "${pids[$((id - 1))]}" || failed+=" $id"
  done
  [ -z "$failed" ] || kafka_die "node(s)$failed did not exit; state kept in $CLUSTER_RUN_DIR"
  case $CLUSTER_DATA_DIR in
    */kafka-cluster.*) rm -rf -- "$CLUSTER_DATA_DIR" ;;
  esac
  rm -f "$CLUSTER_STATE_FILE"
  kafka_say "stopped the $CLUSTER_NODES-node cluster on $(brokers_list) in $(elapsed_since "$t0")s; removed ${CLUSTER_DATA_DIR:-no data dir}"
}

cmd_stop_node() {
  local id=${1:-} signal=TERM
  case ${2:-} in
    '') ;;
    --kill) signal=KILL ;;
    *) kafka_die "usage: cluster.sh stop-node ID [--kill]" ;;
  esac
  cluster_lock
  need_state
  check_node_id "$id"
  local pid t0
  pid=$(node_pid "$id")
  if ! node_running "$id"; then
    kafka_say "node $id (127.0.0.1:$(node_port "$id")) is not running; nothing to do"
    return 0
  fi
  t0=$(date +%s.%N)
  stop_jvm "$id" "$signal" "$KAFKA_STOP_TIMEOUT"
  kafka_say "node $id (127.0.0.1:$(node_port "$id"), pid $pid) stopped with SIG$signal in $(elapsed_since "$t0")s; its data is kept"
}

cmd_start_node() {
  local id=${1:-}
  cluster_lock
  need_state
  check_node_id "$id"
  if node_running "$id"; then
    kafka_say "node $id already running (pid $(node_pid "$id")); nothing to do"
    return 0
  fi
  local port
  for port in "$(node_port "$id")" $((CLUSTER_CONTROLLER_PORT + id - 1)); do
    if kafka_port_busy "$port"; then kafka_die "port $port of node $id is already in use"; fi
  done
  local t0 probe_out
  t0=$(date +%s.%N)
  start_jvm "$id"
  # Ready = this node answers metadata and the controller lists it as an unfenced broker again.
  if ! probe_out=$(node --no-warnings "$KAFKA_SCRIPT_DIR/probe.mjs" --brokers "$KAFKA_HOST:$(node_port "$id")" --timeout "$KAFKA_START_TIMEOUT" \
    --pid "$(node_pid "$id")" --expect-node "$id" 2>&1); then
    stop_jvm "$id" KILL 5 || true
    {
      echo "cluster: node $id did not come back on $KAFKA_HOST:$(node_port "$id"): ${probe_out:-no answer}; see $(node_dir "$id")/server.log (last lines below)"
      tail -n 15 "$(node_dir "$id")/server.log" 2>/dev/null | sed 's/^/    /'
    } >&2
    exit 1
  fi
  kafka_say "node $id back on $KAFKA_HOST:$(node_port "$id") in $(elapsed_since "$t0")s (pid $(node_pid "$id"); $probe_out)"
}

cmd_status() {
  need_state
  local id
  for id in $(seq 1 "$CLUSTER_NODES"); do
    if node_running "$id"; then
      echo "node $id $KAFKA_HOST:$(node_port "$id") pid $(node_pid "$id") $CLUSTER_DATA_DIR/node-$id"
    else
      echo "node $id $KAFKA_HOST:$(node_port "$id") stopped $CLUSTER_DATA_DIR/node-$id"
    fi
  done
}

cmd_env() {
  need_state
  echo "KAFKA_BROKERS=$(brokers_list)"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  stop-node) cmd_stop_node "${2:-}" "${3:-}" ;;
  start-node) cmd_start_node "${2:-}" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: cluster.sh up | down | stop-node ID [--kill] | start-node ID | status | env" >&2
    exit 2
    ;;
esac
