#!/bin/bash
# The subset of upstream's zkServer.sh that a container needs:
# `zkServer.sh start-foreground` runs the server in the foreground.
set -e
if [[ "$1" != start-foreground ]]; then
	echo "zkServer.sh: only start-foreground is supported in this image" >&2
	exit 2
fi
cp=/usr/share/java/zookeeper.jar
# Netty jars the server's TLS needs (NettyServerCnxnFactory, secure client
# port) that Debian's zookeeper.jar does not list in its Class-Path.
for j in netty-codec netty-resolver netty-transport-native-unix-common; do
	[[ -f /usr/share/java/$j.jar ]] && cp="$cp:/usr/share/java/$j.jar"
done
# Send the server's log to stderr if an slf4j binding is installed.
[[ -f /usr/share/java/slf4j-simple.jar ]] && cp="$cp:/usr/share/java/slf4j-simple.jar"
# SERVER_JVMFLAGS and JVMFLAGS are split on spaces, as upstream does.
# shellcheck disable=SC2086
exec java -Dzookeeper.log.dir="${ZOO_LOG_DIR:-/logs}" \
	-Dorg.slf4j.simpleLogger.defaultLogLevel="${ZOO_LOG_LEVEL:-info}" \
	-XX:+UseSerialGC -Xss512k \
	${SERVER_JVMFLAGS:-} ${JVMFLAGS:-} \
	-cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "${ZOO_CONF_DIR:-/conf}/zoo.cfg"
