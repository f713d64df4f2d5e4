#!/bin/bash
# strom's container entrypoint. With no arguments, or only options, runs the broker:
#     strom server --config $STROM_CONFIG [options]
# configured as cp-kafka is, by KAFKA_* environment variables (strom reads them itself:
# KAFKA_ADVERTISED_LISTENERS -> advertised.listeners), which win over the config file.
# Any other command runs as given (`docker run … strom kafka-topics --list …`, `bash`).
set -euo pipefail

if [[ $# -eq 0 || "$1" == -* ]]; then
    config=()
    if [[ -n "${STROM_CONFIG:-}" ]]; then
        config=(--config "$STROM_CONFIG")
    fi
    # The broker is PID 1: SIGTERM from `docker stop` reaches it directly (graceful shutdown).
    exec strom server "${config[@]}" "$@"
fi
exec "$@"
