#!/bin/bash
# NAME
#	bench-intake.sh - Postfix submission intake with smime-policyd +
#	smime-milter against bare Postfix, in the same run
#
# SYNOPSIS
#	SG_BUILD=BUILDDIR bench/bench-intake.sh [--messages M] [--sessions S]
#		[--size BYTES] [--rounds R] [--sink discard|pipe] [--nomilter]
#		[--floor]
#
# DESCRIPTION
#	Starts two private sandboxes (scripts/sandbox up) in fresh
#	world-searchable directories under /tmp: one with the smimeguard
#	policy service and milter on its submission port, one with
#	SANDBOX_NO_PLUGINS=1 (no smimeguard code at all).  Then, for R rounds,
#	alternating between the two (plugins first in odd rounds, bare first
#	in even ones), it sends with smtp-source(1) M messages of BYTES bytes
#	over S parallel sessions from SENDER to EXTERNAL_OPEN_RCPT (no
#	encryption requirement: smime-policyd and smime-milter still see every
#	RCPT and every message), then M to INTERNAL_RCPT, and times each
#	smtp-source run until it exits (every message accepted, i.e. queued).
#	A run counts only when smtp-source exits 0 and the submission log
#	shows no new reject; delivery (sink, Dovecot LMTP) is asynchronous and
#	not timed, but it runs on the same machine during the measurement.
#	Before every run all queues must be empty; after smtp-source exits,
#	the run also waits for its own queue to drain, and reports both
#	rates: intake (queued) and end to end (delivered).
#	Prints msgs/s per run, the median per sandbox and recipient, and the
#	ratio plugins / bare (target >= 0.7).  Both sandboxes are stopped
#	at the end, also on failure or interrupt, and their directories
#	removed (BENCH_KEEP=1 keeps them).
#
#	--sink discard (the default): the sandboxes' outbound "sink"
#	transport becomes discard(8) in both, so that mail to other domains
#	is not handed to the pipe(8) shell script that stores it for the
#	tests (perf: that script, its date, tr, cat and mv, took ~80 % of
#	the machine during a run and set the pace); --sink pipe keeps it.
#	In the plugins sandbox external mail still takes its extra hop
#	through the re-checking smtpd ("sgcheck", the milter again).
#
#	--nomilter: a third sandbox, the plugins one with the policy service
#	and the milter taken out of Postfix's configuration (submission,
#	sendmail and the after-queue smtpd) but its routing kept: external
#	mail still takes the "sgcheck" hop.  "Postfix without the milter" in
#	the sense of issue 14 target 3; plugins / nomilter is what the
#	policy service and the milter cost, plugins / bare also the hop.
#
#	--floor: a fourth sandbox, the plugins one with smime-milter replaced
#	by SG_BUILD/bench/floor-milter on the same socket (a libmilter
#	milter that accepts at DATA and decides nothing: the least any
#	libmilter milter costs Postfix; the policy service stays).
#	plugins / floor is what smime-milter costs above that floor.
#
#	Defaults: M=500, S=10, BYTES=5120, R=3, SG_BUILD=/tmp/bp-build.
#	Must run as root (the sandbox does).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
sandbox=$here/scripts/sandbox
export SG_BUILD=${SG_BUILD:-/tmp/bp-build}
msgs=500 sessions=10 size=5120 rounds=3 sink=discard nomilter=0 floor=0
while [ $# -gt 0 ]; do
	case $1 in
	--messages) msgs=$2; shift 2 ;;
	--sessions) sessions=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--sink) sink=$2; shift 2 ;;
	--nomilter) nomilter=1; shift ;;
	--floor) floor=1; shift ;;
	*) echo "usage: $0 [--messages M] [--sessions S] [--size BYTES] [--rounds R] [--sink discard|pipe] [--nomilter] [--floor]" >&2
	   exit 64 ;;
	esac
done
smtp_source=$(command -v smtp-source || echo /usr/sbin/smtp-source)
[ -x "$smtp_source" ] || { echo "bench-intake: smtp-source not found (postfix package)" >&2; exit 1; }

dplug=$(mktemp -d /tmp/bench-intake-plug.XXXXXX)
dbare=$(mktemp -d /tmp/bench-intake-bare.XXXXXX)
dnomi= dfloor= floor_pid=
sandboxes="plugins bare"
if [ "$nomilter" = 1 ]; then
	dnomi=$(mktemp -d /tmp/bench-intake-nomilter.XXXXXX)
	sandboxes="$sandboxes nomilter"
fi
if [ "$floor" = 1 ]; then
	[ -x "$SG_BUILD/bench/floor-milter" ] || {
		echo "bench-intake: no $SG_BUILD/bench/floor-milter (make -C \$SG_BUILD/bench floor-milter)" >&2
		exit 1
	}
	dfloor=$(mktemp -d /tmp/bench-intake-floor.XXXXXX)
	sandboxes="$sandboxes floor"
fi
chmod 755 "$dplug" "$dbare" $dnomi $dfloor
cleanup() {
	local d
	[ -z "$floor_pid" ] || kill "$floor_pid" 2>/dev/null || true
	for d in "$dplug" "$dbare" $dnomi $dfloor; do
		"$sandbox" down --dir "$d" >/dev/null 2>&1 || true
		if [ "${BENCH_KEEP:-0}" != 1 ]; then
			rm -rf "$d"
			rm -f "$d".env "$d".up.log
		else
			echo "bench-intake: kept $d" >&2
		fi
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-intake: starting the sandboxes (plugins: $dplug, bare: $dbare)" >&2
"$sandbox" up --dir "$dplug" >"$dplug.env" 2>"$dplug.up.log" ||
	{ tail -20 "$dplug.up.log" >&2; exit 1; }
SANDBOX_NO_PLUGINS=1 "$sandbox" up --dir "$dbare" >"$dbare.env" 2>"$dbare.up.log" ||
	{ tail -20 "$dbare.up.log" >&2; exit 1; }
mv "$dplug.env" "$dplug.up.log" "$dbare.env" "$dbare.up.log" "$dplug/" 2>/dev/null || true
if [ -n "$dnomi" ]; then
	"$sandbox" up --dir "$dnomi" >"$dnomi.env" 2>"$dnomi.up.log" ||
		{ tail -20 "$dnomi.up.log" >&2; exit 1; }
	mv "$dnomi.env" "$dnomi.up.log" "$dnomi/" 2>/dev/null || true
	# the same Postfix without smimeguard in it: no policy service, no
	# milter anywhere, the after-queue hop kept
	postconf -c "$dnomi/postfix" -e sandbox_submission_milters= \
		non_smtpd_milters= sandbox_submission_recipient_restrictions=permit
	postfix -c "$dnomi/postfix" reload >/dev/null 2>&1
fi
if [ -n "$dfloor" ]; then
	"$sandbox" up --dir "$dfloor" >"$dfloor.env" 2>"$dfloor.up.log" ||
		{ tail -20 "$dfloor.up.log" >&2; exit 1; }
	mv "$dfloor.env" "$dfloor.up.log" "$dfloor/" 2>/dev/null || true
	"$sandbox" stop smime-milter --dir "$dfloor" >/dev/null 2>&1
	fsock=$dfloor/run/milter.sock
	rm -f "$fsock"
	setsid "$SG_BUILD/bench/floor-milter" -l "unix:$fsock" </dev/null \
		>/dev/null 2>>"$dfloor/log/floor-milter.log" &
	floor_pid=$!
	for ((i = 0; i < 100; i++)); do [ -S "$fsock" ] && break; sleep 0.1; done
	[ -S "$fsock" ] || { echo "bench-intake: floor-milter did not start" >&2; exit 1; }
	chmod 666 "$fsock"
fi
case $sink in
discard)
	for d in "$dplug" "$dbare" $dnomi $dfloor; do
		postconf -c "$d/postfix" -M sink/unix="sink unix - n n - - discard"
		postfix -c "$d/postfix" reload >/dev/null 2>&1
	done ;;
pipe) ;;
*) echo "bench-intake: --sink discard|pipe" >&2; exit 64 ;;
esac

getenv() {	# DIR KEY
	sed -n "s/^$2=//p" "$1/sandbox.env"
}
declare -A port
port[plugins]=$(getenv "$dplug" SUBMISSION_PORT)
port[bare]=$(getenv "$dbare" SUBMISSION_PORT)
declare -A dirof=([plugins]=$dplug [bare]=$dbare [nomilter]=$dnomi [floor]=$dfloor)
[ -z "$dnomi" ] || port[nomilter]=$(getenv "$dnomi" SUBMISSION_PORT)
[ -z "$dfloor" ] || port[floor]=$(getenv "$dfloor" SUBMISSION_PORT)
sender=$(getenv "$dplug" SENDER)
declare -A rcpt
rcpt[external]=$(getenv "$dplug" EXTERNAL_OPEN_RCPT)
rcpt[internal]=$(getenv "$dplug" INTERNAL_RCPT)

rejects() {	# DIR: reject lines of the submission smtpd so far
	grep -cE 'postfix/submission/(smtpd|cleanup).*(reject|milter-)' \
		"$1/log/postfix.log" 2>/dev/null || true
}

# drained DIR: wait until the sandbox's Postfix queue is empty (every
# message delivered: Dovecot LMTP, the sink, or through the after-queue
# hop and then the sink)
drained() {
	local i
	for ((i = 0; i < 3000; i++)); do
		if [ -z "$(postqueue -c "$1/postfix" -j 2>/dev/null | head -c 1)" ]; then
			return 0
		fi
		sleep 0.2
	done
	echo "bench-intake: the queue of $1 did not drain in 600 s" >&2
	exit 1
}

declare -A results e2e
run() {	# SANDBOX KIND
	local sb=$1 kind=$2 d=${dirof[$1]} r0 r1 t0 t1 t2 rate rate2 x
	# nothing of an earlier run still being delivered anywhere
	for x in $sandboxes; do drained "${dirof[$x]}"; done
	r0=$(rejects "$d")
	t0=$(date +%s.%N)
	if ! "$smtp_source" -m "$msgs" -s "$sessions" -l "$size" \
		-f "$sender" -t "${rcpt[$kind]}" "127.0.0.1:${port[$sb]}" \
		>"$d/smtp-source.out" 2>&1; then
		cat "$d/smtp-source.out" >&2
		echo "bench-intake: smtp-source failed against $sb" >&2
		exit 1
	fi
	t1=$(date +%s.%N)
	drained "$d"
	t2=$(date +%s.%N)
	r1=$(rejects "$d")
	if [ "$r1" != "$r0" ]; then
		grep -E 'reject|milter-' "$d/log/postfix.log" | tail -5 >&2
		echo "bench-intake: $sb rejected mail" >&2
		exit 1
	fi
	rate=$(echo "$msgs / ($t1 - $t0)" | bc -l)
	rate2=$(echo "$msgs / ($t2 - $t0)" | bc -l)
	printf '  %-8s %-8s %5d msgs queued in %6.2f s: %7.1f msgs/s; all delivered in %6.2f s: %7.1f msgs/s\n' \
		"$sb" "$kind" "$msgs" "$(echo "$t1 - $t0" | bc -l)" "$rate" \
		"$(echo "$t2 - $t0" | bc -l)" "$rate2"
	results[$sb.$kind]+="$rate "
	e2e[$sb.$kind]+="$rate2 "
}

median() {
	tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "messages $msgs x $size bytes, $sessions sessions, $rounds rounds, sink $sink;" \
	"smtp-source $smtp_source; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# one unmeasured warm-up run each (process pools, caches)
for sb in $sandboxes; do
	"$smtp_source" -m 50 -s "$sessions" -l "$size" -f "$sender" \
		-t "${rcpt[external]}" "127.0.0.1:${port[$sb]}" >/dev/null 2>&1 || true
done
for ((r = 1; r <= rounds; r++)); do
	echo "round $r"
	# the order turns each round
	set -- $sandboxes
	for ((i = 1; i < r; i++)); do set -- "${@:2}" "$1"; done
	order="$*"
	for kind in external internal; do
		for sb in $order; do
			run "$sb" "$kind"
		done
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# CPU used by the smimeguard daemons (and floor-milter) over the whole
# run, warm-up included
cpu_of() {	# NAME PID
	[ -r "/proc/$2/stat" ] || return 0
	awk -v n="$1" -v hz="$(getconf CLK_TCK)" \
		-v m=$(((2 * rounds * msgs + 50) )) '{
		sub(/^.*\) /, ""); cpu = ($12 + $13) / hz
		printf "CPU of %s: %.2f s over %d messages (%.0f us/message)\n", n, cpu, m, cpu * 1e6 / m }' \
		"/proc/$2/stat"
}
for f in "$dplug"/run/*.ident; do
	[ -e "$f" ] || continue
	read -r pid _ <"$f" || continue
	cpu_of "$(basename "$f" .ident)" "$pid"
done
[ -z "$floor_pid" ] || cpu_of floor-milter "$floor_pid"

table() {	# TITLE ARRAY-NAME
	local -n res=$2
	local kind b p n ratio met extra
	echo
	echo "$1"
	echo
	echo "| recipient | bare Postfix msgs/s | policyd + milter msgs/s | ratio | target 0.7 |$([ -z "$dnomi" ] || echo " same Postfix without them msgs/s | ratio to it |")$([ -z "$dfloor" ] || echo " floor-milter instead msgs/s | ratio to it |")"
	echo "|---|---|---|---|---|$([ -z "$dnomi" ] || echo "---|---|")$([ -z "$dfloor" ] || echo "---|---|")"
	for kind in external internal; do
		b=$(echo "${res[bare.$kind]}" | median)
		p=$(echo "${res[plugins.$kind]}" | median)
		ratio=$(echo "$p / $b" | bc -l)
		met=met
		if (($(echo "$ratio < 0.7" | bc -l))); then met=MISSED; status=2; fi
		extra=
		if [ -n "$dnomi" ]; then
			n=$(echo "${res[nomilter.$kind]}" | median)
			extra=$(printf ' %.1f | %.2f |' "$n" "$(echo "$p / $n" | bc -l)")
		fi
		if [ -n "$dfloor" ]; then
			n=$(echo "${res[floor.$kind]}" | median)
			extra+=$(printf ' %.1f | %.2f |' "$n" "$(echo "$p / $n" | bc -l)")
		fi
		printf '| %s (%s) | %.1f | %.1f | %.2f | %s |%s\n' \
			"$kind" "${rcpt[$kind]}" "$b" "$p" "$ratio" "$met" "$extra"
	done
}
status=0
table "Intake: until smtp-source exits (every message queued), median of the rounds" results
table "End to end: until the queue is empty (every message delivered), median of the rounds" e2e
exit $status
