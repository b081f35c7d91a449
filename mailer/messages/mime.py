"""The MIME skeleton of the emails of one send: every byte that recipients of one language share,
with slots for what is theirs (headers, the two bodies, and, for a meeting invitation, the
calendar parts that name them as ATTENDEE).

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8                         quoted-printable
        [multipart/related]                               with [organiser] logo only
          text/html; charset=utf-8                        quoted-printable, CSS inlined
          [image/png or image/jpeg; Content-ID logo@domain   base64, inline]
        [text/calendar; method=REQUEST|CANCEL; charset=UTF-8   base64]   inline: REQUEST, CANCEL
      [text/calendar; method=...; name=X.ics              base64, attachment; filename=X.ics]

This is the shape of Zoom's own invitations, and the one Outlook 2007 needed (it looked at the
first child of multipart/mixed only). Calendar parts are base64 (quoted-printable broke Outlook:
rdv-service-public#1354), byte for byte the .ics file.
"""

from __future__ import annotations

import base64
import email.header
import email.policy
import email.utils
import functools
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from mailer.calendar.ics import Method
from mailer.config.settings import Config

INLINE_METHODS = frozenset({"REQUEST", "CANCEL"})  # what clients act on inline (MS-OXCICAL)
_POLICY = email.policy.SMTP
_HEADERS_SLOT = b"X-Mailer-Recipient: headers\r\n"
_LIST_ID_SLOT = b"X-Mailer-List-Id: list\r\n"
_TEXT_SLOT = b"mailerbodyplaintext"
_HTML_SLOT = b"mailerbodyhtmltext"
_CALENDAR_SLOT = b"mailercalendarpart"
_CALENDAR_BASE64 = base64.b64encode(_CALENDAR_SLOT)
HEADERS, TEXT, HTML, CALENDAR = "headers", "text", "html", "calendar"


@dataclass(frozen=True)
class Skeleton:
    """`pieces` with a slot between each two: `slots[i]` goes after `pieces[i]`."""

    pieces: tuple[bytes, ...]
    slots: tuple[str, ...]

    @functools.cached_property
    def dots(self) -> bool:
        """Whether a line of a piece may start with a dot (each piece starts a line, or
        continues a body's last line: then this says yes where SMTP would not care)."""
        return any(piece.startswith(b".") or b"\n." in piece for piece in self.pieces)

    def fill(self, values: dict[str, bytes]) -> bytes:
        """The message, each slot replaced by its bytes."""
        parts = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            parts.append(values[slot])
            parts.append(piece)
        return b"".join(parts)


def organiser_domain(config: Config) -> str:
    """The domain of the organiser's address, in ASCII: what Message-IDs and Content-IDs end
    with."""
    return Address(addr_spec=config.organiser.email).domain.encode("idna").decode()


def logo_cid(domain: str) -> str:
    """The Content-ID of the organiser's logo (`<img src="cid:...">` in the HTML)."""
    return f"logo@{domain}"


def calendar_part(data: bytes) -> bytes:
    """A calendar part's body: base64 in lines of 76, CRLF."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def skeleton(
    config: Config,
    *,
    language: str,
    method: Method | None,
    calendar: bytes | None,
    filename: str,
    domain: str,
) -> Skeleton:
    """The skeleton of the emails in `language`. `method` None: no calendar part at all;
    `calendar` None: the calendar parts are slots (one per recipient), else these bytes."""
    message = EmailMessage(policy=_POLICY)
    message.make_mixed()  # first: it would move Content-* headers into a sub-part
    message["MIME-Version"] = "1.0"
    message["From"] = Address(config.organiser.name, addr_spec=config.organiser.email)
    if config.organiser.reply_to:
        message["Reply-To"] = Address(addr_spec=config.organiser.reply_to)
    message["X-Mailer-Recipient"] = "headers"
    # List-Id (RFC 2919) is written directly: Python folds it as unstructured text and would
    # leave the ":" and "?" of the title bare, which a phrase may not hold
    message["X-Mailer-List-Id"] = "list"
    message["Content-Language"] = language
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"  # the same, for Exchange
    alternative = EmailMessage(policy=_POLICY)
    alternative.set_content(
        _TEXT_SLOT.decode(), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    alternative.add_alternative(
        _HTML_SLOT.decode(), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    logo = config.organiser.logo
    if logo is not None and logo.data:  # multipart/related: the HTML, then its image
        html = alternative.get_payload()[1]  # type: ignore[index]
        assert isinstance(html, EmailMessage)
        html.add_related(
            logo.data,
            maintype="image",
            subtype=logo.subtype,
            cid=f"<{logo_cid(domain)}>",
            disposition="inline",
            filename=f"logo.{'jpg' if logo.subtype == 'jpeg' else 'png'}",
        )
    payload = _CALENDAR_SLOT if calendar is None else calendar
    if method in INLINE_METHODS:
        alternative.add_alternative(
            payload,
            maintype="text",
            subtype="calendar",
            cte="base64",
            params={"method": method, "charset": "UTF-8"},
        )
    del alternative["MIME-Version"]  # once, on the message itself
    message.attach(alternative)
    if method is not None:
        message.add_attachment(
            payload,
            maintype="text",
            subtype="calendar",
            cte="base64",
            filename=filename,
            params={"method": method, "charset": "UTF-8", "name": filename},
        )
    data = message.as_bytes(policy=_POLICY).replace(_LIST_ID_SLOT, _list_id(config, domain))
    return _split(data)


def _split(data: bytes) -> Skeleton:
    markers = {
        _HEADERS_SLOT: HEADERS,
        _TEXT_SLOT + b"\r\n": TEXT,
        _HTML_SLOT + b"\r\n": HTML,
        _CALENDAR_BASE64 + b"\r\n": CALENDAR,
    }
    pieces: list[bytes] = []
    slots: list[str] = []
    rest = data
    while True:
        found = [(rest.find(marker), marker) for marker in markers if marker in rest]
        if not found:
            pieces.append(rest)
            return Skeleton(tuple(pieces), tuple(slots))
        position, marker = min(found)
        pieces.append(rest[:position])
        slots.append(markers[marker])
        rest = rest[position + len(marker) :]


def phrase(text: str) -> str:
    """A display phrase for a structured header: RFC 2047 words if not ASCII (or if it looks
    like RFC 2047 itself, so that no client decodes it into something else), else quoted."""
    if text.isascii() and "=?" not in text:
        return email.utils.quote(text).join('""')
    return email.header.Header(text, "utf-8").encode(linesep="\r\n")


def _list_id(config: Config, domain: str) -> bytes:
    title = config.series.title[config.series.default_language]
    if title.isascii():
        shown = phrase(title)
    else:  # encoded-words, folded to fit after "List-Id: "
        shown = email.header.Header(title, "utf-8", header_name="List-Id").encode(linesep="\r\n")
    return f"List-Id: {shown}\r\n <{config.series.id}.{domain}>\r\n".encode()
