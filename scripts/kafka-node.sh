# shellcheck shell=bash
# Helpers shared by scripts/kafka-cluster.sh and scripts/kafka-secure.sh: one Apache
# Kafka node (the same jars scripts/kafka.sh assembles) formatted and started from a
# properties file, with its own pid file and logs. Source it after common.sh.
#
# The single dev broker (scripts/kafka.sh start, 127.0.0.1:9092) is never touched here:
# every function works on the directory and pid file it is given.

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_LIB="${CACHE_DIR}/kafka-${KAFKA_VERSION}/lib"
# shellcheck disable=SC2034  # read by the scripts that source this file
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"

# The jars: scripts/kafka.sh fetch is a no-op once .cache/kafka-<version> is complete.
node_fetch() {
    bash "${ROOT}/scripts/kafka.sh" fetch
}

# new_cluster_id -> a random KRaft cluster id (16 random bytes, url-safe base64).
new_cluster_id() {
    python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))'
}

# node_format DIR CLUSTER_ID [StorageTool args...]: format DIR/data from DIR/server.properties
# (the properties must name DIR/data in log.dirs). Output in DIR/format.log.
node_format() {
    local dir="$1" cluster_id="$2"
    shift 2
    java -Xmx256m -cp "${KAFKA_LIB}/*" \
        -Dlog4j2.configurationFile="${ROOT}/scripts/log4j2.properties" -Dkafka.logs.dir="${dir}" \
        kafka.tools.StorageTool format -t "${cluster_id}" -c "${dir}/server.properties" "$@" \
        >"${dir}/format.log" 2>&1 \
        || { cat "${dir}/format.log" >&2; die "kafka storage format failed for ${dir}"; }
    echo "${KAFKA_VERSION}" >"${dir}/data/.formatted-by"
}

# node_formatted DIR -> 0 when DIR/data was formatted by this Kafka version.
node_formatted() {
    local dir="$1"
    [[ -f "${dir}/data/meta.properties" && "$(cat "${dir}/data/.formatted-by" 2>/dev/null)" == "${KAFKA_VERSION}" ]]
}

# node_launch DIR HEAP_OPTS: start kafka.Kafka DIR/server.properties in the background,
# detached from this shell (own session), output in DIR/{broker.log,stdout.log}; the pid
# goes to DIR/kafka.pid. Descriptor 9 (the callers' lock) is not inherited.
node_launch() {
    local dir="$1" heap="$2"
    # shellcheck disable=SC2086  # HEAP_OPTS is a list of JVM flags
    setsid nohup java ${heap} \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
        -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="${ROOT}/scripts/log4j2.properties" \
        -Dkafka.logs.dir="${dir}" \
        -cp "${KAFKA_LIB}/*" kafka.Kafka "${dir}/server.properties" \
        </dev/null >"${dir}/stdout.log" 2>&1 9>&- &
    echo $! >"${dir}/kafka.pid"
}

# proc_running PID -> 0 when PID is a live process (a zombie awaiting its reaper is not).
proc_running() {
    local state
    state="$(awk '{print $3}' "/proc/${1}/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z ]]
}

# node_ours DIR -> 0 when DIR/kafka.pid names a live kafka.Kafka started on
# DIR/server.properties (a recycled pid is never taken for ours).
node_ours() {
    local dir="$1" pid
    pid_alive "${dir}/kafka.pid" || return 1
    pid="$(cat "${dir}/kafka.pid")"
    tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka ${dir}/server.properties"
}

# node_label DIR -> " node N" for a cluster node's directory (node-N), else nothing.
node_label() {
    local base
    base="$(basename "$1")"
    [[ "$base" == node-* ]] && echo " node ${base#node-}"
    return 0
}

# node_stop NAME DIR...: SIGTERM every given node of ours at once (a clean, controlled
# shutdown; in parallel, so the last nodes of a cluster still have a quorum to talk to),
# wait for all to exit, SIGKILL those still running after KAFKA_STOP_TIMEOUT (40 s).
node_stop() {
    local name="$1" dir pid i
    shift
    local -a pids=()
    for dir in "$@"; do
        if node_ours "$dir"; then
            pid="$(cat "${dir}/kafka.pid")"
            log "${name}$(node_label "$dir"): stopping pid ${pid} (SIGTERM)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        else
            rm -f "${dir}/kafka.pid"
        fi
    done
    if ((${#pids[@]} == 0)); then
        log "${name}: nothing of ours running; nothing to stop"
        return 0
    fi
    local limit=$(( ${KAFKA_STOP_TIMEOUT:-40} * 10 ))
    for ((i = 0; i < limit; i++)); do
        local alive=0
        for pid in "${pids[@]}"; do
            if proc_running "$pid"; then
                alive=1
            fi
        done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if proc_running "$pid"; then
            log "${name}: pid ${pid} still running after ${KAFKA_STOP_TIMEOUT:-40} s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for dir in "$@"; do
        rm -f "${dir}/kafka.pid"
    done
    log "${name}: stopped"
}

# node_kill DIR NAME: SIGKILL our node (a crash: no controlled shutdown, no flush); an error
# when it is not running, so a test that means to crash a broker never passes vacuously.
node_kill() {
    local dir="$1" name="$2" pid i
    if ! node_ours "$dir"; then
        rm -f "${dir}/kafka.pid"
        die "${name}: not running (or not started by this checkout); nothing to kill"
    fi
    pid="$(cat "${dir}/kafka.pid")"
    log "${name}: SIGKILL pid ${pid}"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        proc_running "$pid" || break
        sleep 0.1
    done
    rm -f "${dir}/kafka.pid"
}

# node_probe BOOTSTRAP [VAR=value...]: scripts/probe.py (a Metadata request) with the
# security variables cleared and then set from the arguments; prints its verdict
# ("kafka ready: N broker(s), M topic(s)") and exits 0 when the node answered.
node_probe() {
    local bootstrap="$1"
    shift
    env -u KAFKA_SECURITY_PROTOCOL -u KAFKA_SASL_MECHANISM -u KAFKA_SASL_USERNAME \
        -u KAFKA_SASL_PASSWORD -u KAFKA_SSL_CA_FILE "$@" \
        "$PY" "${ROOT}/scripts/probe.py" kafka "$bootstrap" --timeout 3 2>/dev/null
}

# node_failed DIR NAME: print the tail of the node's logs and die.
node_failed() {
    local dir="$1" name="$2"
    shift 2
    tail -n 40 "${dir}/broker.log" "${dir}/stdout.log" >&2 2>/dev/null || true
    die "${name}: $* (full log: ${dir}/broker.log)"
}

# ports_free NAME HINT PORT...: die when something already listens on one of the ports;
# HINT names the variables that move them.
ports_free() {
    local name="$1" hint="$2" port
    shift 2
    for port in "$@"; do
        if port_open 127.0.0.1 "$port"; then
            die "${name}: port ${port} is taken by something this checkout did not start (see: ss -ltnp 'sport = :${port}'; or set ${hint})"
        fi
    done
}
