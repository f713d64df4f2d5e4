#!/bin/bash
# zkCli.sh as the public zookeeper image has it, for Debian's zookeeper package.
cp="/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/jline.jar"
# shellcheck disable=SC2086 # CLIENT_JVMFLAGS is a list of flags, as in zkCli.sh
exec java -Dorg.slf4j.simpleLogger.defaultLogLevel="${ZKCLI_LOG_LEVEL:-warn}" ${CLIENT_JVMFLAGS:-} \
    -cp "$cp" org.apache.zookeeper.ZooKeeperMain "$@"
