#!/bin/sh
# check-manpages.sh - make check: the manual cannot drift from the code.
# Every setting of the code (smimectl config --table: the core's table in
# common/config.c and every program's, settings/sg-settings.h)
# is described in conf.d/smimeguard.conf, whose "#name = value" shows the
# code's default; every generated page renders without a warning.
set -u
fail=0 pass=0
"$SMIMECTL" config --table > settings.table || exit 99
if $AWK -v check=1 -f "$SRCDIR/man/gen-conf-man.awk" settings.table \
	"$TOP_SRCDIR/conf.d/smimeguard.conf"; then
	pass=$((pass + 1))
else
	echo "FAIL: conf.d/smimeguard.conf does not document the code's settings (above)"
	fail=$((fail + 1))
fi
rm -f settings.table
# rendering needs man-db and groff (not build dependencies)
command -v man >/dev/null 2>&1 && command -v groff >/dev/null 2>&1 || {
	echo "man or groff missing: the pages are not rendered"; MANS=; }
for page in $MANS; do
	# long unbreakable paths (make distcheck's prefix) only fill badly
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "./$page" 2>&1 >/dev/null |
		grep -Ev 'cannot (adjust|break) line')
	if [ -n "$out" ]; then
		echo "FAIL: $page: $out"
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
done
# every setting in the table is in smimeguard.conf(5)
for name in $("$SMIMECTL" config --table | cut -f1); do
	if grep -q "^\.B $name\$" smimeguard.conf.5; then
		pass=$((pass + 1))
	else
		echo "FAIL: smimeguard.conf.5 does not list $name"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
