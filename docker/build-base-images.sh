#!/usr/bin/env bash
# Builds locally, without any container registry, the images that docker/Dockerfile,
# docker/docker-compose.yml and the Docker test name, for a machine that cannot pull:
#
#   debian:bookworm-slim       a minimal Debian bookworm root filesystem (debootstrap from
#                              the Debian mirror this machine's apt uses), slimmed like
#                              Docker's official -slim image, `docker import`ed
#   zookeeper:3.8              that + Debian's zookeeper package, with an entrypoint that
#                              honours the public zookeeper image's ZOO_* variables
#   strom-test-client:local    that + kcat, the test's client on the compose network
#   prom/prometheus:v2.42.0    that + Debian's prometheus package (2.42.0), laid out as the
#                              public image is (the compose file's `prometheus` profile)
#
# A user with internet needs none of this: the public images have these tags.
# An image whose tag already exists is kept (FORCE=1 rebuilds them all); the root
# filesystem tarball is cached in $STROM_DOCKER_CACHE (default /var/cache/strom-docker).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${STROM_DOCKER_CACHE:-/var/cache/strom-docker}"
suite=bookworm
force="${FORCE:-0}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[base-images] %s\n' "$*" >&2; }

have_image() { [ "$force" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

# The Debian mirror (and security mirror) the machine's apt is configured with, from
# apt's own view of its sources (one-line .list and deb822 .sources alike).
apt_site() {
    apt-get indextargets --format '$(SITE) $(RELEASE) $(IDENTIFIER)' 2>/dev/null |
        awk -v rel="$1" '$2 == rel && $3 == "Packages" { print $1; exit }'
}

build_rootfs_tarball() {
    local tarball="$cache/debian-$suite-slim-rootfs.tar"
    if [ -s "$tarball" ] && [ "$force" != 1 ]; then
        echo "$tarball"
        return
    fi
    local mirror security
    mirror="$(apt_site "$suite")"
    security="$(apt_site "$suite-security")"
    if [ -z "$mirror" ]; then
        log "no Debian $suite mirror in this machine's apt sources (apt-get indextargets)"
        exit 1
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "installing debootstrap"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
            --no-install-recommends debootstrap >&2
    fi
    $SUDO mkdir -p "$cache/debs"
    local rootfs
    rootfs="$($SUDO mktemp -d "$cache/rootfs.XXXXXX")"
    log "debootstrap --variant=minbase $suite from $mirror into $rootfs (a few minutes)"
    local t0=$SECONDS
    if ! $SUDO debootstrap --variant=minbase --cache-dir="$cache/debs" "$suite" "$rootfs" "$mirror" \
        >"$cache/debootstrap.log" 2>&1; then
        tail -n 30 "$cache/debootstrap.log" >&2
        $SUDO rm -rf "$rootfs"
        exit 1
    fi
    log "debootstrap done in $((SECONDS - t0)) s"

    # The apt sources the images use: the same mirrors as this machine.
    {
        echo "deb $mirror $suite main"
        echo "deb $mirror $suite-updates main"
        if [ -n "$security" ]; then echo "deb $security $suite-security main"; fi
    } | $SUDO tee "$rootfs/etc/apt/sources.list" >/dev/null

    # Slim it as Docker's official debian:*-slim images are (debuerreotype's slimify).
    $SUDO tee "$rootfs/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CFG
    $SUDO tee "$rootfs/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
    printf 'Acquire::Languages "none";\n' | $SUDO tee "$rootfs/etc/apt/apt.conf.d/docker-no-languages" >/dev/null
    printf 'APT::AutoRemove::SuggestsImportant "false";\n' | $SUDO tee "$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests" >/dev/null
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$rootfs/usr/sbin/policy-rc.d" >/dev/null
    $SUDO chmod 755 "$rootfs/usr/sbin/policy-rc.d"
    $SUDO chroot "$rootfs" sh -c '
        find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
        find /usr/share/doc -mindepth 1 -type d -empty -delete
        rm -rf /usr/share/groff/* /usr/share/info/* /usr/share/linda/* /usr/share/lintian/overrides/* /usr/share/man/*
        find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
        apt-get clean
        rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/* /tmp/* /var/tmp/*
        : > /etc/machine-id
    '
    $SUDO rm -f "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"
    $SUDO tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
    $SUDO mv "$tarball.tmp" "$tarball"
    $SUDO rm -rf "$rootfs"
    log "root filesystem: $tarball ($(du -h "$tarball" | cut -f1))"
    echo "$tarball"
}

if have_image debian:bookworm-slim; then
    log "debian:bookworm-slim present"
else
    tarball="$(build_rootfs_tarball)"
    log "docker import -> debian:bookworm-slim"
    $SUDO cat "$tarball" | docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --message "debootstrap --variant=minbase $suite, slimmed (strom docker/build-base-images.sh)" \
        - debian:bookworm-slim >/dev/null
fi

# Images on top of it install Debian packages from the same mirror; the host's network
# is used for the build, so no bridge or DNS set-up is needed.
build_local() {
    local tag="$1" dockerfile="$2"
    if have_image "$tag"; then
        log "$tag present"
        return
    fi
    log "building $tag from $dockerfile"
    local t0=$SECONDS
    docker build --network host -q -t "$tag" -f "$here/local-base/$dockerfile" "$here/local-base" >/dev/null
    log "$tag built in $((SECONDS - t0)) s"
}

build_local zookeeper:3.8 zookeeper.Dockerfile
build_local strom-test-client:local client.Dockerfile
build_local prom/prometheus:v2.42.0 prometheus.Dockerfile
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' debian:bookworm-slim >&2
