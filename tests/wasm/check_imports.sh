#!/usr/bin/env bash
# Usage: check_imports.sh WASM_OBJDUMP core.wasm
# Passes when the module's imports are exactly fd_close, fd_seek and fd_write of
# wasi_snapshot_preview1 (abort's message path; the JS loader stubs them).
set -euo pipefail
objdump=$1 module=$2
[[ -f $module ]] || { echo "missing $module: build the wasi preset first" >&2; exit 1; }
actual=$("$objdump" -x -j Import "$module" | sed -n 's/.*<- \(.*\)$/\1/p' | sort | tr '\n' ' ')
expected="wasi_snapshot_preview1.fd_close wasi_snapshot_preview1.fd_seek wasi_snapshot_preview1.fd_write "
echo "imports: $actual"
[[ $actual == "$expected" ]] || { echo "expected: $expected" >&2; exit 1; }
