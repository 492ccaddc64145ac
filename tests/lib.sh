# tests/lib.sh - what the shell tests (test-*.sh) share: a temporary
# directory removed at exit, the pass/fail counters and the checks that
# count, and the summary line.  POSIX sh (test-smimectl.sh is #!/bin/sh).
#
# Sourced after "set -u" from the script's own directory (make check runs
# the scripts from the source tree, also in a VPATH build or distcheck):
#	. "$(dirname -- "$0")/lib.sh"
#
# Sets tmp (a new directory, mode 755: the daemons under test may read it
# after dropping privileges), pass and fail.  At exit at_exit runs (a
# script that has more to undo, a server or a mount, defines its own after
# sourcing this), then $tmp is removed unless KEEP is set.  ("local" is
# not POSIX, but dash, Debian's /bin/sh, and bash have it.)

# shellcheck shell=sh disable=SC3043
pass=0
fail=0
tmp=$(mktemp -d) || exit 99
chmod 755 "$tmp"

at_exit() { :; }
lib_exit() {
	at_exit
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap lib_exit EXIT

# ok: one check passed; bad TEXT: one failed, "FAIL: TEXT" says which
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# show_output: the last command's output ($tmp/out, $tmp/err), indented
show_output() { sed 's/^/  | /' "$tmp/out" "$tmp/err" | head -20; }

# check NAME STATUS COMMAND...: COMMAND exits with STATUS; its output is
# left in $tmp/out and $tmp/err, its exit status in got
check() {
	local name="$1" want="$2"
	shift 2
	"$@" > "$tmp/out" 2> "$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		ok
	else
		bad "$name: exit $got, want $want"
		show_output
	fi
}

# expect NAME SHELL-CONDITION: the condition (eval'd) holds
expect() {
	if eval "$2"; then
		ok
	else
		bad "$1"
		show_output
	fi
}

# summary: "N passed, N failed"; its status is the script's (last command)
summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# http_up PORTFILE: wait (up to 15 s) until the test HTTP server started
# last ($server_pid) has written the port it listens on to PORTFILE
# (its server.py does, after the bind; given port 0 it takes a free
# one); prints the port.  Status 1 when the server ended or never did.
http_up() {
	local i
	for i in $(seq 150); do
		if [ -s "$1" ]; then
			cat "$1"
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
