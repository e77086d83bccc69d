#!/bin/sh
# dns.sh BUILD_DIR - validated lookups: `danemx dns` against `unbound-host`
# (both libunbound, both validating from the same private trust anchor)
# on the local world, N cold lookups each, same run. Prints wall time per
# lookup and the ratio danemx/unbound-host (lower is better). Its world is
# on BENCH_DNS_WORLD_NET (default 127.0.64) and BENCH_DNS_WORLD_MX_NET
# (default 127.0.65), apart from the tests' and bench/check.sh's worlds.
set -eu
bdir=$1
src=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_N:-200}
WORLD_NET=${BENCH_DNS_WORLD_NET:-127.0.64}
WORLD_MX_NET=${BENCH_DNS_WORLD_MX_NET:-127.0.65}
WORLD_MX_ADDR6=''
export WORLD_NET WORLD_MX_NET WORLD_MX_ADDR6
world=$(mktemp -d /tmp/danemx-bench.XXXXXX)
trap 'sh "$src/tests/world/world.sh" clean "$world" >/dev/null 2>&1; rm -rf "$world"' EXIT
sh "$src/tests/world/world.sh" start "$world" >/dev/null
conf="$world/unbound.conf"

now_ms() { date +%s%3N; }

t0=$(now_ms)
i=0
while [ $i -lt "$N" ]; do
	"$bdir/danemx" -R "$conf" dns www.secure.test A >/dev/null
	i=$((i + 1))
done
t1=$(now_ms)
i=0
while [ $i -lt "$N" ]; do
	unbound-host -C "$conf" -t A www.secure.test >/dev/null
	i=$((i + 1))
done
t2=$(now_ms)
d=$((t1 - t0))
u=$((t2 - t1))
echo "danemx dns:   $N lookups in ${d} ms ($((d * 1000 / N)) us each)"
echo "unbound-host: $N lookups in ${u} ms ($((u * 1000 / N)) us each)"
awk -v d="$d" -v u="$u" 'BEGIN { printf "ratio danemx/unbound-host: %.2f\n", d / u }'
