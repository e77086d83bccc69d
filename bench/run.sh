#!/bin/sh
# run.sh BUILD_DIR - run every benchmark in bench/ and print their ratios.
# Benchmarks compare danemx with a reference tool doing the same job in
# the same run, on the local world; they are never part of `make test`.
set -eu
bdir=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$here"/*.sh; do
	case $(basename "$b") in run.sh | lib.sh) continue ;; esac
	echo "== $(basename "$b" .sh)"
	sh "$b" "$bdir" || status=1
done
exit $status
