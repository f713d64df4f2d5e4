#!/bin/bash
# The image's HEALTHCHECK. When the broker serves its metrics endpoint, healthy means
# `GET /ready` answers 200 (logs recovered, listeners bound, registered in ZooKeeper);
# until then (or with metrics off), healthy means the first listener accepts connections.
# Uses only bash (/dev/tcp), so the image needs no curl or nc.
set -uo pipefail

# metrics.listener: KAFKA_METRICS_LISTENER, else the config file's (unset: no endpoint).
metrics="${KAFKA_METRICS_LISTENER-}"
if [[ -z "${KAFKA_METRICS_LISTENER+set}" && -r "${STROM_CONFIG:-}" ]]; then
    metrics="$(sed -n 's/^[[:space:]]*"\{0,1\}metrics\.listener"\{0,1\}[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$STROM_CONFIG" | tail -n 1)"
fi
metrics_port="${metrics##*:}"
if [[ -n "$metrics_port" ]] && { exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"; } 2>/dev/null; then
    printf 'GET /ready HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
    status=""
    read -r -t 4 status <&3 || true
    exec 3<&-
    case "$status" in
    "HTTP/1."?" 200"*) exit 0 ;;
    *)
        echo "metrics /ready on port $metrics_port: ${status:-no answer}"
        exit 1
        ;;
    esac
fi

# The first listener's port: KAFKA_LISTENERS="EXTERNAL://0.0.0.0:9092,INTERNAL://…" -> 9092.
listeners="${KAFKA_LISTENERS:-PLAINTEXT://0.0.0.0:9092}"
first="${listeners%%,*}"
port="${first##*:}"
if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
    exec 3<&-
    exit 0
fi
echo "listener port $port does not accept connections"
exit 1
