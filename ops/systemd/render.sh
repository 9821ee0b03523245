#!/usr/bin/env bash
# ops/systemd/render.sh OUTDIR [PREFIX [BUILD]]: writes the unit files of ops/systemd/ into OUTDIR
# with @PREFIX@ (the Kito checkout; default: this one) and @BUILD@ (its release build; default
# PREFIX/build/release) filled in. ops/systemd/README.md says how to install them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [PREFIX [BUILD]]" >&2; exit 2; }
out=$1
prefix=${2:-$(cd "$here/../.." && pwd)}
build=${3:-$prefix/build/release}
mkdir -p "$out"
for unit in "$here"/*.service; do
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@BUILD@|$build|g" "$unit" >"$out/$(basename "$unit")"
done
cp "$here/kito.sysusers" "$out/kito.sysusers.conf"
