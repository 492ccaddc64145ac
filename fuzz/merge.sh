#!/bin/bash
# merge.sh [FUZZER...] - minimise the fuzzing corpora into the regression
# corpora that make check replays (tests/data/fuzz-corpus/NAME)
#
# For each fuzzer (default: all seven), libFuzzer's -merge=1 keeps the
# smallest set of inputs of fuzz/out/corpus/NAME, fuzz/out/seeds/NAME and
# the current regression corpus that reaches the same coverage; inputs
# over 64 KiB are left out to keep the repository small.  Run it after
# scripts/fuzz (or fuzz/run.sh), with the same FUZZ_OUT, and commit the
# result.
set -eu

FUZZ_DIR=$(cd -- "$(dirname -- "$0")" && pwd -P)
SRC=$(dirname -- "$FUZZ_DIR")
OUT=${FUZZ_OUT:-$FUZZ_DIR/out}
DEST=$SRC/tests/data/fuzz-corpus
if [ $# -eq 0 ]; then
	set -- fuzz-verify fuzz-cms fuzz-config fuzz-mime fuzz-policy fuzz-ldap fuzz-keyd
fi

for name in "$@"; do
	short=${name#fuzz-}
	if [ ! -x "$OUT/bin/$name" ]; then
		echo "merge.sh: $OUT/bin/$name missing (run fuzz/run.sh first)" >&2
		exit 2
	fi
	tmp=$(mktemp -d)
	inputs=()
	for d in "$OUT/corpus/$name" "$OUT/seeds/$short" "$DEST/$short"; do
		[ -d "$d" ] && inputs+=("$d")
	done
	"$OUT/bin/$name" -merge=1 -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 "$tmp" "${inputs[@]}" >"$OUT/logs/merge-$name.log" 2>&1 || {
		echo "merge.sh: $name: merge failed, see $OUT/logs/merge-$name.log" >&2
		rm -rf -- "$tmp"
		exit 1
	}
	find "$tmp" -type f -size +64k -delete
	rm -rf -- "${DEST:?}/$short"
	mkdir -p "$DEST/$short"
	cp -- "$tmp"/* "$DEST/$short"/ 2>/dev/null || true
	rm -rf -- "$tmp"
	printf 'merge.sh: %-12s %5d inputs, %s\n' "$name" \
		"$(find "$DEST/$short" -type f | wc -l)" \
		"$(du -sh "$DEST/$short" | cut -f1)"
done
