"""DKIM signatures (RFC 6376, made by dkimpy) on every email as it leaves, for those who send
through a relay that does not sign.

Signing is the last step before the wire (or the outbox), because a signature carries the time
it was made (t=). The signature covers the headers receivers judge an email by, List-Unsubscribe
and List-Unsubscribe-Post among them (RFC 8058 requires both signed); the ones that matter are
*oversigned* (listed once more than they occur), so that nobody can add a second From, Subject
or List-Unsubscribe without breaking it. Canonicalisation is relaxed/relaxed, which survives
relays that re-fold headers or trailing spaces. RSA-SHA256 with a key of 1024 bits at least
(RFC 8301; 2048 recommended), which every receiver verifies.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from dataclasses import dataclass

import dkim
from dkim.crypto import UnparsableKeyError, parse_private_key

from mailer.config.settings import DkimSettings
from mailer.errors import UnusableKey
from mailer.model import Outgoing
from mailer.transport.base import Lane, Transport

OVERSIGNED = (  # signed once more than they occur: no copy can be added in transit
    b"from",
    b"reply-to",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
)
SIGNED = (*OVERSIGNED, b"mime-version", b"content-type", b"content-language", b"auto-submitted")
MINIMUM_BITS = 1024  # RFC 8301: verifiers must not accept less
RECOMMENDED_BITS = 2048
_PEM = re.compile(rb"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)
_RSA_ENCRYPTION = bytes.fromhex("06092a864886f70d0101010500")  # OID 1.2.840.113549.1.1.1, NULL


@dataclass(frozen=True)
class DkimKey:
    """An RSA private key, as PEM (what dkimpy signs with), and its public half."""

    pem: bytes
    modulus: int
    exponent: int

    @property
    def bits(self) -> int:
        return self.modulus.bit_length()


def read_key(text: bytes) -> DkimKey:
    """The RSA private key in `text`: PEM (PKCS#1 or PKCS#8), also with its line breaks
    written as "\\n" (an environment variable set on one line), or the bare base64 body."""
    text = text.strip().replace(b"\\n", b"\n").replace(b"\r\n", b"\n")
    if match := _PEM.search(text):
        kind, body = match.group(1).decode(), match.group(2)
        if "ENCRYPTED" in kind:
            raise UnusableKey(
                "the DKIM key is encrypted: mailer needs it decrypted (openssl pkey -in "
                "encrypted.pem -out dkim.pem), and readable by mailer only"
            )
        if kind not in ("PRIVATE KEY", "RSA PRIVATE KEY"):
            raise UnusableKey(f"this is a {kind.lower()}, not an RSA private key")
    else:
        body = text
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
        fields = parse_private_key(der)
    except (binascii.Error, UnparsableKeyError, IndexError, ValueError):
        raise UnusableKey(
            "the DKIM key is not an RSA private key in PEM form: make one with "
            "`openssl genrsa -out dkim.pem 2048`"
        ) from None
    encoded = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
    pem = b"-----BEGIN PRIVATE KEY-----\n" + lines + b"\n-----END PRIVATE KEY-----\n"
    key = DkimKey(pem, int(fields["modulus"]), int(fields["publicExponent"]))
    if key.bits < MINIMUM_BITS:
        raise UnusableKey(
            f"the DKIM key has {key.bits} bits: receivers ignore keys under {MINIMUM_BITS} "
            f"(RFC 8301); make a {RECOMMENDED_BITS}-bit one with `openssl genrsa -out dkim.pem "
            f"{RECOMMENDED_BITS}`"
        )
    return key


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def dns_record(key: DkimKey) -> str:
    """The TXT record that publishes `key`: the SubjectPublicKeyInfo in base64 (RFC 6376 3.6.1)."""
    public = _der(0x30, _der_integer(key.modulus) + _der_integer(key.exponent))
    info = _der(0x30, _der(0x30, _RSA_ENCRYPTION) + _der(0x03, b"\x00" + public))
    return f"v=DKIM1; k=rsa; p={base64.b64encode(info).decode('ascii')}"


def zone_line(settings: DkimSettings, key: DkimKey) -> str:
    """The record as a zone file line: its value cut into strings of 255 characters at most
    (the limit of one TXT string; a resolver joins them)."""
    value = dns_record(key)
    strings = " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))
    return f"{settings.record_name}. 3600 IN TXT {strings}"


class DkimSigner:
    """Signs emails as `settings.domain`, with `settings.selector`."""

    def __init__(self, settings: DkimSettings, key: DkimKey) -> None:
        self.domain = settings.domain.encode("ascii")
        self.selector = settings.selector.encode("ascii")
        self.key = key

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM-Signature header in front."""
        message = dkim.DKIM(data, minkey=MINIMUM_BITS)
        present = {name.lower() for name, _ in message.headers}
        headers = [name for name in SIGNED if name in present] + list(OVERSIGNED)
        signature: bytes = message.sign(
            self.selector,
            self.domain,
            self.key.pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
        )
        return signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + data


class SigningTransport(Transport):
    """Another transport, with every email signed on its way."""

    def __init__(self, inner: Transport, signer: DkimSigner) -> None:
        self.inner = inner
        self.signer = signer
        self.name = inner.name

    @property
    def lanes(self) -> int:
        return self.inner.lanes

    async def open_lane(self) -> Lane:
        return _SigningLane(await self.inner.open_lane(), self.signer)


class _SigningLane(Lane):
    def __init__(self, inner: Lane, signer: DkimSigner) -> None:
        self.inner = inner
        self.signer = signer

    async def send(self, message: Outgoing) -> str:
        signed = dataclasses.replace(message, data=self.signer.sign(message.data))
        self.inner.still_ours = self.still_ours
        return await self.inner.send(signed)

    async def close(self) -> None:
        await self.inner.close()
