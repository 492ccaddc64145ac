#!/bin/bash
# run.sh [SECONDS] - build, seed and run every libsmimeguard fuzzer
#
# Builds the fuzzers (fuzz/build.sh, incremental), makes the seed corpora
# (fuzz/seeds.sh), then runs each fuzzer for SECONDS (default 60) with
# libFuzzer: -timeout=10 -rss_limit_mb=2048, -max_len per target.
# Everything goes to $FUZZ_OUT (default fuzz/out, gitignored):
#   bin/            the fuzzers, and build.sh's tiny test PKI
#   seeds/NAME/     seed inputs (regenerated each run)
#   corpus/NAME/    the working corpus, kept between runs
#   crashes/NAME/   crash-*, leak-*, timeout-*, oom-* inputs
#   logs/NAME.log   the libFuzzer output
# Prints one line per fuzzer (CPU seconds, executions, coverage and what
# of it is new since the corpus was loaded, corpus, peak RSS), appends it
# to logs/history.tsv (date, fuzzer, verdict, seconds, CPU seconds,
# executions, coverage, corpus: the record fuzz/RESULTS.md is made from) and
# exits 1 when any fuzzer found a crash, leak, timeout or out-of-memory,
# 2 when something could not be built or run.
#
# Environment:
#   FUZZERS    which to run (default: fuzz-verify fuzz-cms fuzz-config fuzz-mime
#              fuzz-policy fuzz-ldap fuzz-keyd)
#   FUZZ_JOBS  fuzzers run at the same time (default 2)
#   FUZZ_OUT   work directory (default fuzz/out)
#   FUZZ_ARGS  extra libFuzzer options, e.g. "-use_value_profile=1"
#   FUZZ_CPU_SECONDS  stop each fuzzer once it has used this much CPU
#              time (SECONDS stays the limit in wall-clock time): on a
#              loaded machine this, not SECONDS, is what "fuzzed for N
#              CPU-minutes" means
#   SG_FUZZ_TRUST, SG_FUZZ_INTERMEDIATES, SG_FUZZ_CRLS, SG_FUZZ_SETTINGS
#              the verification context (fuzz/fuzz-common.h); by default
#              the test PKIs of the seeds, and limits lowered so that
#              inputs of fuzzing size get over them: max_message_size
#              1 MiB (a compressed layer can expand past it),
#              max_certificates 8
#
# Reproduce a crash: the line printed for it shows the command (the same
# SG_FUZZ_* environment, the fuzzer binary and the input).

set -u

FUZZ_DIR=$(cd -- "$(dirname -- "$0")" && pwd -P)
SECONDS_EACH=${1:-60}
FUZZERS=${FUZZERS:-fuzz-verify fuzz-cms fuzz-config fuzz-mime fuzz-policy fuzz-ldap fuzz-keyd}
JOBS=${FUZZ_JOBS:-2}
OUT=${FUZZ_OUT:-$FUZZ_DIR/out}

case $SECONDS_EACH in
''|*[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac
case $JOBS in
''|*[!0-9]*|0)
	echo "run.sh: FUZZ_JOBS must be a positive number" >&2
	exit 2
	;;
esac

mkdir -p -- "$OUT/logs"
OUT=$(cd -- "$OUT" && pwd -P)

if ! "$FUZZ_DIR/build.sh" "$OUT/bin" >"$OUT/logs/build.log" 2>&1; then
	cat "$OUT/logs/build.log" >&2
	echo "run.sh: build failed" >&2
	exit 2
fi
if ! "$FUZZ_DIR/seeds.sh" "$OUT" >"$OUT/logs/seeds.log" 2>&1; then
	cat "$OUT/logs/seeds.log" >&2
	echo "run.sh: making the seeds failed" >&2
	exit 2
fi

# the trust store the seeds were signed under (what exists of it)
CORPORA=${SG_CORPORA:-$(dirname -- "$FUZZ_DIR")/tests/data/corpora}
trust="" inter="" crls=""
for p in "$OUT/bin/pki/trust" "$OUT/gen-pki/trust" \
	 "$CORPORA/rfc4134-examples/CarlRSASelf.cer" \
	 "$CORPORA/rfc4134-examples/CarlDSSSelf.cer" \
	 "$CORPORA/thunderbird-smime/smime/TestCA.pem"; do
	[ -e "$p" ] && trust="$trust $p"
done
[ -d "$OUT/gen-pki/intermediates" ] && inter="$OUT/gen-pki/intermediates"
for p in "$OUT/bin/pki/crl" "$OUT/gen-pki/crl"; do
	[ -d "$p" ] && crls="$crls $p"
done
SG_FUZZ_TRUST=${SG_FUZZ_TRUST:-${trust# }}
SG_FUZZ_INTERMEDIATES=${SG_FUZZ_INTERMEDIATES:-$inter}
SG_FUZZ_CRLS=${SG_FUZZ_CRLS:-${crls# }}
SG_FUZZ_SETTINGS=${SG_FUZZ_SETTINGS-max_message_size=1048576 max_certificates=8}
export SG_FUZZ_TRUST SG_FUZZ_INTERMEDIATES SG_FUZZ_CRLS SG_FUZZ_SETTINGS
# UB aborts (-fno-sanitize-recover); make the reports useful
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}

read -r -a EXTRA <<<"${FUZZ_ARGS:-}"
CPU_BUDGET=${FUZZ_CPU_SECONDS:-}
CLK_TCK=$(getconf CLK_TCK)
case $CPU_BUDGET in
*[!0-9]*)
	echo "run.sh: FUZZ_CPU_SECONDS must be a number" >&2
	exit 2
	;;
esac

# fuzz NAME - run one fuzzer; its exit status goes to logs/NAME.rc
fuzz() {
	local name=$1 max_len dict="" seeds
	case $name in
	fuzz-verify) max_len=65536 dict=$FUZZ_DIR/mime.dict seeds=verify ;;
	fuzz-mime) max_len=65536 dict=$FUZZ_DIR/mime.dict seeds=mime ;;
	fuzz-cms) max_len=16384 seeds=cms ;;
	fuzz-config) max_len=8192 dict=$FUZZ_DIR/config.dict seeds=config ;;
	fuzz-policy) max_len=4096 seeds=policy ;;
	fuzz-ldap) max_len=16384 seeds=ldap ;;
	fuzz-keyd) max_len=8192 seeds=keyd ;;
	*) echo "run.sh: unknown fuzzer $name" >&2; echo 2 >"$OUT/logs/$name.rc"; return ;;
	esac
	mkdir -p "$OUT/corpus/$name" "$OUT/crashes/$name"
	(
	cd "$OUT/crashes/$name" || exit 2
	"$OUT/bin/$name" -max_total_time="$SECONDS_EACH" -max_len="$max_len" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/crashes/$name/" \
		${dict:+-dict="$dict"} ${EXTRA[@]+"${EXTRA[@]}"} \
		"$OUT/corpus/$name" "$OUT/seeds/$seeds" &
	pid=$! stopped=""
	# FUZZ_CPU_SECONDS: stop (SIGINT: libFuzzer prints its final
	# statistics and exits 72) once the fuzzer has used that much CPU
	while [ -n "$CPU_BUDGET" ] && kill -0 "$pid" 2>/dev/null; do
		used=$(awk -v hz="$CLK_TCK" '{ print int(($14 + $15) / hz) }' \
			"/proc/$pid/stat" 2>/dev/null || echo 0)
		if [ "${used:-0}" -ge "$CPU_BUDGET" ]; then
			stopped=1
			kill -INT "$pid" 2>/dev/null
			break
		fi
		sleep 5
	done
	wait "$pid"
	rc=$?
	if [ -n "$stopped" ] && [ "$rc" = 72 ]; then
		rc=0
	fi
	# the fuzzer's CPU time (user + system), for logs/history.tsv
	times >"$OUT/logs/$name.times"
	exit $rc
	) >"$OUT/logs/$name.log" 2>&1
	echo $? >"$OUT/logs/$name.rc"
}

# cpu_seconds "XmY.Zs XmY.Zs" - user + system of bash's times, in seconds
cpu_seconds() {
	awk '{ t = 0
		for (i = 1; i <= 2; i++) {
			split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2]
		}
		printf "%d\n", t }' <<<"$1"
}

# summary NAME - one line from the log, also appended to logs/history.tsv
summary() {
	local name=$1 log=$OUT/logs/$1.log rc execs rss last cov ft corp
	local new verdict cpu inited newcov
	rc=$(cat "$OUT/logs/$name.rc" 2>/dev/null || echo 2)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	inited=$(grep -m 1 -E '^#[0-9]+[[:space:]]+INITED' "$log" |
		 sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	newcov=$(( ${cov:-0} - ${inited:-${cov:-0}} ))
	cpu=$(cpu_seconds "$(tail -n 1 "$OUT/logs/$name.times" 2>/dev/null || echo '0m0s 0m0s')")
	new=$(find "$OUT/crashes/$name" -type f -newer "$OUT/logs/start.stamp" | head -n 1)
	if [ "$rc" = 0 ] && [ -z "$new" ]; then
		verdict=ok
	else
		verdict=FOUND
	fi
	printf '%-12s %-5s %ss cpu=%ss execs=%s cov=%s (+%s new) ft=%s corpus=%s rss=%sMB\n' \
		"$name" "$verdict" "$SECONDS_EACH" "$cpu" "${execs:-?}" \
		"${cov:-?}" "$newcov" "${ft:-?}" "${corp:-?}" "${rss:-?}"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$name" "$verdict" "$SECONDS_EACH" "$cpu" "${execs:-0}" \
		"${cov:-0}" "${corp:-0}" >>"$OUT/logs/history.tsv"
	if [ "$verdict" != ok ]; then
		grep -m 1 -E '^==[0-9]+==ERROR|^SUMMARY|invariant violated|deadly signal|ERROR: libFuzzer' "$log" | sed 's/^/    /'
		if [ -n "$new" ]; then
			printf '    input: %s\n    repro: SG_FUZZ_TRUST="%s" SG_FUZZ_INTERMEDIATES="%s" SG_FUZZ_CRLS="%s" SG_FUZZ_SETTINGS="%s" %s %s\n' \
				"$new" "$SG_FUZZ_TRUST" "$SG_FUZZ_INTERMEDIATES" \
				"$SG_FUZZ_CRLS" "$SG_FUZZ_SETTINGS" "$OUT/bin/$name" "$new"
		else
			printf '    log: %s\n' "$log"
		fi
		return 1
	fi
	return 0
}

: >"$OUT/logs/start.stamp"
sleep 1	# artifacts must be strictly newer than the stamp
pids=()
for name in $FUZZERS; do
	rm -f -- "$OUT/logs/$name.rc"
	fuzz "$name" &
	pids+=($!)
	if [ "${#pids[@]}" -ge "$JOBS" ]; then
		wait "${pids[0]}"
		pids=("${pids[@]:1}")
	fi
done
for p in ${pids[@]+"${pids[@]}"}; do
	wait "$p"
done

status=0
for name in $FUZZERS; do
	summary "$name" || status=1
done
exit "$status"
