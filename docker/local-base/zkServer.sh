#!/bin/bash
# zkServer.sh as the public zookeeper image has it (config in $ZOOCFGDIR/zoo.cfg), for
# Debian's zookeeper package: start-foreground | status | version.
set -euo pipefail

cfg="${ZOOCFGDIR:-/conf}/zoo.cfg"
cp="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
for jar in netty-codec netty-resolver netty-transport-native-unix-common; do
    cp="$cp:/usr/share/java/$jar.jar"
done

client_port() {
    local port
    port="$(sed -n 's/^clientPort=\([0-9]*\).*/\1/p' "$cfg" 2>/dev/null | tail -n 1)"
    if [[ -z "$port" ]]; then
        port="$(sed -n 's/^server\.[0-9]*=.*;\(.*:\)\{0,1\}\([0-9]*\)$/\2/p' "$cfg" 2>/dev/null | head -n 1)"
    fi
    echo "${port:-2181}"
}

case "${1:-}" in
start-foreground)
    # shellcheck disable=SC2086 # JVMFLAGS is a list of flags, as in zkServer.sh
    exec java -Dzookeeper.log.dir="${ZOO_LOG_DIR:-/logs}" \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        -XX:+HeapDumpOnOutOfMemoryError -XX:OnOutOfMemoryError='kill -9 %p' \
        ${JVMFLAGS:--Xmx256m} ${SERVER_JVMFLAGS:-} \
        -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"
    ;;
status)
    port="$(client_port)"
    echo "Client port found: $port. Client address: localhost. Client SSL: false."
    if mode="$(echo srvr | nc -w 3 127.0.0.1 "$port" | grep '^Mode:')"; then
        echo "$mode"
    else
        echo "Error contacting service. It is probably not running."
        exit 1
    fi
    ;;
version)
    exec java -cp "$cp" org.apache.zookeeper.version.VersionInfoMain
    ;;
*)
    echo "Usage: $0 {start-foreground|status|version}" >&2
    exit 1
    ;;
esac
