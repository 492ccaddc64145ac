#!/bin/bash
# fuzz-replay.sh - the fuzz targets over their saved inputs (make check)
#
# Each fuzz/fuzz-NAME.c harness is built by tests/Makefile.am as
# fuzz-replay-NAME (fuzz/replay.c drives it, no libFuzzer needed) and run
# over:
#   data/fuzz-corpus/NAME/    the minimised corpus of the fuzzing campaign
#                             (fuzz/RESULTS.md), refreshed with fuzz/run.sh
#                             and fuzz/merge.sh
#   data/fuzz-regress/NAME-*  inputs that once found a bug (README.md
#                             there says which and what is expected now)
# The harnesses' invariants abort on a wrong answer; in the sanitizer pass
# of scripts/test, ASan, UBSan and LeakSanitizer fail the run too.  The
# verification context is the test PKI (data-gen) with the limits fuzz/run.sh
# uses, so that over-the-limit paths are reached by inputs of fuzzing size.

set -u

here=$(cd -- "$(dirname -- "$0")" && pwd -P)
bin=${FUZZ_REPLAY_BIN:-.}
data=$here/data
gen=${SG_TESTDATA:-data-gen}

export SG_FUZZ_TRUST="$gen/trust"
export SG_FUZZ_INTERMEDIATES="$gen/intermediates"
export SG_FUZZ_CRLS="$gen/crl"
export SG_FUZZ_SETTINGS="max_message_size=1048576 max_certificates=8"
# a fixed validation time: the same answer every day
export SG_FUZZ_AT="2026-06-01T00:00:00Z"
for v in SG_FUZZ_TRUST SG_FUZZ_INTERMEDIATES SG_FUZZ_CRLS; do
	[ -e "${!v}" ] || unset "$v"
done

status=0
for name in mime cms verify config policy ldap keyd; do
	inputs=()
	[ -d "$data/fuzz-corpus/$name" ] && inputs+=("$data/fuzz-corpus/$name")
	for f in "$data/fuzz-regress/$name"-*; do
		[ -f "$f" ] && inputs+=("$f")
	done
	if [ "${#inputs[@]}" -eq 0 ]; then
		echo "fuzz-replay: $name: no saved inputs"
		continue
	fi
	if ! out=$("$bin/fuzz-replay-$name" "${inputs[@]}" 2>&1); then
		printf '%s\n' "$out" | tail -n 30
		echo "FAIL: fuzz-replay-$name (rerun with SG_REPLAY_VERBOSE=1 to see which input)"
		status=1
	else
		printf '%s\n' "$out" | tail -n 1
	fi
done
exit $status
