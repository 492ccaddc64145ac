#!/bin/bash
# tests/server/run.sh [BUILD_DIR] - run the server tests (test-dovecot.py)
#
# Starts a private Postfix + Dovecot sandbox with the smimeguard plugins
# (scripts/sandbox), runs the tests against it and stops it again.
# BUILD_DIR is a configured and built smimeguard tree (the plugins in
# dovecot-plugin/.libs, smimectl in tools/); default: $SG_BUILD, else the
# current directory.  Extra arguments select tests by name.
#
# Exit: 0 all passed, 1 a test failed, 77 (automake SKIP) when not root or
# when Dovecot or Postfix is not installed.
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
PATH=$PATH:/usr/sbin:/sbin
export PATH
SG_BUILD=$build exec python3 "$here/test-dovecot.py" "$@"
