#!/usr/bin/env bash
# Local stand-ins for the official base images, built from Debian packages, for machines that
# reach the Debian/PyPI/npm package registries but no container registry (CI here).
#
#   infra/podman/bases.sh            builds what is missing, prints --build-arg lines
#
# The Dockerfiles name the official images by default (python, node, postgres, nginx, uv);
# `make test-containers` passes these local tags instead. Nothing is pulled from a registry.
#
# Cache: the Debian root file system (mmdebstrap, the slow part) is kept as a tarball under
# $CONTAINER_CACHE_DIR, named by a hash of everything that goes into it; images already in
# podman's store are reused. A cold machine builds everything (~3 min).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${CONTAINER_CACHE_DIR:-$HOME/.cache/cryptofirm/containers}"
py312="${PY312:?PY312 must point at a python3.12}"
uv_bin="${UV_BIN:?UV_BIN must point at the uv binary}"
node_bin="${NODE_BIN:-$(command -v node)}"
sources="${APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}"
suite=bookworm
mkdir -p "$cache"

log() { printf '[bases] %s\n' "$*" >&2; }

# Runtime libraries of the official slim images (python's extension modules link them).
packages="ca-certificates,netbase,tzdata,passwd,libssl3,libffi8,libsqlite3-0,zlib1g,libbz2-1.0,\
liblzma5,libreadline8,libncursesw6,libuuid1,libgdbm6,libexpat1,libstdc++6,libgomp1"

certs=(/usr/local/share/ca-certificates/*.crt)
[ -e "${certs[0]}" ] || certs=()

hash_of() { sha256sum | cut -c1-16; }
debian_key="$( { cat "$0" "$sources"; echo "$packages $suite"; \
    for c in "${certs[@]}"; do cat "$c"; done; } | hash_of)"
debian_image="localhost/cryptofirm-base/debian:$debian_key"

if ! podman image exists "$debian_image"; then
    tarball="$cache/debian-$suite-$debian_key.tar"
    if [ ! -s "$tarball" ]; then
        log "mmdebstrap $suite (minbase) -> $tarball"
        hooks=()
        for c in "${certs[@]}"; do
            hooks+=(--customize-hook="copy-in $c /usr/local/share/ca-certificates/")
        done
        hooks+=(--customize-hook='chroot "$1" update-ca-certificates')
        mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" \
            --aptopt='Acquire::Retries "3"' \
            --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            "${hooks[@]}" --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
            "$suite" "$tarball.part" "$sources"
        mv "$tarball.part" "$tarball"
    fi
    log "podman import $tarball -> $debian_image"
    bundle=/etc/ssl/certs/ca-certificates.crt
    podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change "ENV SSL_CERT_FILE=$bundle" \
        --change "ENV PIP_CERT=$bundle" \
        --change "ENV REQUESTS_CA_BUNDLE=$bundle" \
        --change "ENV NODE_EXTRA_CA_CERTS=$bundle" \
        --change 'CMD ["bash"]' \
        "$tarball" "$debian_image" >/dev/null
fi

# build NAME KEY CONTEXT [extra podman build args...]: one stand-in from infra/podman/NAME.Containerfile
build() {
    local name="$1" key="$2" context="$3"
    shift 3
    local image="localhost/cryptofirm-base/$name:$key"
    if ! podman image exists "$image"; then
        log "building $image"
        podman build --quiet --network host --build-arg "DEBIAN_IMAGE=$debian_image" \
            -f "$here/$name.Containerfile" -t "$image" "$@" "$context" >/dev/null
    fi
    echo "$image"
}

stage() { local d="$cache/stage-$1"; rm -rf "$d"; mkdir -p "$d"; echo "$d"; }

# python: the host's CPython 3.12 (pyenv) in /usr/local, as in the official image.
py_prefix="$("$py312" -c 'import sys; print(sys.base_prefix)')"
py_version="$("$py312" -c 'import sys; print(sys.version.split()[0])')"
py_key="$( { echo "$debian_key $py_version $py_prefix"; cat "$here/python.Containerfile"; } | hash_of)"
py_image="localhost/cryptofirm-base/python:$py_key"
if ! podman image exists "$py_image"; then
    ctx="$(stage python)"
    tar -C "$py_prefix" -cf "$ctx/python.tar" \
        --exclude=./lib/python3.12/test --exclude=./lib/python3.12/site-packages \
        --exclude=./lib/python3.12/idlelib --exclude=./lib/python3.12/tkinter \
        --exclude='*/__pycache__' bin include lib share
    build python "$py_key" "$ctx" >/dev/null
fi

# node: the host's Node 20 binary and npm.
node_version="$("$node_bin" --version)"
case "$node_version" in v20.*) ;; *) log "node 20 needed, found $node_version at $node_bin"; exit 1 ;; esac
npm_dir="$(cd "$(dirname "$(readlink -f "$node_bin")")/../lib/node_modules/npm" && pwd)"
node_key="$( { echo "$debian_key $node_version"; cat "$here/node.Containerfile"; } | hash_of)"
node_image="localhost/cryptofirm-base/node:$node_key"
if ! podman image exists "$node_image"; then
    ctx="$(stage node)"
    cp "$(readlink -f "$node_bin")" "$ctx/node"
    tar -C "$(dirname "$npm_dir")" -cf "$ctx/npm.tar" npm
    build node "$node_key" "$ctx" >/dev/null
fi

# uv: the host's uv binary (the official image is just /uv and /uvx).
uv_version="$("$uv_bin" --version | cut -d' ' -f2)"
uv_key="$( { echo "$uv_version"; cat "$here/uv.Containerfile"; } | hash_of)"
uv_image="localhost/cryptofirm-base/uv:$uv_key"
if ! podman image exists "$uv_image"; then
    ctx="$(stage uv)"
    cp "$(readlink -f "$uv_bin")" "$ctx/uv"
    build uv "$uv_key" "$ctx" >/dev/null
fi

# postgres and nginx: Debian's packages behind the official images' interfaces.
pg_key="$( { echo "$debian_key"; cat "$here/postgres.Containerfile" "$here/postgres-entrypoint.sh"; } | hash_of)"
pg_image="$(build postgres "$pg_key" "$here")"
nginx_key="$( { echo "$debian_key"; cat "$here/nginx.Containerfile"; } | hash_of)"
nginx_image="$(build nginx "$nginx_key" "$here")"

echo "PYTHON_IMAGE=$py_image"
echo "NODE_IMAGE=$node_image"
echo "UV_IMAGE=$uv_image"
echo "POSTGRES_IMAGE=$pg_image"
echo "NGINX_IMAGE=$nginx_image"
