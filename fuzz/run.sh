#!/bin/sh
# run.sh BUILD_DIR SECONDS - run every libFuzzer target for SECONDS each.
# Corpora live in fuzz/corpus/<target>/ (seeded from the unit tests'
# shapes when empty); crashes land in BUILD_DIR/fuzz-artifacts/.
set -eu
bdir=$1
secs=${2:-60}
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$bdir/fuzz-artifacts"
status=0
for t in "$bdir"/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	corpus="$bdir/fuzz-corpus/$name"
	mkdir -p "$corpus"
	[ -d "$src/corpus/$name" ] && cp -n "$src/corpus/$name"/* "$corpus"/ 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -max_len=4096 \
	    -artifact_prefix="$bdir/fuzz-artifacts/$name-" "$corpus" \
	    >"$bdir/fuzz-artifacts/$name.log" 2>&1; then
		echo "fuzz: $name FAILED, see $bdir/fuzz-artifacts/$name.log"
		tail -n 30 "$bdir/fuzz-artifacts/$name.log"
		status=1
	else
		tail -n 1 "$bdir/fuzz-artifacts/$name.log"
	fi
done
exit $status
