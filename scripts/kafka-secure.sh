#!/usr/bin/env bash
# A local Apache Kafka broker that only speaks SASL/SCRAM-SHA-512 over TLS, for testing
# secure transport for real.
#
#   scripts/kafka.sh secure start          # make the CA and stores, format, start; print the client env
#   scripts/kafka.sh secure env            # print the client env again (KEY=value lines)
#   scripts/kafka.sh secure status         # exit 0 when an authenticated TLS Metadata request is answered
#   scripts/kafka.sh secure stop [--wipe]  # SIGTERM the broker this checkout started; --wipe deletes
#                                          # its data, certificates and credentials
#
# One combined broker+controller of the same Apache Kafka that scripts/kafka.sh runs.
# Listeners: SASL_SSL on 127.0.0.1:${KAFKA_SECURE_PORT:-19392} (clients and the broker's own
# inter-broker traffic, SCRAM-SHA-512), CONTROLLER on 127.0.0.1:${KAFKA_SECURE_CONTROLLER_PORT:-19393}
# over mutual TLS. No plaintext listener. The certificates come from a self-signed CA made
# with openssl (keystore PKCS12 by openssl, truststore by keytool); the SCRAM users
# (the client user and the broker's own "admin") are written into the metadata log at
# format time (--add-scram) with random passwords kept in .run/kafka-secure/credentials.
# State: .run/kafka-secure/{tls/,credentials,data/,server.properties,broker.log,kafka.pid}.
# Env: KAFKA_SECURE_PORT (19392), KAFKA_SECURE_CONTROLLER_PORT (19393),
# KAFKA_SECURE_USER (assetstream), KAFKA_SECURE_HEAP_OPTS (-Xms128m -Xmx384m),
# KAFKA_VERSION, KAFKA_START_TIMEOUT (120 s).
#
#   eval "$(scripts/kafka.sh secure env | sed 's/^/export /')"   # then run the app as usual
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=scripts/kafka-node.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka-node.sh"

PORT="${KAFKA_SECURE_PORT:-19392}"
CONTROLLER_PORT="${KAFKA_SECURE_CONTROLLER_PORT:-19393}"
HEAP="${KAFKA_SECURE_HEAP_OPTS:--Xms128m -Xmx384m}"
SECURE_RUN="${RUN_DIR}/kafka-secure"
TLS="${SECURE_RUN}/tls"
CREDENTIALS="${SECURE_RUN}/credentials"
NAME="kafka secure"
MECHANISM="SCRAM-SHA-512"
CERT_DAYS=825
# Set by load_credentials from ${CREDENTIALS}.
CLIENT_USER="" CLIENT_PASSWORD="" ADMIN_USER="" ADMIN_PASSWORD="" STORE_PASSWORD=""

lock() {
    mkdir -p "${SECURE_RUN}"
    exec 9>"${SECURE_RUN}/.lock"
    flock -w 300 9 || die "another scripts/kafka-secure.sh holds ${SECURE_RUN}/.lock"
}

random_secret() { openssl rand -hex 24; }

# credentials: created once per data directory (the SCRAM users are stored in its metadata).
make_credentials() {
    [[ -s "$CREDENTIALS" ]] && return 0
    (
        umask 077
        cat >"$CREDENTIALS" <<CREDS
CLIENT_USER=${KAFKA_SECURE_USER:-assetstream}
CLIENT_PASSWORD=$(random_secret)
ADMIN_USER=admin
ADMIN_PASSWORD=$(random_secret)
STORE_PASSWORD=$(random_secret)
CREDS
    )
}

load_credentials() {
    [[ -s "$CREDENTIALS" ]] || die "${NAME}: no credentials yet (${CREDENTIALS}); run '$0 start'"
    # shellcheck source=/dev/null
    source "$CREDENTIALS"
}

# The CA and the broker's certificate (SAN localhost + 127.0.0.1, server and client auth):
# remade when missing or expiring within a day. The broker reads them only at start-up.
make_tls() {
    if [[ -s "${TLS}/broker.p12" && -s "${TLS}/truststore.p12" ]] \
        && openssl x509 -checkend 86400 -noout -in "${TLS}/broker.pem" >/dev/null 2>&1 \
        && openssl x509 -checkend 86400 -noout -in "${TLS}/ca.pem" >/dev/null 2>&1; then
        return 0
    fi
    command -v openssl >/dev/null || die "openssl not found (Debian: apt-get install openssl)"
    command -v keytool >/dev/null || die "keytool not found: it comes with the Java 17 runtime"
    log "${NAME}: making a self-signed CA and the broker's keystore/truststore in ${TLS}"
    rm -rf "${TLS}"
    mkdir -p "${TLS}"
    chmod 700 "${TLS}"
    {
        openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days "$CERT_DAYS" \
            -keyout "${TLS}/ca.key" -out "${TLS}/ca.pem" \
            -subj "/O=assetstream dev/CN=assetstream dev CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -newkey rsa:2048 -sha256 -nodes \
            -keyout "${TLS}/broker.key" -out "${TLS}/broker.csr" \
            -subj "/O=assetstream dev/CN=localhost"
        printf '%s\n' \
            "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth,clientAuth" \
            "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            "subjectKeyIdentifier=hash" \
            "authorityKeyIdentifier=keyid,issuer" >"${TLS}/broker.ext"
        openssl x509 -req -sha256 -days "$CERT_DAYS" -in "${TLS}/broker.csr" \
            -CA "${TLS}/ca.pem" -CAkey "${TLS}/ca.key" -CAcreateserial \
            -extfile "${TLS}/broker.ext" -out "${TLS}/broker.pem"
        openssl pkcs12 -export -name broker \
            -in "${TLS}/broker.pem" -inkey "${TLS}/broker.key" -certfile "${TLS}/ca.pem" \
            -out "${TLS}/broker.p12" -passout "pass:${STORE_PASSWORD}"
        keytool -importcert -noprompt -alias assetstream-dev-ca -file "${TLS}/ca.pem" \
            -keystore "${TLS}/truststore.p12" -storetype PKCS12 -storepass "${STORE_PASSWORD}"
    } >"${TLS}/make.log" 2>&1 || { cat "${TLS}/make.log" >&2; die "${NAME}: making the TLS material failed"; }
    chmod 644 "${TLS}/ca.pem"
}

write_properties() {
    mkdir -p "${SECURE_RUN}/data"
    (
        umask 077
        cat >"${SECURE_RUN}/server.properties" <<PROPS
# Written by scripts/kafka-secure.sh: one KRaft node, SASL/SCRAM-SHA-512 over TLS only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=SASL_SSL://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=SASL_SSL://127.0.0.1:${PORT}
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=${MECHANISM}
sasl.mechanism.inter.broker.protocol=${MECHANISM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${ADMIN_USER}" password="${ADMIN_PASSWORD}";
listener.name.controller.ssl.client.auth=required
ssl.keystore.type=PKCS12
ssl.keystore.location=${TLS}/broker.p12
ssl.keystore.password=${STORE_PASSWORD}
ssl.key.password=${STORE_PASSWORD}
ssl.truststore.type=PKCS12
ssl.truststore.location=${TLS}/truststore.p12
ssl.truststore.password=${STORE_PASSWORD}
ssl.endpoint.identification.algorithm=https
ssl.enabled.protocols=TLSv1.3,TLSv1.2
log.dirs=${SECURE_RUN}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=2
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
log.segment.bytes=33554432
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
PROPS
    )
}

# client_env: KEY=value lines (values shell-quoted) for streams/settings.py.
client_env() {
    printf 'KAFKA_BOOTSTRAP_SERVERS=%q\n' "127.0.0.1:${PORT}"
    printf 'KAFKA_SECURITY_PROTOCOL=%q\n' SASL_SSL
    printf 'KAFKA_SASL_MECHANISM=%q\n' "${MECHANISM}"
    printf 'KAFKA_SASL_USERNAME=%q\n' "${CLIENT_USER}"
    printf 'KAFKA_SASL_PASSWORD=%q\n' "${CLIENT_PASSWORD}"
    printf 'KAFKA_SSL_CA_FILE=%q\n' "${TLS}/ca.pem"
}

probe_secure() {
    node_probe "127.0.0.1:${PORT}" KAFKA_SECURITY_PROTOCOL=SASL_SSL \
        KAFKA_SASL_MECHANISM="${MECHANISM}" KAFKA_SASL_USERNAME="${CLIENT_USER}" \
        KAFKA_SASL_PASSWORD="${CLIENT_PASSWORD}" KAFKA_SSL_CA_FILE="${TLS}/ca.pem"
}

start() {
    lock
    local started=$SECONDS
    if node_ours "${SECURE_RUN}"; then
        load_credentials
        log "${NAME}: our broker is running (pid $(cat "${SECURE_RUN}/kafka.pid"))"
    else
        ports_free "${NAME}" "KAFKA_SECURE_PORT / KAFKA_SECURE_CONTROLLER_PORT" "$PORT" "$CONTROLLER_PORT"
        node_fetch
        if ! node_formatted "${SECURE_RUN}"; then
            # Dev data only: users and passwords live in the metadata log, so new data
            # means new credentials (and stores locked with the new store password).
            rm -rf "${SECURE_RUN}/data" "$CREDENTIALS" "${TLS}"
        fi
        make_credentials
        load_credentials
        make_tls
        write_properties
        if ! node_formatted "${SECURE_RUN}"; then
            log "${NAME}: formatting KRaft storage with SCRAM users ${CLIENT_USER} and ${ADMIN_USER}"
            node_format "${SECURE_RUN}" "$(new_cluster_id)" \
                --add-scram "${MECHANISM}=[name=${CLIENT_USER},password=${CLIENT_PASSWORD}]" \
                --add-scram "${MECHANISM}=[name=${ADMIN_USER},password=${ADMIN_PASSWORD}]"
        fi
        node_launch "${SECURE_RUN}" "$HEAP"
        log "${NAME}: starting (pid $(cat "${SECURE_RUN}/kafka.pid"), log: ${SECURE_RUN}/broker.log)"
    fi
    # Ready: an authenticated Metadata request over TLS, verified against our CA.
    local deadline=$((SECONDS + START_TIMEOUT))
    until probe_secure >/dev/null; do
        node_ours "${SECURE_RUN}" || node_failed "${SECURE_RUN}" "${NAME}" "the broker exited during start-up"
        ((SECONDS < deadline)) || node_failed "${SECURE_RUN}" "${NAME}" \
            "no authenticated TLS Metadata answer from 127.0.0.1:${PORT} within ${START_TIMEOUT}s"
        sleep 0.5
    done
    log "${NAME}: ready at SASL_SSL://127.0.0.1:${PORT} (${MECHANISM}, $((SECONDS - started)) s); client env:"
    client_env
}

stop() {
    local wipe=0
    case "${1:-}" in
        "") ;;
        --wipe) wipe=1 ;;
        *) die "usage: $0 stop [--wipe]" ;;
    esac
    [[ -d "${SECURE_RUN}" ]] || { log "${NAME}: never started in this checkout; nothing to stop"; return 0; }
    lock
    node_stop "${NAME}" "${SECURE_RUN}"
    if ((wipe)); then
        find "${SECURE_RUN}" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
        log "${NAME}: data, certificates and credentials wiped (${SECURE_RUN})"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    status)
        load_credentials
        probe_secure
        ;;
    env)
        load_credentials
        client_env
        ;;
    *)
        echo "usage: $0 start|stop [--wipe]|status|env" >&2
        exit 2
        ;;
esac
