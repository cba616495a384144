#!/bin/sh
# Installs gatehouse's runtime from a built source tree into an empty directory: what the
# container image ships and nothing else. The Dockerfile's build stage runs it, and so does
# test/deploy/image.test.ts (into a temporary directory, then serving a Check from it), so the
# image's install steps and the tested ones are the same by construction.
#
#   sh deploy/image/install-runtime.sh SOURCE DEST
#
# SOURCE must already be built: dist/ (npm run build) and build/bundle.tar.gz (the example policy,
# `gatehouse build`), so the runtime needs neither TypeScript nor the OPA CLI. DEST gets
# package.json, package-lock.json, dist/, build/bundle.tar.gz and the production dependencies
# (`npm ci --omit=dev`, install scripts off: none of them needs one at run time).
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: sh deploy/image/install-runtime.sh SOURCE DEST" >&2
  exit 2
fi
source_dir=$1
dest=$2
for required in package.json package-lock.json dist/main.js build/bundle.tar.gz; do
  if [ ! -f "$source_dir/$required" ]; then
    echo "error: $source_dir/$required is missing; build first (./dev setup, or npm run build and gatehouse build)" >&2
    exit 1
  fi
done
mkdir -p "$dest/build"
cp "$source_dir/package.json" "$source_dir/package-lock.json" "$dest/"
cp -R "$source_dir/dist" "$dest/dist"
cp "$source_dir/build/bundle.tar.gz" "$dest/build/bundle.tar.gz"
cd "$dest"
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
