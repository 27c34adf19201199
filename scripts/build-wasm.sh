#!/usr/bin/env bash
# Builds go/skydive-tls (Go's crypto/x509 and crypto/tls for skycert validate)
# to WebAssembly, and copies Go's JavaScript glue beside it. Both artifacts are
# committed, so `npm ci` needs no Go; test/go-tls.test.ts rebuilds them into a
# temporary directory and checks the bytes are the committed ones.
#
# Usage: scripts/build-wasm.sh [OUTDIR]   (default: go/skydive-tls itself)
#
# The flags are pinned: -trimpath (no build paths in the binary),
# -buildvcs=false (a module build inside a git checkout would otherwise stamp
# the commit, changing the bytes with every commit), -ldflags="-s -w" (no
# symbol table or DWARF). Environment that changes code generation (GOFLAGS,
# GOWASM, GOEXPERIMENT, CGO_ENABLED) is cleared or pinned. The build cache is
# a fresh temporary directory unless SKYDIVE_TLS_GOCACHE names one (the cache
# never changes the output, only how long the build takes).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/go/skydive-tls"
out="${1:-$src}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if [[ -n "${SKYDIVE_TLS_GOCACHE:-}" ]]; then
  mkdir -p "$SKYDIVE_TLS_GOCACHE"
  gocache="$SKYDIVE_TLS_GOCACHE"
else
  gocache="$(mktemp -d "${TMPDIR:-/tmp}/skydive-tls-gocache.XXXXXX")"
  trap 'rm -rf "$gocache"' EXIT
fi

cd "$src"
export GOOS=js GOARCH=wasm CGO_ENABLED=0 GOFLAGS= GOWASM= GOEXPERIMENT= GOCACHE="$gocache" \
  GO111MODULE=on GOWORK=off GOPROXY=off
go build -trimpath -buildvcs=false -ldflags="-s -w" -o "$out/skydive-tls.wasm.tmp" .
mv "$out/skydive-tls.wasm.tmp" "$out/skydive-tls.wasm"
cp "$(go env GOROOT)/misc/wasm/wasm_exec.js" "$out/wasm_exec.js.tmp"
mv "$out/wasm_exec.js.tmp" "$out/wasm_exec.js"
echo "built $out/skydive-tls.wasm with $(go version)" >&2
