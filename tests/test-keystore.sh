#!/bin/bash
# test-keystore.sh - smimectl key as an administrator uses it: init,
# import of PKCS#12 files made here by openssl (modern and -legacy, the
# RC2-40/3DES encoding older Windows and Outlook export) and of PEM keys,
# list (never key material), decrypt of mail encrypted here with openssl
# cms to each of two certificates of one address, export, remove,
# rotate-master (the old master opens nothing afterwards), a passphrase
# master; and every way around it: a certificate that does not name the
# address or does not match the key, a wrong PKCS#12 password, a master
# key or directory others can read, a key file moved to another address
# or truncated, an audit log that cannot be written.  Prints "N passed,
# N failed".
set -u
: "${SMIMECTL:?}" "${SG_TESTDATA:?}"
. "$(dirname -- "$0")/lib.sh"

D=$SG_TESTDATA
K=$tmp/keys
M=$tmp/master.key
key() { "$SMIMECTL" key "$1" -c /dev/null --keystore "$K" --master-key "$M" "${@:2}"; }
mode() { stat -c %a "$1"; }

# ---- init ----
check "init" 0 key init
expect "master key file 0600" '[ "$(mode "$M")" = 600 ]'
expect "keystore directory 0700" '[ "$(mode "$K")" = 700 ]'
check "init again refused" 2 key init
expect "init again says why" 'grep -q "exists already" "$tmp/err"'

# ---- keys and PKCS#12 files made here ----
printf 'p12 secret\n' >"$tmp/pw"
printf 'wrong\n' >"$tmp/badpw"
openssl pkcs12 -export -in "$D/pki/bob@example.org.pem" \
	-inkey "$D/pki/bob@example.org.key" -certfile "$D/pki/bob@example.org.chain.pem" \
	-passout file:"$tmp/pw" -out "$tmp/bob-modern.p12" 2>/dev/null
openssl pkcs12 -export -legacy -in "$D/certmap/bob-new.pem" \
	-inkey "$D/certmap-keys/bob@example.org.key" \
	-passout file:"$tmp/pw" -out "$tmp/bob-legacy.p12" 2>/dev/null
expect "the legacy file is RC2/3DES" \
	'openssl pkcs12 -in "$tmp/bob-legacy.p12" -info -noout -passin file:"$tmp/pw" -legacy 2>&1 | grep -Eq "RC2|3DES|des-ede3"'
# a fresh key and certificate for erin (self-signed: the keystore does
# not judge trust, only that the certificate names the address)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/erin.key" \
	-out "$tmp/erin.pem" -days 30 -subj "/CN=Erin Example" \
	-addext "subjectAltName=email:erin@example.org" 2>/dev/null

check "import modern PKCS#12" 0 key import --address bob@example.org \
	--password-file "$tmp/pw" "$tmp/bob-modern.p12"
expect "import names the fingerprint" 'grep -q "^stored: bob@example.org sha256:" "$tmp/out"'
fpr_old=$(sed -n 's/^stored: .* sha256://p' "$tmp/out")
check "import legacy PKCS#12" 0 key import --address BOB@example.org \
	--password-file "$tmp/pw" "$tmp/bob-legacy.p12"
expect "legacy provider loaded, and said so" 'grep -q "legacy provider" "$tmp/err"'
fpr_new=$(sed -n 's/^stored: .* sha256://p' "$tmp/out")
expect "two keys for bob" '[ -n "$fpr_old" ] && [ -n "$fpr_new" ] && [ "$fpr_old" != "$fpr_new" ]'
check "import PEM key and certificate" 0 key import --address erin@example.org \
	--key "$tmp/erin.key" --cert "$tmp/erin.pem"
check "wrong PKCS#12 password" 1 key import --address bob@example.org \
	--password-file "$tmp/badpw" "$tmp/bob-modern.p12"
expect "wrong password said" 'grep -q "wrong password" "$tmp/err"'
check "certificate does not name the address" 1 key import \
	--address alice@example.org --key "$tmp/erin.key" --cert "$tmp/erin.pem"
expect "refusal names both addresses" \
	'grep -q "does not name alice@example.org (it names: erin@example.org)" "$tmp/err"'
check "key does not match the certificate" 1 key import \
	--address erin@example.org --key "$D/pki/alice@example.org.key" --cert "$tmp/erin.pem"
expect "mismatch said" 'grep -q "does not belong to the certificate" "$tmp/err"'
check "no address" 2 key import --password-file "$tmp/pw" "$tmp/bob-modern.p12"

# ---- the files: private, no key in the clear ----
n_files=$(find "$K" -name '*.key' | wc -l)
expect "three key files" '[ "$n_files" -eq 3 ]'
expect "key files 0600" '[ -z "$(find "$K" -name "*.key" ! -perm 600)" ]'
expect "no private key in the clear on disk" 'python3 - "$K" "$D/pki/bob@example.org" "$tmp/erin" <<EOF
import subprocess, sys, glob
blob = b"".join(open(f, "rb").read() for f in glob.glob(sys.argv[1] + "/*"))
for base in sys.argv[2:]:
    der = subprocess.run(["openssl", "pkey", "-in", base + ".key", "-outform",
                          "DER"], capture_output=True, check=True).stdout
    cert = subprocess.run(["openssl", "x509", "-in", base + ".pem", "-outform",
                           "DER"], capture_output=True, check=True).stdout
    private = 0
    for i in range(0, len(der) - 32, 8):
        w = der[i:i + 32]
        if w in cert:
            continue        # the modulus: public, in the certificate
        private += 1
        if w in blob:
            sys.exit(1)
    if private < 50:
        sys.exit(2)
EOF'

# ---- list ----
check "list" 0 key list
expect "list shows both bob fingerprints" 'grep -q "$fpr_old" "$tmp/out" && grep -q "$fpr_new" "$tmp/out"'
expect "list shows subject, serial, validity" \
	'grep -q "subject: .*Bob Example" "$tmp/out" && grep -q "serial: " "$tmp/out" && grep -q "valid: .* \.\. " "$tmp/out"'
expect "list shows no key material" '! grep -Eq "PRIVATE|BEGIN|MII" "$tmp/out"'
check "list --json" 0 key list --json
expect "json: one object per key" '[ "$(wc -l < "$tmp/out")" -eq 3 ] && python3 -c "
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    assert o[\"problem\"] is None and len(o[\"fingerprint\"]) == 64, o
    assert not any(\"PRIVATE\" in str(v) for v in o.values())
" "$tmp/out"'
check "list --address" 0 key list --address Bob@Example.org --json
expect "two for bob" '[ "$(wc -l < "$tmp/out")" -eq 2 ]'
check "list needs no master key" 0 "$SMIMECTL" key list -c /dev/null --keystore "$K" \
	--master-key "$tmp/nonexistent"

# ---- decrypt: old mail with the old key, new mail with the new ----
printf 'Content-Type: text/plain\r\n\r\nthe old secret\r\n' >"$tmp/old.txt"
printf 'Content-Type: text/plain\r\n\r\nthe new secret\r\n' >"$tmp/new.txt"
openssl cms -encrypt -aes256 -in "$tmp/old.txt" -out "$tmp/old.eml" "$D/pki/bob@example.org.pem"
openssl cms -encrypt -aes-128-gcm -in "$tmp/new.txt" -out "$tmp/new.eml" "$D/certmap/bob-new.pem"
openssl cms -encrypt -aes256 -in "$tmp/old.txt" -out "$tmp/alice.eml" "$D/pki/alice@example.org.pem"
check "decrypt old mail" 0 key decrypt --address bob@example.org "$tmp/old.eml"
expect "old mail decrypted" 'grep -q "the old secret" "$tmp/out"'
check "decrypt new mail (AuthEnvelopedData)" 0 key decrypt "$tmp/new.eml"
expect "new mail decrypted" 'grep -q "the new secret" "$tmp/out"'
check "decrypt into a file" 0 key decrypt --out "$tmp/clear.eml" "$tmp/old.eml"
expect "clear file 0600" '[ "$(mode "$tmp/clear.eml")" = 600 ] && grep -q "the old secret" "$tmp/clear.eml"'
check "an existing file is not replaced" 2 key decrypt --out "$tmp/clear.eml" "$tmp/old.eml"
check "mail to someone else" 1 key decrypt "$tmp/alice.eml"
expect "says no stored key" 'grep -q "not encrypted to a key of the keystore" "$tmp/err"'
check "bob's mail for erin's keys" 1 key decrypt --address erin@example.org "$tmp/old.eml"
check "plain mail" 1 key decrypt "$tmp/old.txt"
expect "audit: decrypt with user, fingerprint, time" \
	'grep -Eq "^[0-9-]+T[0-9:]+Z uid=[0-9]+ user=\"[^\"]+\" command=\"decrypt\" fingerprint=\"$fpr_old\" .*outcome=\"decrypted\"" "$K/audit.log"'
expect "audit: the refusal too" 'grep -q "command=\"decrypt\" input=\"$tmp/alice.eml\" outcome=\"the message is not" "$K/audit.log"'
expect "audit log 0600" '[ "$(mode "$K/audit.log")" = 600 ]'

# ---- export ----
check "export" 0 key export --fingerprint "${fpr_old:0:20}" --out "$tmp/export.pem"
expect "export 0600" '[ "$(mode "$tmp/export.pem")" = 600 ]'
expect "exported key is bob's" \
	'[ "$(openssl pkey -in "$tmp/export.pem" -pubout 2>/dev/null)" = "$(openssl x509 -in "$D/pki/bob@example.org.pem" -noout -pubkey)" ]'
expect "audit: export" 'grep -q "command=\"export\" fingerprint=\"$fpr_old\" address=\"bob@example.org\"" "$K/audit.log"'
check "export: unknown fingerprint" 1 key export --fingerprint 0000000000000000 --out "$tmp/x.pem"
expect "nothing written" '[ ! -e "$tmp/x.pem" ]'
# an audit log that cannot be written: nothing leaves
mv "$K/audit.log" "$tmp/audit.saved"
mkdir "$K/audit.log"
check "export refused without the audit log" 2 key export --fingerprint "$fpr_old" --out "$tmp/y.pem"
expect "export refused: no file left" '[ ! -e "$tmp/y.pem" ] && grep -q "audit log" "$tmp/err"'
check "decrypt refused without the audit log" 2 key decrypt "$tmp/old.eml"
expect "decrypt refused: no plaintext" '! grep -q "secret" "$tmp/out"'
rmdir "$K/audit.log"
mv "$tmp/audit.saved" "$K/audit.log"

# ---- modes ----
chmod 640 "$M"
check "group-readable master key refused" 2 key decrypt "$tmp/old.eml"
expect "says chmod 600" 'grep -q "chmod 600 $M" "$tmp/err"'
chmod 600 "$M"
chmod 755 "$K"
check "open keystore directory refused" 2 key list
expect "says chmod 700" 'grep -q "chmod 700" "$tmp/err"'
chmod 700 "$K"

# ---- a key file moved to another address, a truncated one ----
f_erin=$(grep -l "Erin Example" "$K"/*.key)
h_alice=$(printf '%s' alice@example.org | sha256sum | cut -c1-16)
cp "$f_erin" "$K/$h_alice-${f_erin##*-}"
check "list: moved file unusable" 1 key list --address alice@example.org
expect "moved file: said why" 'grep -q "renamed or moved" "$tmp/out"'
rm "$K/$h_alice-${f_erin##*-}"
cp "$f_erin" "$tmp/erin.saved"
head -c 300 "$tmp/erin.saved" >"$f_erin"
check "list: truncated file unusable" 1 key list
expect "truncated: said" 'grep -q "truncated key file" "$tmp/out"'
cp "$tmp/erin.saved" "$f_erin"

# ---- rotate-master ----
cp "$M" "$tmp/old-master.key"
check "rotate-master" 0 key rotate-master
expect "three rewrapped" 'grep -q "^3 key files rewrapped" "$tmp/out"'
expect "no new master left beside it" '[ ! -e "$M.new" ] && [ "$(mode "$M")" = 600 ]'
check "new master opens old mail" 0 key decrypt "$tmp/old.eml"
check "new master opens new mail" 0 key decrypt "$tmp/new.eml"
check "old master opens nothing" 1 "$SMIMECTL" key decrypt -c /dev/null \
	--keystore "$K" --master-key "$tmp/old-master.key" "$tmp/old.eml"
expect "old master: another master key" 'grep -q "another master key" "$tmp/err"'

# an interrupted rotation: a damaged file stops it, the new master key
# waits beside the old one, and the next run finishes it
cp "$f_erin" "$tmp/erin.saved"
head -c 300 "$tmp/erin.saved" >"$f_erin"
check "rotation stopped by a damaged file" 2 key rotate-master
expect "says what to do" 'grep -q "rotate-master again" "$tmp/err" && [ -e "$M.new" ]'
expect "the others are rewrapped" 'grep -q "2 key files rewrapped" "$tmp/err"'
cp "$tmp/erin.saved" "$f_erin"
check "rotation finished by running it again" 0 key rotate-master
expect "finishing said, one file left to do" \
	'grep -q "finishing the rotation" "$tmp/err" && grep -q "^1 key file rewrapped" "$tmp/out" && [ ! -e "$M.new" ]'
check "every key opens after the resumed rotation" 0 key list
expect "all under one master" '[ "$(grep -o "under master key [0-9a-f]*" "$tmp/out" | sort -u | wc -l)" -eq 1 ]'
check "erin's key opens" 0 key export --fingerprint "$(basename "${f_erin##*-}" .key)" --out "$tmp/erin-export.pem"

# ---- a passphrase master (small test-only Argon2id cost) ----
printf 'a long passphrase\n' >"$tmp/pass"
printf 'another passphrase\n' >"$tmp/pass2"
check "rotate to a passphrase master" 0 key rotate-master --passphrase \
	--kdf-cost minimum --new-passphrase-file "$tmp/pass"
expect "passphrase master holds no key" '[ "$(stat -c %s "$M")" -lt 100 ]'
check "decrypt with the passphrase" 0 key decrypt --passphrase-file "$tmp/pass" "$tmp/old.eml"
expect "decrypted with the passphrase" 'grep -q "the old secret" "$tmp/out"'
check "wrong passphrase" 2 key decrypt --passphrase-file "$tmp/pass2" "$tmp/old.eml"
expect "wrong passphrase said" 'grep -q "wrong passphrase" "$tmp/err"'
check "passphrase from the environment" 0 env SMIMECTL_PASSPHRASE='a long passphrase' \
	"$SMIMECTL" key decrypt -c /dev/null --keystore "$K" --master-key "$M" "$tmp/new.eml"
check "no terminal, no passphrase" 2 setsid "$SMIMECTL" key decrypt -c /dev/null \
	--keystore "$K" --master-key "$M" "$tmp/old.eml" </dev/null
# the terminal prompt: asked on /dev/tty, not echoed
cat >"$tmp/prompt-test.py" <<'EOF'
import os, pty, select, signal, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
end = time.time() + 30      # never hang: the child is killed after 30 s
def read_some():
    global out
    r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
    if not r:
        return False
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        return False
    out += chunk
    return bool(chunk)
while b"passphrase: " not in out and time.time() < end and read_some():
    pass
os.write(fd, b"a long passphrase\n")
while time.time() < end and read_some():
    pass
done, status = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
open(sys.argv[0] + ".out", "wb").write(out)
sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and b"the old secret" in out
         and b"a long passphrase" not in out else 1)
EOF
check "passphrase asked on the terminal" 0 python3 "$tmp/prompt-test.py" "$SMIMECTL" key decrypt \
	-c /dev/null --keystore "$K" --master-key "$M" "$tmp/old.eml"
expect "the prompt was shown, the passphrase not echoed" \
	'grep -q "master key passphrase: " "$tmp/prompt-test.py.out" && ! grep -q "a long passphrase" "$tmp/prompt-test.py.out"'
check "init a passphrase keystore" 0 "$SMIMECTL" key init -c /dev/null --passphrase \
	--kdf-cost minimum --keystore "$tmp/k2" --master-key "$tmp/m2" \
	--passphrase-file "$tmp/pass2"
check "import into it" 0 "$SMIMECTL" key import -c /dev/null --keystore "$tmp/k2" \
	--master-key "$tmp/m2" --passphrase-file "$tmp/pass2" \
	--address erin@example.org --key "$tmp/erin.key" --cert "$tmp/erin.pem"

# ---- remove ----
check "remove the new bob key" 0 key remove --fingerprint "$fpr_new"
check "remove again: none" 1 key remove --fingerprint "$fpr_new"
check "old mail still opens" 0 key decrypt --passphrase-file "$tmp/pass" "$tmp/old.eml"
check "new mail does not" 1 key decrypt --passphrase-file "$tmp/pass" "$tmp/new.eml"
check "not a fingerprint" 2 key remove --fingerprint xyz

summary
