#!/bin/sh
# run.sh - generate the benchmark corpus and run bench-verify
#
# Usage: bench/run.sh [BUILDDIR] [bench-verify options...]
#
# BUILDDIR is the top build directory (default: the source tree, i.e. an
# in-tree build); bench-verify must have been built there with
# "make -C BUILDDIR/bench" (it is a noinst program, so plain "make" at the
# top builds it too).  Options such as --seconds 5 or --cli-iterations 50
# are passed to bench-verify.  The corpus goes to a temporary directory
# that is removed afterwards, unless BENCH_DATA names a directory to
# (re)use.  OPENSSL selects the openssl CLI for both steps.
set -eu

srcdir=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "$srcdir/.." && pwd)
if [ $# -gt 0 ]; then
	case $1 in
	-*) ;;
	*) builddir=$1; shift ;;
	esac
fi

bin=$builddir/bench/bench-verify
if [ ! -x "$bin" ]; then
	echo "run.sh: $bin not found; build it first:" >&2
	echo "  make -C $builddir/common && make -C $builddir/bench" >&2
	exit 1
fi

if [ -n "${BENCH_DATA:-}" ]; then
	data=$BENCH_DATA
else
	data=$(mktemp -d "${TMPDIR:-/tmp}/smimeguard-bench.XXXXXX")
	trap 'rm -rf "$data"' EXIT INT TERM
fi

"$srcdir/gen-bench.sh" "$data" >&2
if [ -n "${OPENSSL:-}" ]; then
	set -- --openssl "$OPENSSL" "$@"
fi
# Not exec: the trap must remove the corpus afterwards.
"$bin" "$@" "$data"
