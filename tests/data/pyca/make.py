#!/usr/bin/env python3
"""make.py - S/MIME messages made by python-cryptography, for the tests

Run by hand, once with each python-cryptography version at hand (see
README.md); never at build or test time.  The first run makes the CA,
the signer and a CRL (EC P-256, valid 2025-2075); every run then writes,
for the version running it (V):

  pyca-V-detached.eml     DetachedSignature: multipart/signed, no eContent
  pyca-V-encap.eml        multipart/signed whose SignedData also carries
                          the content as eContent, byte for byte part 1
  pyca-V-encap-lf.eml     the same with the Binary option: eContent with
                          bare LFs, part 1 in CRLF (the same text after
                          canonicalisation)
  pyca-V-encap-wrapped.eml  the same as pyca-V-encap over an RFC 8551 3.1
                          wrapper (message/rfc822; forwarded=no) with From
                          fields inside
  pyca-V-encap-other.eml  twin: part 1 replaced by other text, eContent
                          still the signed one (eContent confusion)
  pyca-V-encap-extra-line.eml  twin: part 1 with one more empty line than
                          the eContent
  pyca-V-encap-inserted.eml  twin: a valid DetachedSignature of part 1 with
                          other text put in as eContent (openssl, which
                          digests part 1, accepts it)

python-cryptography 48 writes multipart/signed with eContent itself when
DetachedSignature is not given (Encoding.SMIME).  Version 38 writes
application/pkcs7-mime then; for 38 this script takes its DER SignedData
(with eContent) and wraps it in multipart/signed the way 48 does.  Every
file, with the version that made it and how, is listed in MANIFEST, and
pyca.tsv gets its rows (the format of the generated cases.tsv; paths are
relative to tests/data).  Rows of other versions are kept.
"""
import base64
import datetime
import os
import platform
import re
import sys

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
V = cryptography.__version__
MAJOR = int(V.split(".")[0])
ADDR = "alice@example.org"
NB = datetime.datetime(2025, 1, 1)
NA = datetime.datetime(2075, 1, 1)
SETTINGS = "trust_anchors=pyca/ca.pem crl_dirs=pyca/crl.pem"


def p(name):
    return os.path.join(HERE, name)


def wr(name, data):
    with open(p(name), "wb") as f:
        f.write(data)


def rd(name):
    with open(p(name), "rb") as f:
        return f.read()


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smimeguard tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki():
    """CA, signer (alice@example.org) and an empty CRL; keys unencrypted"""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("python-cryptography test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(NB).not_valid_after(NA)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                       False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("Alice (python-cryptography)"))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NB).not_valid_after(NA)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                         False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(ADDR)]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name)
           .last_update(NB).next_update(NA)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               ca_key.public_key()), critical=False)
           .add_extension(x509.CRLNumber(1), critical=False)
           .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    raw = dict(encoding=pem, format=serialization.PrivateFormat.PKCS8,
               encryption_algorithm=serialization.NoEncryption())
    wr("ca.pem", ca.public_bytes(pem))
    wr("ca.key", ca_key.private_bytes(**raw))
    wr("signer.pem", cert.public_bytes(pem))
    wr("signer.key", key.private_bytes(**raw))
    wr("crl.pem", crl.public_bytes(pem))
    return ["ca.pem", "ca.key", "signer.pem", "signer.key", "crl.pem"]


TEXT = (b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        b"Hello Bob,\r\n\r\nthe report for March is attached.\r\n\r\nAlice\r\n")
WRAPPED = (b"Content-Type: message/rfc822; forwarded=no\r\n"
           b"From: " + ADDR.encode() + b"\r\n\r\n"
           b"From: " + ADDR.encode() + b"\r\nTo: bob@example.org\r\n"
           b"Subject: report\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
           b"Hello Bob,\r\n\r\nthe report for April is attached.\r\n")
OTHER = TEXT.replace(b"March is attached.", b"March: pay IBAN X")


def header(kind, eol):
    """the message header an application puts above the entity"""
    return eol.join([b"From: Alice <" + ADDR.encode() + b">", b"To: bob@example.org",
                     ("Subject: python-cryptography %s %s" % (V, kind)).encode(),
                     b"Date: Mon, 02 Mar 2026 10:00:00 +0000",
                     ("Message-ID: <pyca-%s-%s@example.org>" % (V, kind)).encode(),
                     b""])


def builder(data):
    return (pkcs7.PKCS7SignatureBuilder().set_data(data)
            .add_signer(CERT, KEY, hashes.SHA256()))


def wrap(part1, der):
    """multipart/signed around DER SignedData, in 48's layout"""
    bd = b"===============pyca-" + V.encode() + b"=="
    sig = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return (b'MIME-Version: 1.0\r\nContent-Type: multipart/signed; '
            b'protocol="application/x-pkcs7-signature"; micalg="sha-256"; '
            b'boundary="' + bd + b'"\r\n\r\nThis is an S/MIME signed message\r\n\r\n--' +
            bd + b"\r\n" + part1 + b"\r\n--" + bd + b"\r\n"
            b'Content-Type: application/x-pkcs7-signature; name="smime.p7s"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n' +
            sig + b"\r\n--" + bd + b"--\r\n")


def encap(data, binary, part1):
    """(message entity, how it was made) with eContent = data as signed;
    part1: the first part where make.py wraps (38)"""
    opts = [pkcs7.PKCS7Options.Binary] if binary else []
    how = "PKCS7SignatureBuilder.sign(%s, [%s])" % (
        "%s", "Binary" if binary else "")
    if MAJOR >= 48:
        return builder(data).sign(serialization.Encoding.SMIME, opts), how % "SMIME"
    der = builder(data).sign(serialization.Encoding.DER, opts)
    return wrap(part1, der), (how % "DER") + ", wrapped in multipart/signed by make.py"


def split(msg):
    """(part 1, eContent or None) of a multipart/signed entity"""
    bd = re.search(rb'boundary="([^"]+)"', msg).group(1)
    segs = re.split(rb"\r?\n--" + re.escape(bd), msg)
    part1 = re.sub(rb"^\r?\n", b"", segs[1])
    sigpart = re.sub(rb"^\r?\n", b"", segs[2])
    b64 = re.split(rb"\r?\n\r?\n", sigpart, 1)[1]
    return part1, econtent(base64.b64decode(b"".join(b64.split())))


def _tlv(b, i):
    """(tag, start of value, end of value) of the DER element at i"""
    t, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return t, i, i + n


def _enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _wrap_tlv(tag, body):
    return bytes([tag]) + _enc_len(len(body)) + body


def insert_econtent(der, content):
    """a detached DER SignedData with content put in as eContent (the
    signature still covers only the detached part)"""
    _, ci, _ = _tlv(der, 0)
    ct_end = _tlv(der, ci)[2]
    _, x0, _ = _tlv(der, ct_end)           # [0] EXPLICIT
    _, sd, sd_end = _tlv(der, x0)          # SignedData
    dig_end = _tlv(der, _tlv(der, sd)[2])[2]
    _, eci, eci_end = _tlv(der, dig_end)   # encapContentInfo
    etype_end = _tlv(der, eci)[2]
    if etype_end != eci_end:
        raise ValueError("not detached")
    new_eci = _wrap_tlv(0x30, der[eci:etype_end] +
                        _wrap_tlv(0xa0, _wrap_tlv(0x04, content)))
    new_sd = _wrap_tlv(0x30, der[sd:dig_end] + new_eci + der[eci_end:sd_end])
    return _wrap_tlv(0x30, der[ci:ct_end] + _wrap_tlv(0xa0, new_sd))


def econtent(der):
    """the eContent octets of a DER SignedData, or None (detached)"""
    _, i, _ = _tlv(der, 0)                # ContentInfo
    i = _tlv(der, i)[2]                   # contentType
    _, i, _ = _tlv(der, i)                # [0] EXPLICIT
    _, i, _ = _tlv(der, i)                # SignedData
    i = _tlv(der, i)[2]                   # version
    i = _tlv(der, i)[2]                   # digestAlgorithms
    _, i, end = _tlv(der, i)              # encapContentInfo
    i = _tlv(der, i)[2]                   # eContentType
    if i >= end:
        return None
    _, i, _ = _tlv(der, i)                # [0] EXPLICIT
    t, i, e = _tlv(der, i)
    if t != 0x04:
        raise ValueError("eContent is not a primitive OCTET STRING")
    return der[i:e]


def main():
    made = []
    if not os.path.exists(p("ca.pem")):
        made += [(f, "test PKI") for f in make_pki()]
    global CERT, KEY
    CERT = x509.load_pem_x509_certificate(rd("signer.pem"))
    KEY = serialization.load_pem_private_key(rd("signer.key"), None)
    out = {}   # kind -> (entity, how)

    det = builder(TEXT).sign(serialization.Encoding.SMIME,
                             [pkcs7.PKCS7Options.DetachedSignature])
    out["detached"] = (det, "PKCS7SignatureBuilder.sign(SMIME, [DetachedSignature])")
    out["encap"] = encap(TEXT, False, TEXT)
    out["encap-lf"] = encap(TEXT.replace(b"\r\n", b"\n"), True, TEXT)
    out["encap-wrapped"] = encap(WRAPPED, False, WRAPPED)
    ent, how = out["encap"]
    eol = b"\r\n" if b"\r\n" in ent else b"\n"
    t = TEXT.replace(b"\r\n", eol)
    assert ent.count(t) == 1
    out["encap-other"] = (ent.replace(t, OTHER.replace(b"\r\n", eol)),
                          how + ", then part 1 replaced by make.py")
    out["encap-extra-line"] = (ent.replace(t, t + eol),
                               how + ", then an empty line added to part 1 by make.py")

    # a valid detached signature of part 1 (what openssl and multipart
    # readers check) with other text put in as eContent (what a reader of
    # the CMS content shows)
    der = builder(TEXT).sign(serialization.Encoding.DER,
                             [pkcs7.PKCS7Options.DetachedSignature])
    out["encap-inserted"] = (wrap(TEXT, insert_econtent(der, OTHER)),
                             "PKCS7SignatureBuilder.sign(DER, [DetachedSignature]), "
                             "then other text put in as eContent and wrapped in "
                             "multipart/signed by make.py")

    # what each must be: part 1 vs eContent (canonical CRLF)
    canon = lambda b: re.sub(rb"(?<!\r)\n", b"\r\n", b)   # noqa: E731
    expect = {"detached": "none", "encap": "same", "encap-lf": "lf",
              "encap-wrapped": "same", "encap-other": "differs",
              "encap-extra-line": "differs", "encap-inserted": "differs"}
    rows = []
    for kind, (ent, how) in out.items():
        part1, ec_ = split(ent)
        part1 = canon(part1)
        if ec_ is None:
            got = "none"
        elif ec_ == part1:
            got = "same"
        elif canon(ec_) == part1:
            got = "lf"
        else:
            got = "differs"
        if got != expect[kind]:
            sys.exit("%s: eContent %s, expected %s" % (kind, got, expect[kind]))
        fname = "pyca-%s-%s.eml" % (V, kind)
        first = ent.split(b"\n", 1)[0]
        wr(fname, header(kind, b"\r\n" if first.endswith(b"\r") else b"\n") + ent)
        made.append((fname, how))
        note = {"none": "detached, no eContent",
                "same": "eContent identical to part 1",
                "lf": "eContent with bare LFs, part 1 CRLF: same text",
                "differs": "eContent differs from part 1"}[got]
        ok = got != "differs"
        rows.append("\t".join([
            "pyca/" + fname, SETTINGS, "signed/verified" if ok else "signed/failed",
            "-" if ok else "ambiguous-content",
            "python-cryptography %s: %s (%s)" % (V, note, kind)]))

    # MANIFEST and pyca.tsv: replace this version's lines, keep the others
    tag = "pyca-%s-" % V
    man = []
    if os.path.exists(p("MANIFEST")):
        man = [ln for ln in rd("MANIFEST").decode().splitlines()
               if not ln.startswith(tag)]
    for f, how in made:
        man.append("%s\tcryptography %s, Python %s\t%s" % (
            f, V, platform.python_version(), how))
    wr("MANIFEST", ("\n".join(sorted(man)) + "\n").encode())
    tsv = []
    if os.path.exists(p("pyca.tsv")):
        tsv = [ln for ln in rd("pyca.tsv").decode().splitlines()
               if not ln.startswith("pyca/" + tag)]
    wr("pyca.tsv", ("\n".join(sorted(tsv + rows)) + "\n").encode())
    print("cryptography %s: %d files" % (V, len(made)))


main()
