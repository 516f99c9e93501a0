#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one combined broker+controller) for dev, tests and CI.
#
#   scripts/kafka.sh start    # reuse a reachable broker, else assemble + format + start one
#   scripts/kafka.sh stop     # SIGTERM the broker this checkout started (pid file), if any
#   scripts/kafka.sh status   # exit 0 when a broker answers a Metadata request
#   scripts/kafka.sh fetch    # only assemble the server jars into .cache/kafka-<version>/lib
#   scripts/kafka.sh cluster start|stop|status|kill N|start-node N|...  # 3 nodes: scripts/kafka-cluster.sh
#   scripts/kafka.sh secure start|stop|status|env   # SASL_SSL/SCRAM broker: scripts/kafka-secure.sh
#
# The server is Apache Kafka's own (org.apache.kafka:kafka_2.13 from Maven Central,
# see scripts/kafka/pom.xml). Listens on 127.0.0.1:9092, controller on 127.0.0.1:9093
# (KAFKA_LOCAL_PORT / KAFKA_LOCAL_CONTROLLER_PORT change them).
# State: .run/kafka/{data,broker.log,kafka.pid,server.properties}.
# Env: KAFKA_LOCAL_PORT, KAFKA_VERSION (default below), KAFKA_HEAP_OPTS, KAFKA_BOOTSTRAP_SERVERS
# (when it names anything but the local default and answers, nothing is started).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_HOME="${CACHE_DIR}/kafka-${KAFKA_VERSION}"
KAFKA_LIB="${KAFKA_HOME}/lib"
KAFKA_RUN="${RUN_DIR}/kafka"
PIDFILE="${KAFKA_RUN}/kafka.pid"
LOGFILE="${KAFKA_RUN}/broker.log"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"

is_local_default() {
    case "${1:-}" in
        "" | "localhost:${KAFKA_LOCAL_PORT}" | "127.0.0.1:${KAFKA_LOCAL_PORT}") return 0 ;;
        "kafka://localhost:${KAFKA_LOCAL_PORT}" | "kafka://127.0.0.1:${KAFKA_LOCAL_PORT}") return 0 ;;
        *) return 1 ;;
    esac
}

probe() { "$PY" "${ROOT}/scripts/probe.py" kafka "$@" 2>/dev/null; }

fetch() {
    if [[ -f "${KAFKA_HOME}/.complete" ]]; then
        return 0
    fi
    command -v java >/dev/null || die "java not found: install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)"
    command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven)"
    log "assembling Apache Kafka ${KAFKA_VERSION} from Maven Central into ${KAFKA_LIB}"
    rm -rf "${KAFKA_LIB}"
    mkdir -p "${KAFKA_LIB}"
    mvn -B -ntp -f "${ROOT}/scripts/kafka/pom.xml" \
        -Dkafka.version="${KAFKA_VERSION}" -Dkafka.lib="${KAFKA_LIB}" package \
        >"${KAFKA_HOME}/maven.log" 2>&1 \
        || { tail -n 40 "${KAFKA_HOME}/maven.log" >&2; die "maven could not assemble kafka_2.13:${KAFKA_VERSION} (log: ${KAFKA_HOME}/maven.log)"; }
    ls "${KAFKA_LIB}"/kafka_2.13-"${KAFKA_VERSION}".jar >/dev/null \
        || die "kafka_2.13-${KAFKA_VERSION}.jar missing after maven ran"
    touch "${KAFKA_HOME}/.complete"
}

write_properties() {
    mkdir -p "${KAFKA_RUN}/data"
    cat >"${KAFKA_RUN}/server.properties" <<PROPS
# Written by scripts/kafka.sh: a single combined KRaft node for dev/tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${KAFKA_LOCAL_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_LOCAL_PORT},CONTROLLER://127.0.0.1:${KAFKA_LOCAL_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_LOCAL_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${KAFKA_RUN}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
log.cleaner.dedupe.buffer.size=16777216
PROPS
}

format_storage() {
    local stamp="${KAFKA_RUN}/data/.formatted-by"
    if [[ -f "${KAFKA_RUN}/data/meta.properties" && "$(cat "$stamp" 2>/dev/null)" == "${KAFKA_VERSION}" ]]; then
        return 0
    fi
    # Dev data only: a directory formatted by another Kafka version is started afresh.
    rm -rf "${KAFKA_RUN}/data"
    write_properties
    local cluster_id
    cluster_id="$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
    log "formatting KRaft storage (cluster ${cluster_id})"
    java -Xmx256m -cp "${KAFKA_LIB}/*" \
        -Dlog4j2.configurationFile="${ROOT}/scripts/log4j2.properties" -Dkafka.logs.dir="${KAFKA_RUN}" \
        kafka.tools.StorageTool format -t "${cluster_id}" -c "${KAFKA_RUN}/server.properties" \
        >"${KAFKA_RUN}/format.log" 2>&1 \
        || { cat "${KAFKA_RUN}/format.log" >&2; die "kafka storage format failed"; }
    echo "${KAFKA_VERSION}" >"$stamp"
}

start() {
    # Step 1: a broker configured elsewhere is used as it is, never replaced.
    if ! is_local_default "${KAFKA_BOOTSTRAP_SERVERS:-}"; then
        if probe "${KAFKA_BOOTSTRAP_SERVERS}" --timeout 10; then
            log "using the configured broker at ${KAFKA_BOOTSTRAP_SERVERS}; nothing started"
            return 0
        fi
        die "KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS} does not answer; unset it to start a local broker"
    fi
    mkdir -p "${KAFKA_RUN}"
    exec 9>"${KAFKA_RUN}/.lock"
    flock -w 300 9 || die "another scripts/kafka.sh holds ${KAFKA_RUN}/.lock"

    # Step 2: a broker already answering on the local port (ours or anyone's) is reused.
    if probe "${DEFAULT_KAFKA}" --timeout 3 >/dev/null; then
        log "reusing the broker already running at ${DEFAULT_KAFKA}"
        return 0
    fi
    if pid_alive "$PIDFILE"; then
        local our_port
        our_port="$(cat "${KAFKA_RUN}/kafka.port" 2>/dev/null || echo 9092)"
        if [[ "$our_port" != "${KAFKA_LOCAL_PORT}" ]]; then
            die "this checkout's broker (pid $(cat "$PIDFILE")) listens on port ${our_port}, not ${KAFKA_LOCAL_PORT}; run 'make down' first"
        fi
        log "our broker (pid $(cat "$PIDFILE")) is starting; waiting"
    else
        # Another checkout may be starting a broker right now: give it time to answer.
        if port_open 127.0.0.1 "${KAFKA_LOCAL_PORT}"; then
            log "port ${KAFKA_LOCAL_PORT} is open but Kafka does not answer yet; waiting up to 60s"
            local until_ready=$((SECONDS + 60))
            while ((SECONDS < until_ready)); do
                if probe "${DEFAULT_KAFKA}" --timeout 3 >/dev/null; then
                    log "reusing the broker that came up at ${DEFAULT_KAFKA}"
                    return 0
                fi
                sleep 1
            done
        fi
        for port in "${KAFKA_LOCAL_PORT}" "${KAFKA_LOCAL_CONTROLLER_PORT}"; do
            if port_open 127.0.0.1 "$port"; then
                die "port ${port} is taken by something that is not a ready Kafka broker (see: ss -ltnp 'sport = :${port}'; or set KAFKA_LOCAL_PORT)"
            fi
        done
        # Step 3: assemble, format, start in the background with output in broker.log.
        fetch
        write_properties
        format_storage
        write_properties
        log "starting Apache Kafka ${KAFKA_VERSION} (log: ${LOGFILE})"
        # shellcheck disable=SC2086
        setsid nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m} \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
            -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="${ROOT}/scripts/log4j2.properties" \
            -Dkafka.logs.dir="${KAFKA_RUN}" \
            -cp "${KAFKA_LIB}/*" kafka.Kafka "${KAFKA_RUN}/server.properties" \
            </dev/null >"${KAFKA_RUN}/stdout.log" 2>&1 9>&- &
        echo $! >"$PIDFILE"
        echo "${KAFKA_LOCAL_PORT}" >"${KAFKA_RUN}/kafka.port"
    fi

    # Step 4: ready means a Metadata request is answered, not merely an open port.
    local deadline=$((SECONDS + START_TIMEOUT))
    until probe "${DEFAULT_KAFKA}" --timeout 3 >/dev/null; do
        if ! pid_alive "$PIDFILE"; then
            tail -n 40 "$LOGFILE" "${KAFKA_RUN}/stdout.log" >&2 2>/dev/null || true
            rm -f "$PIDFILE"
            die "the broker exited during start-up (log above, full log: ${LOGFILE})"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 40 "$LOGFILE" >&2 2>/dev/null || true
            die "the broker did not answer within ${START_TIMEOUT}s (log: ${LOGFILE})"
        fi
        sleep 0.5
    done
    log "Apache Kafka ${KAFKA_VERSION} ready at ${DEFAULT_KAFKA} (pid $(cat "$PIDFILE"))"
}

case "${1:-}" in
    start) start ;;
    stop) stop_pidfile kafka "$PIDFILE" kafka.Kafka ;;
    status) probe "${KAFKA_BOOTSTRAP_SERVERS:-${DEFAULT_KAFKA}}" --timeout 3 ;;
    fetch) fetch ;;
    cluster) shift; KAFKA_VERSION="${KAFKA_VERSION}" exec bash "${ROOT}/scripts/kafka-cluster.sh" "$@" ;;
    secure) shift; KAFKA_VERSION="${KAFKA_VERSION}" exec bash "${ROOT}/scripts/kafka-secure.sh" "$@" ;;
    *) echo "usage: $0 start|stop|status|fetch|cluster ...|secure ..." >&2; exit 2 ;;
esac
