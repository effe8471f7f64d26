#!/usr/bin/env bash
# Rootful podman on this kind of machine (see the README's "Container image"): a containers.conf
# with runc and ulimits the host allows, and a Debian base image made with debootstrap from the
# machine's own apt mirror (no registry is reachable). Made once per machine, then reused.
set -euo pipefail
conf=/etc/containers/containers.conf
if ! grep -q "rag-website" "$conf" 2>/dev/null; then
    nofile=$(ulimit -Hn)
    mkdir -p /etc/containers
    cat >>"$conf" <<CONF
# rag-website: crun refuses this kernel's hybrid cgroup layout; podman's default nofile is
# above the hard limit root has here.
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
fi
if ! podman image exists localhost/bookworm-base; then
    mirror=$(grep -rhoE '^(URIs:|deb) +\S+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    if [ -z "$mirror" ]; then
        echo "no Debian mirror found in /etc/apt/sources.list*" >&2
        exit 1
    fi
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
    tar -C "$rootfs" -c . | podman import - localhost/bookworm-base
    rm -rf "$rootfs"
fi
