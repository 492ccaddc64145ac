#!/bin/bash
# tests/server/run.sh [BUILD_DIR [ARG...]] - run the server tests
#
# Runs every tests/server/test-*.py (test-dovecot.py: the Dovecot plugins;
# test-postfix.py: smime-policyd and smime-milter behind Postfix), one
# after the other; each starts its own private Postfix + Dovecot sandbox
# (scripts/sandbox), runs its tests against it and stops it again.
# BUILD_DIR is a configured and built smimeguard tree (the plugins in
# dovecot-plugin/.libs, the daemons in postfix-policy/, smimectl in
# tools/); default: $SG_BUILD, else the current directory.  Extra
# arguments: FILE.py names select test files (e.g. test-postfix.py), the
# others select tests by name (substrings) in every file.
#
# Output: each file's tests, its summary as "FILE: N passed, N failed",
# and the total as the last line, "N passed, N failed".
#
# Exit: 0 all passed, 1 a test failed, 77 (automake SKIP) when not root,
# when Dovecot or Postfix is not installed, or when the build has no
# smime-milter (libmilter-dev was missing when it was configured).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

build=${1:-${SG_BUILD:-$PWD}}
[ $# -gt 0 ] && shift
build=$(cd -- "$build" && pwd)

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: SKIP: the server tests must run as root" >&2
	exit 77
fi
for c in dovecot doveadm postfix; do
	if ! command -v "$c" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$c" ] && [ ! -x "/usr/bin/$c" ]; then
		echo "run.sh: SKIP: $c is not installed (scripts/install-deps)" >&2
		exit 77
	fi
done
if [ ! -x "$build/postfix-policy/smime-milter" ]; then
	echo "run.sh: SKIP: no smime-milter in $build/postfix-policy (the sandbox" \
		"needs it; install libmilter-dev and configure again)" >&2
	exit 77
fi
PATH=$PATH:/usr/sbin:/sbin
export PATH

files=()
args=()
for a in "$@"; do
	case $a in
	*.py) files+=("$here/${a##*/}") ;;
	*) args+=("$a") ;;
	esac
done
if [ ${#files[@]} -eq 0 ]; then
	files=("$here"/test-*.py)
fi

out=$(mktemp)
trap 'rm -f "$out" "$out.failed"' EXIT
: >"$out.failed"
passed=0
failed=0
rc=0
for t in "${files[@]}"; do
	name=${t##*/}
	if [ ! -f "$t" ]; then
		echo "run.sh: no such test file: $name" >&2
		failed=$((failed + 1))
		rc=1
		continue
	fi
	echo "== $name"
	st=0
	SG_BUILD=$build python3 -u "$t" ${args[@]+"${args[@]}"} | tee "$out" |
		sed -u -E "s/^([0-9]+ passed, [0-9]+ failed)\$/$name: \\1/" || st=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1) || true
	if [ -z "$line" ]; then
		echo "$name: no summary (exit status $st)"
		failed=$((failed + 1))
		rc=1
		continue
	fi
	read -r p _ f _ <<<"$line"
	passed=$((passed + p))
	failed=$((failed + f))
	# the names again at the end: a CI log may show only the tail
	grep -E '^(FAIL|ERROR): ' "$out" >>"$out.failed" || true
	if [ "$st" -ne 0 ] || [ "$f" -ne 0 ]; then
		rc=1
	fi
done
if [ -s "$out.failed" ]; then
	echo "failed:"
	sed 's/^/  /' "$out.failed"
fi
echo "$passed passed, $failed failed"
exit "$rc"
