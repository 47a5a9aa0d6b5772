#!/usr/bin/env bash
# Makes a ZooKeeper image available to the test harness without a container
# registry: it builds one from Debian's packages (debootstrap a minimal rootfs,
# install the ZooKeeper server jars and a headless JRE, `docker import` it).
# The image honours the official `zookeeper` image's environment contract
# (ZOO_MY_ID, ZOO_SERVERS, ZOO_TICK_TIME, ...), so the harness treats both alike.
#
# Usage: scripts/zkimage/build.sh [IMAGE]     (default: $ZKTEST_IMAGE or
#        zkrecipes/zookeeper:debian). Does nothing when IMAGE already exists.
#
# Environment: DEBIAN_MIRROR and DEBIAN_SUITE override the mirror and suite,
# which default to the build host's own apt configuration.
set -euo pipefail

image=${1:-${ZKTEST_IMAGE:-zkrecipes/zookeeper:debian}}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'zkimage: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot reach the Docker engine"

# An image built before the data directories were volumes is built anew.
# The image's revision: raise it when what the image holds changes, so that
# an image built before is built again. 2: Netty jars for TLS on the class path.
revision=2
if [ "$(docker image inspect --format '{{ index .Config.Labels "org.zkrecipes.image.revision" }}' "$image" 2>/dev/null)" = "$revision" ]; then
	log "$image exists"
	exit 0
fi

# An image from a registry is as good, where a registry can be reached.
if [ "$image" != zkrecipes/zookeeper:debian ] &&
	timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
	log "pulled $image"
	exit 0
fi

start=$(date +%s)
[ "$(id -u)" = 0 ] || die "building $image needs root (debootstrap, chroot)"

if ! command -v debootstrap >/dev/null; then
	log "installing debootstrap"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# The host's apt configuration names the mirror it may reach; use the same.
host_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ { print $2; exit }' "$f"
	done
	grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
		awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }'
}
mirror=${DEBIAN_MIRROR:-$(host_mirror | grep -v -- -security | head -n 1 || true)}
[ -n "$mirror" ] || die "no Debian mirror found in the apt configuration; set DEBIAN_MIRROR"
suite=${DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
[ -n "$suite" ] || die "cannot tell the Debian suite; set DEBIAN_SUITE"

work=$(mktemp -d)
cleanup() {
	umount -R "$work/rootfs/proc" 2>/dev/null || true
	umount -R "$work/rootfs/sys" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

rootfs=$work/rootfs
log "debootstrap $suite from $mirror"
debootstrap --variant=minbase \
	--include=default-jre-headless,libzookeeper-java,libslf4j-java \
	"$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }

install -m 0755 "$here/docker-entrypoint.sh" "$rootfs/docker-entrypoint.sh"
install -m 0755 "$here/zkServer.sh" "$rootfs/usr/local/bin/zkServer.sh"
mkdir -p "$rootfs/conf" "$rootfs/data" "$rootfs/datalog" "$rootfs/logs"
version=$(chroot "$rootfs" dpkg-query -W -f '${Version}' libzookeeper-java)

# Trim what a server never reads.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
	"$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*

log "importing $image (libzookeeper-java $version)"
# As in the official image, data and transaction log are volumes: they live
# on the engine's own disk, not in the container's layered filesystem
# (which may be a FUSE overlay, whose writes and fsyncs cost far more).
tar -C "$rootfs" -c . | docker import \
	--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin' \
	--change 'ENV ZOO_CONF_DIR=/conf ZOO_DATA_DIR=/data ZOO_DATA_LOG_DIR=/datalog ZOO_LOG_DIR=/logs' \
	--change 'EXPOSE 2181 2888 3888 8080' \
	--change 'VOLUME ["/data", "/datalog", "/logs"]' \
	--change 'WORKDIR /' \
	--change 'ENTRYPOINT ["/docker-entrypoint.sh"]' \
	--change 'CMD ["zkServer.sh", "start-foreground"]' \
	--change "LABEL org.zkrecipes.zookeeper.version=$version org.zkrecipes.source=debian-$suite org.zkrecipes.image.revision=$revision" \
	- "$image" >/dev/null

log "built $image in $(($(date +%s) - start))s"
