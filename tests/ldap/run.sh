#!/bin/sh
# tests/ldap/run.sh - ldap: certificate maps and smimectl doctor against a
# throwaway slapd (see test-ldap.py).  Exit 77 (skipped) when slapd,
# ldap-utils or python3 are missing, or smimectl was built without LDAP.
#
# From make check: SMIMECTL and SG_TESTDATA come from the environment.  By
# hand: SMIMECTL=BUILD/tools/smimectl SG_TESTDATA=BUILD/tests/data-gen \
#        tests/ldap/run.sh   (after "make check" made data-gen)
set -u
: "${SMIMECTL:?set SMIMECTL to the smimectl binary}"
: "${SG_TESTDATA:?set SG_TESTDATA to the generated test data (data-gen)}"
here=$(cd "$(dirname "$0")" && pwd)

PATH=$PATH:/usr/sbin:/sbin
for tool in slapd ldapadd ldapmodify python3 openssl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not found (Debian: apt-get install slapd ldap-utils)"
		exit 77
	fi
done
for schema in core cosine inetorgperson; do
	if [ ! -r "/etc/ldap/schema/$schema.schema" ]; then
		echo "SKIP: /etc/ldap/schema/$schema.schema not found"
		exit 77
	fi
done
if "$SMIMECTL" cert lookup --map ldap:/nonexistent x@example.org 2>&1 |
	grep -q "without LDAP support"; then
	echo "SKIP: smimectl was built without LDAP support (configure --with-ldap)"
	exit 77
fi
if [ ! -d "$SG_TESTDATA/certmap" ]; then
	echo "run.sh: $SG_TESTDATA/certmap is missing (run gen-pki.sh)" >&2
	exit 99
fi
exec python3 "$here/test-ldap.py"
