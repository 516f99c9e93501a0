#!/usr/bin/env bash
# A local 3-node Apache Kafka cluster (KRaft) for replication and failure tests.
#
#   scripts/kafka.sh cluster start          # start the nodes not running; ready = Metadata lists 3 brokers
#   scripts/kafka.sh cluster stop [--wipe]  # SIGTERM the nodes this checkout started; --wipe deletes their data
#   scripts/kafka.sh cluster status         # each node's state; exit 0 when Metadata lists all 3 brokers
#   scripts/kafka.sh cluster kill N         # SIGKILL node N (a crash)
#   scripts/kafka.sh cluster stop-node N    # SIGTERM node N (a clean shutdown)
#   scripts/kafka.sh cluster start-node N   # start node N again; ready = it answers and is listed
#   scripts/kafka.sh cluster restart        # stop all, start all (data kept)
#   scripts/kafka.sh cluster env            # the variables an app needs to use the cluster
#
# Three combined broker+controller nodes of the same Apache Kafka that scripts/kafka.sh
# runs (the jars in .cache/kafka-<version>/lib) with a static quorum of the three
# controllers. Broker N listens on 127.0.0.1:$((KAFKA_CLUSTER_PORT + N - 1)) (default
# 19192..19194), its controller on 127.0.0.1:$((KAFKA_CLUSTER_CONTROLLER_PORT + N - 1))
# (19292..19294). Defaults fit RF 3: default.replication.factor=3, min.insync.replicas=2,
# internal topics RF 3 / min ISR 2, auto.create.topics.enable=false.
# State: .run/kafka-cluster/{cluster.id,node-N/{data,server.properties,broker.log,kafka.pid}}.
# Env: KAFKA_CLUSTER_PORT (19192), KAFKA_CLUSTER_CONTROLLER_PORT (19292),
# KAFKA_CLUSTER_HEAP_OPTS (-Xms128m -Xmx384m, per node), KAFKA_CLUSTER_PARTITIONS (3),
# KAFKA_VERSION, KAFKA_START_TIMEOUT (120 s), KAFKA_STOP_TIMEOUT (40 s).
# The single dev broker (9092) is never started, stopped or read by this script.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/kafka-node.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka-node.sh"

NODES=(1 2 3)
BROKER_BASE="${KAFKA_CLUSTER_PORT:-19192}"
CONTROLLER_BASE="${KAFKA_CLUSTER_CONTROLLER_PORT:-19292}"
HEAP="${KAFKA_CLUSTER_HEAP_OPTS:--Xms128m -Xmx384m}"
PARTITIONS="${KAFKA_CLUSTER_PARTITIONS:-3}"
CLUSTER_RUN="${RUN_DIR}/kafka-cluster"
NAME="kafka cluster"
PORT_HINT="KAFKA_CLUSTER_PORT / KAFKA_CLUSTER_CONTROLLER_PORT"

broker_port() { echo $((BROKER_BASE + $1 - 1)); }
controller_port() { echo $((CONTROLLER_BASE + $1 - 1)); }
node_dir() { echo "${CLUSTER_RUN}/node-$1"; }

bootstrap() {
    local n out=()
    for n in "${NODES[@]}"; do
        out+=("127.0.0.1:$(broker_port "$n")")
    done
    local IFS=,
    echo "${out[*]}"
}

voters() {
    local n out=()
    for n in "${NODES[@]}"; do
        out+=("${n}@127.0.0.1:$(controller_port "$n")")
    done
    local IFS=,
    echo "${out[*]}"
}

all_dirs() {
    local n
    for n in "${NODES[@]}"; do
        node_dir "$n"
    done
}

check_node() {
    [[ "${1:-}" =~ ^[123]$ ]] || die "usage: $0 kill|stop-node|start-node N (N = 1, 2 or 3)"
}

lock() {
    mkdir -p "${CLUSTER_RUN}"
    exec 9>"${CLUSTER_RUN}/.lock"
    flock -w 300 9 || die "another scripts/kafka-cluster.sh holds ${CLUSTER_RUN}/.lock"
}

write_properties() {
    local n="$1" dir
    dir="$(node_dir "$n")"
    mkdir -p "${dir}/data"
    cat >"${dir}/server.properties" <<PROPS
# Written by scripts/kafka-cluster.sh: node ${n} of a 3-node KRaft cluster for tests.
process.roles=broker,controller
node.id=${n}
controller.quorum.voters=$(voters)
listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n"),CONTROLLER://127.0.0.1:$(controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(broker_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dir}/data
num.partitions=${PARTITIONS}
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
unclean.leader.election.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=3
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
log.segment.bytes=33554432
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
PROPS
}

# The port layout the data was formatted for; a different one needs `stop --wipe`.
layout() { echo "brokers=$(bootstrap) voters=$(voters)"; }

prepare() {
    node_fetch
    local n dir fresh=1
    for n in "${NODES[@]}"; do
        node_formatted "$(node_dir "$n")" && fresh=0
    done
    if ((fresh)) || [[ ! -s "${CLUSTER_RUN}/cluster.id" ]]; then
        # Dev data only: nothing formatted by this Kafka version, so all nodes start afresh.
        local d
        while read -r d; do
            rm -rf "${d}/data"
        done < <(all_dirs)
        new_cluster_id >"${CLUSTER_RUN}/cluster.id"
        layout >"${CLUSTER_RUN}/layout"
    fi
    local recorded
    recorded="$(cat "${CLUSTER_RUN}/layout" 2>/dev/null || true)"
    if [[ "$recorded" != "$(layout)" ]]; then
        die "${NAME}: the data under ${CLUSTER_RUN} was formatted for ${recorded:-another layout}, not $(layout); run '$0 stop --wipe' first"
    fi
    for n in "${NODES[@]}"; do
        dir="$(node_dir "$n")"
        write_properties "$n"
        if ! node_formatted "$dir"; then
            log "${NAME}: formatting node ${n} (cluster $(cat "${CLUSTER_RUN}/cluster.id"))"
            rm -rf "${dir}/data"
            mkdir -p "${dir}/data"
            node_format "$dir" "$(cat "${CLUSTER_RUN}/cluster.id")"
        fi
    done
}

# launch N: start node N unless it is running (ours); its ports must be free.
launch() {
    local n="$1" dir
    dir="$(node_dir "$n")"
    if node_ours "$dir"; then
        log "${NAME}: node ${n} already running (pid $(cat "${dir}/kafka.pid"))"
        return 0
    fi
    ports_free "${NAME} node ${n}" "$PORT_HINT" "$(broker_port "$n")" "$(controller_port "$n")"
    node_launch "$dir" "$HEAP"
    log "${NAME}: started node ${n} (pid $(cat "${dir}/kafka.pid"), 127.0.0.1:$(broker_port "$n"), log: ${dir}/broker.log)"
}

running_nodes() {
    local n count=0
    for n in "${NODES[@]}"; do
        if node_ours "$(node_dir "$n")"; then
            count=$((count + 1))
        fi
    done
    echo "$count"
}

# listed BOOTSTRAP -> the number of brokers a Metadata answer from BOOTSTRAP lists (0: none).
listed() {
    local verdict
    verdict="$(node_probe "$1" KAFKA_SECURITY_PROTOCOL=PLAINTEXT || true)"
    if [[ "$verdict" =~ ready:\ ([0-9]+)\ broker ]]; then
        echo "${BASH_REMATCH[1]}"
    else
        echo 0
    fi
}

# wait_listed BOOTSTRAP WANT NODE...: until a Metadata answer from BOOTSTRAP lists WANT
# brokers; fail early when one of the NODEs exits.
wait_listed() {
    local where="$1" want="$2" n
    shift 2
    local deadline=$((SECONDS + START_TIMEOUT))
    while (($(listed "$where") < want)); do
        for n in "$@"; do
            node_ours "$(node_dir "$n")" || node_failed "$(node_dir "$n")" "${NAME}" "node ${n} exited during start-up"
        done
        ((SECONDS < deadline)) || node_failed "$(node_dir "$1")" "${NAME}" \
            "Metadata from ${where} did not list ${want} brokers within ${START_TIMEOUT}s"
        sleep 0.5
    done
}

start_all() {
    lock
    prepare
    local n started=$SECONDS
    # Every missing node's ports first: start all of them or none.
    for n in "${NODES[@]}"; do
        node_ours "$(node_dir "$n")" \
            || ports_free "${NAME} node ${n}" "$PORT_HINT" "$(broker_port "$n")" "$(controller_port "$n")"
    done
    for n in "${NODES[@]}"; do
        launch "$n"
    done
    wait_listed "$(bootstrap)" "${#NODES[@]}" "${NODES[@]}"
    log "${NAME}: ready at $(bootstrap) (3 brokers listed, $((SECONDS - started)) s)"
}

start_node() {
    local n="$1"
    check_node "$n"
    lock
    prepare
    launch "$n"
    # Ready: the node itself answers, and its metadata lists every node that is running
    # (a broker answers only after it has caught up with the metadata log).
    wait_listed "127.0.0.1:$(broker_port "$n")" "$(running_nodes)" "$n"
    log "${NAME}: node ${n} ready at 127.0.0.1:$(broker_port "$n")"
}

stop_all() {
    local wipe=0
    case "${1:-}" in
        "") ;;
        --wipe) wipe=1 ;;
        *) die "usage: $0 stop [--wipe]" ;;
    esac
    [[ -d "${CLUSTER_RUN}" ]] || { log "${NAME}: never started in this checkout; nothing to stop"; return 0; }
    lock
    local -a dirs
    mapfile -t dirs < <(all_dirs)
    node_stop "${NAME}" "${dirs[@]}"
    if ((wipe)); then
        local d
        for d in "${dirs[@]}"; do
            rm -rf "$d"
        done
        rm -f "${CLUSTER_RUN}/cluster.id" "${CLUSTER_RUN}/layout"
        log "${NAME}: data wiped (${CLUSTER_RUN})"
    fi
}

status() {
    local n dir
    for n in "${NODES[@]}"; do
        dir="$(node_dir "$n")"
        if node_ours "$dir"; then
            echo "node ${n}: running (pid $(cat "${dir}/kafka.pid")) broker 127.0.0.1:$(broker_port "$n") controller 127.0.0.1:$(controller_port "$n")"
        else
            echo "node ${n}: stopped"
        fi
    done
    local count
    count="$(listed "$(bootstrap)")"
    echo "metadata from $(bootstrap): ${count} broker(s) listed"
    ((count == ${#NODES[@]}))
}

print_env() {
    echo "KAFKA_BOOTSTRAP_SERVERS=$(bootstrap)"
    echo "ASSETSTREAM_REPLICATION_FACTOR=3"
    echo "ASSETSTREAM_MIN_INSYNC_REPLICAS=2"
}

case "${1:-}" in
    start) start_all ;;
    stop) stop_all "${2:-}" ;;
    status) status ;;
    kill)
        check_node "${2:-}"
        lock
        node_kill "$(node_dir "$2")" "${NAME} node $2"
        ;;
    stop-node)
        check_node "${2:-}"
        lock
        node_stop "${NAME}" "$(node_dir "$2")"
        ;;
    start-node) start_node "${2:-}" ;;
    restart)
        stop_all
        start_all
        ;;
    env) print_env ;;
    *)
        echo "usage: $0 start|stop [--wipe]|status|kill N|stop-node N|start-node N|restart|env" >&2
        exit 2
        ;;
esac
