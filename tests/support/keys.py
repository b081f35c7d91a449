"""RSA keys made by OpenSSL (not by mailer), and their public halves as OpenSSL writes them:
the independent side of the DKIM tests."""

from __future__ import annotations

import base64
import functools
import subprocess


@functools.cache
def rsa_key(bits: int = 2048) -> bytes:
    """A new RSA private key (PKCS#8 PEM), one per size for the whole test run."""
    return subprocess.run(["openssl", "genrsa", str(bits)], check=True, capture_output=True).stdout


@functools.cache
def openssl_record(private: bytes) -> bytes:
    """The DKIM TXT record of `private`, from OpenSSL's SubjectPublicKeyInfo."""
    der = subprocess.run(
        ["openssl", "pkey", "-pubout", "-outform", "DER"],
        input=private,
        check=True,
        capture_output=True,
    ).stdout
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
