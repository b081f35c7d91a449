"""Composing the emails of a send: one kind, one session, many recipients.

Shape of every message (the one Zoom's own invitations have, and the one Outlook 2007 needed,
looking only at the first child of multipart/mixed):

    multipart/mixed
      multipart/alternative
        text/plain; charset=utf-8                   quoted-printable
        text/html; charset=utf-8                    quoted-printable, CSS inlined
        [text/calendar; method=CANCEL; charset=UTF-8  base64]   cancellations only
      text/calendar; method=...; name=X.ics         base64, attachment; filename=X.ics

METHOD. Invitations, reminders and updates are METHOD:PUBLISH, without ATTENDEE: a posting to
add to one's calendar, with no reply expected (RFC 5546 3.2.1). A REQUEST would need each
recipient as ATTENDEE, and then Outlook and Gmail show Accept/Decline and Outlook mails a
REPLY to the organiser for every answer: thousands of replies for a mass mailing
(collective/icalendar#273); RSVP=FALSE does not hide Gmail's buttons (adamgibbons/ics#285),
and Thunderbird asks "party crashing?" when the recipient is not an ATTENDEE
(gdata-provider#358). With PUBLISH, Gmail offers "Add to calendar" instead of RSVP buttons
(mangstadt/biweekly#102, icalendar/icalendar#229) as long as `method=` is on the Content-Type
(PHPMailer#175), Thunderbird shows "Add", Apple Mail imports the attachment, and Outlook opens
it to save (Outlook acts inline only on REQUEST, REPLY, CANCEL and COUNTER: MS-OXCICAL), which
is why the emails also carry Google and Outlook.com/Office 365 links. So PUBLISH goes as the
attachment only; no inline part, since no client acts on one.
Cancellations are METHOD:CANCEL with the same UID, a higher SEQUENCE, STATUS:CANCELLED and no
VALARM, inline as well as attached: Gmail applies a cancellation only with `method=CANCEL` on
the Content-Type (Couchers#8557), and Outlook acts on CANCEL inline.
Calendar parts are base64 (quoted-printable broke Outlook: rdv-service-public#1354) and added
as bytes, so they are byte-identical to the .ics file (a str part would have CRLF turned into LF).

Speed: the MIME skeleton, the rendered templates and the inlined CSS are made once per
recipient shape (see `mailer.messages.slots`); each message is then its headers, its two bodies
filled and quoted-printable encoded, and the shared calendar parts.
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.policy
import email.utils
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import css_inline

from mailer.audience.addresses import clean_text
from mailer.audience.unsubscribe import make_token
from mailer.calendar.ics import Method, session_calendar
from mailer.calendar.revisions import Revision
from mailer.config.settings import Config
from mailer.errors import InvalidInput
from mailer.messages.context import (
    Proof,
    Shape,
    recipient_context,
    recipient_values,
    session_context,
    shape_of,
)
from mailer.messages.encoding import EncodedBody, subject_header, text_header, to_header
from mailer.messages.slots import Filled, SlotPool, split_slots
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind, Occurrence, Outgoing, Recipient

METHODS: Mapping[MessageKind, Method] = {
    "invitation": "PUBLISH",
    "reminder": "PUBLISH",
    "update": "PUBLISH",
    "cancellation": "CANCEL",
}
INLINE_METHODS = frozenset({"REQUEST", "CANCEL"})
_POLICY = email.policy.SMTP
_UTF8_POLICY = email.policy.SMTPUTF8
_HEADERS_SLOT = b"X-Mailer-Recipient: headers\r\n"
_LIST_ID_SLOT = b"X-Mailer-List-Id: list\r\n"
_TEXT_SLOT = b"mailerbodyplaintext"
_HTML_SLOT = b"mailerbodyhtmltext"
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def message_id(
    series_id: str, occurrence: Occurrence, message_key: str, recipient_key: str, domain: str
) -> str:
    """Unique per (series, session, message, recipient), and the same every time it is made:
    a retried email has the Message-ID of the first attempt."""
    digest = hashlib.sha256(
        f"{series_id}\n{occurrence.scheduled}\n{message_key}\n{recipient_key}".encode()
    ).hexdigest()[:24]  # 96 bits, and a line under 78 characters
    return f"<{digest}.{occurrence.scheduled:%Y%m%d}@{domain}>"


def ics_filename(config: Config, occurrence: Occurrence) -> str:
    """`icom-france-solidarites-musees-2021-04-20.ics`: the series and the session's date."""
    return f"{config.series.id}-{occurrence.scheduled.isoformat()}.ics"


def canonical_html(html: str) -> str:
    """HTML parsed and written back as css-inline writes it: two texts that mean the same
    (`&#34;` and `"` in text, say) become the same."""
    return _INLINER.inline(html)


def _phrase(text: str) -> str:
    """A display phrase for a structured header: RFC 2047 words if not ASCII (or if it looks
    like RFC 2047 itself, so that no client decodes it into something else), else quoted."""
    if text.isascii() and "=?" not in text:
        return email.utils.quote(text).join('""')
    return email.header.Header(text, "utf-8").encode(linesep="\r\n")


@dataclass(frozen=True)
class _Prepared:
    """What all recipients of one shape share."""

    subject: Filled
    text: EncodedBody
    html: EncodedBody
    head: bytes
    middle: bytes
    between: bytes
    tail: bytes


class Composer:
    """Composes the emails of one send. Pure: the clock and the key are given."""

    def __init__(
        self,
        *,
        config: Config,
        templates: TemplateSet,
        occurrence: Occurrence,
        kind: MessageKind,
        message_key: str,
        revision: Revision,
        now: dt.datetime,
        signing_key: bytes,
        field_names: frozenset[str] = frozenset(),
        envelope_from: str | None = None,
        proof: Proof | None = None,
    ) -> None:
        self._check_consistent(occurrence, kind)
        unsubscribe = config.unsubscribe
        if unsubscribe.url is None or unsubscribe.mailto is None:
            raise InvalidInput(
                "emails need [unsubscribe] url and mailto in config.toml "
                "(List-Unsubscribe must offer both)"
            )
        self.config = config
        self.templates = templates
        self.occurrence = occurrence
        self.kind = kind
        self.message_key = message_key
        self.method = METHODS[kind]
        self.now = now
        self.signing_key = signing_key
        self.field_names = field_names
        self.sender = envelope_from or config.organiser.email  # MAIL FROM: where bounces go
        self.domain = Address(addr_spec=config.organiser.email).domain.encode("idna").decode()
        self.date = email.utils.format_datetime(now.astimezone(dt.UTC))
        self.filename = ics_filename(config, occurrence)
        self._calendars: dict[str, bytes] = {}
        self._contexts: dict[str, dict[str, Any]] = {}
        self._prepared: dict[Shape, _Prepared] = {}
        self._revision = revision
        self.proof = proof  # a proof: who the real send goes to

    @staticmethod
    def _check_consistent(occurrence: Occurrence, kind: MessageKind) -> None:
        if occurrence.status == "skipped":
            raise InvalidInput(f"{occurrence.scheduled} is skipped: there is no session to mail")
        cancelled = occurrence.status == "cancelled"
        if kind == "cancellation" and not cancelled:
            raise InvalidInput(
                f"the session of {occurrence.scheduled} is not cancelled: set status = "
                '"cancelled" in its file first, so that calendars and the feed agree'
            )
        if kind != "cancellation" and cancelled:
            raise InvalidInput(
                f"the session of {occurrence.scheduled} is cancelled: only a "
                "cancellation can be sent for it"
            )

    # -- what every recipient of a language shares ----------------------------------------------

    def calendar(self, language: str) -> bytes:
        """The .ics of this send in `language` (the attachment, byte for byte)."""
        if language not in self._calendars:
            self._calendars[language] = session_calendar(
                self.config, self.occurrence, language, self._revision, method=self.method
            )
        return self._calendars[language]

    def _context(self, language: str) -> dict[str, Any]:
        if language not in self._contexts:
            self._contexts[language] = session_context(
                self.config,
                self.occurrence,
                language,
                self.kind,
                now=self.now,
                ics_filename=self.filename,
                proof=self.proof,
            )
        return self._contexts[language]

    def unsubscribe_url(self, recipient: Recipient) -> str:
        token = make_token(self.signing_key, self.config.series.id, recipient.key)
        return f"{self.config.unsubscribe.url}/{token}"

    # -- rendering ---------------------------------------------------------------------------

    def render(self, recipient: Recipient) -> tuple[str, str, str]:
        """Subject, text and HTML for one recipient, rendered directly (no slots)."""
        shape = shape_of(recipient, self.occurrence)
        values = recipient_values(recipient, self.unsubscribe_url(recipient))
        context = {
            **self._context(shape.language),
            **recipient_context(
                shape,
                self.occurrence,
                self.config,
                values,
                self.field_names | recipient.fields.keys(),
            ),
        }
        return self._render_parts(shape.language, context)

    def _render_parts(self, language: str, context: Mapping[str, Any]) -> tuple[str, str, str]:
        subject = clean_text(self.templates.render(language, self.kind, "subject", context))[0]
        if self.proof is not None:
            subject = f"[{self.config.labels[language].proof}] {subject}"
        text = self.templates.render(language, self.kind, "text", context)
        html = _INLINER.inline(self.templates.render(language, self.kind, "html", context))
        return subject, text, html

    def _prepare(self, shape: Shape, recipient: Recipient) -> _Prepared:
        pool = SlotPool()
        context = {
            **self._context(shape.language),
            **recipient_context(
                shape,
                self.occurrence,
                self.config,
                pool,
                self.field_names | recipient.fields.keys(),
            ),
        }
        subject, text, html = self._render_parts(shape.language, context)
        where = f"{self.templates.folder}/{shape.language}/{self.kind}"
        head, middle, between, tail = self._skeleton(shape.language)
        return _Prepared(
            split_slots(subject, pool, escape=False, where=where + ".subject.txt"),
            EncodedBody(text, pool, escape=False, where=where + ".txt"),
            EncodedBody(html, pool, escape=True, where=where + ".html"),
            head,
            middle,
            between,
            tail,
        )

    def _skeleton(self, language: str) -> tuple[bytes, bytes, bytes, bytes]:
        config = self.config
        message = EmailMessage(policy=_POLICY)
        message.make_mixed()  # first: it would move Content-* headers into a sub-part
        message["MIME-Version"] = "1.0"
        message["From"] = Address(config.organiser.name, addr_spec=config.organiser.email)
        if config.organiser.reply_to:
            message["Reply-To"] = Address(addr_spec=config.organiser.reply_to)
        message["X-Mailer-Recipient"] = "headers"
        # List-Id (RFC 2919) is written directly: Python folds it as unstructured text and
        # would leave the ":" and "?" of the title bare, which a phrase may not hold
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
        calendar = self.calendar(language)
        if self.method in INLINE_METHODS:
            alternative.add_alternative(
                calendar,
                maintype="text",
                subtype="calendar",
                cte="base64",
                params={"method": self.method, "charset": "UTF-8"},
            )
        del alternative["MIME-Version"]  # once, on the message itself
        message.attach(alternative)
        message.add_attachment(
            calendar,
            maintype="text",
            subtype="calendar",
            cte="base64",
            filename=self.filename,
            params={"method": self.method, "charset": "UTF-8", "name": self.filename},
        )
        data = message.as_bytes(policy=_POLICY).replace(_LIST_ID_SLOT, self._list_id())
        head, rest = data.split(_HEADERS_SLOT)
        middle, rest = rest.split(_TEXT_SLOT + b"\r\n")
        between, tail = rest.split(_HTML_SLOT + b"\r\n")
        return head, middle, between, tail

    def _list_id(self) -> bytes:
        title = self.config.series.title[self.config.series.default_language]
        if title.isascii():
            phrase = _phrase(title)
        else:  # encoded-words, folded to fit after "List-Id: "
            phrase = email.header.Header(title, "utf-8", header_name="List-Id").encode(
                linesep="\r\n"
            )
        return f"List-Id: {phrase}\r\n <{self.config.series.id}.{self.domain}>\r\n".encode()

    # -- per recipient -----------------------------------------------------------------------

    def compose(self, recipient: Recipient) -> Outgoing:
        """The email for one recipient."""
        shape = shape_of(recipient, self.occurrence)
        prepared = self._prepared.get(shape)
        if prepared is None:
            prepared = self._prepared[shape] = self._prepare(shape, recipient)
        unsubscribe = self.unsubscribe_url(recipient)
        values = recipient_values(recipient, unsubscribe)
        address = recipient.ascii_email or recipient.email
        smtputf8 = not address.isascii()  # only then does it need SMTPUTF8 (RFC 6531)
        identifier = message_id(
            self.config.series.id, self.occurrence, self.message_key, recipient.key, self.domain
        )
        headers = self._headers(
            subject=prepared.subject.fill(values),
            name=recipient.name,
            address=address,
            identifier=identifier,
            unsubscribe=unsubscribe,
            smtputf8=smtputf8,
        )
        data = b"".join(
            (
                prepared.head,
                headers,
                prepared.middle,
                prepared.text.encode(values),
                prepared.between,
                prepared.html.encode(values),
                prepared.tail,
            )
        )
        return Outgoing(identifier, self.sender, address, data, smtputf8)

    def _headers(
        self,
        *,
        subject: str,
        name: str,
        address: str,
        identifier: str,
        unsubscribe: str,
        smtputf8: bool,
    ) -> bytes:
        # (policy.fold() would only re-encode values too long for a line: a short non-ASCII
        # header would go out raw. subject_header and to_header write RFC 2047 themselves;
        # see mailer.messages.encoding.)
        token = unsubscribe.rsplit("/", 1)[1]
        mailto = f"mailto:{self.config.unsubscribe.mailto}?subject={quote('unsubscribe ' + token)}"
        if smtputf8:  # RFC 6532: the address stays UTF-8; Address() refuses such local parts
            to = f"To: {_phrase(name)} <{address}>\r\n" if name else f"To: {address}\r\n"
        else:
            to = to_header(name, address)
        lines = [
            subject_header(subject, smtputf8),
            to,
            f"Date: {self.date}\r\n",
            f"Message-ID: {identifier}\r\n",
            f"List-Unsubscribe: <{unsubscribe}>,\r\n <{mailto}>\r\n",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
        ]
        if self.proof is not None:
            lines.append(self._proof_header())
        return "".join(lines).encode("utf-8")

    def _proof_header(self) -> str:
        """What a proof is, for whoever looks at the headers (folded, ASCII)."""
        number = self.occurrence.number
        text = (
            f"a proof of the {self.kind} of session {number} ({self.occurrence.scheduled}); "
            f"the real send goes to {self.proof}; this copy is recorded nowhere"
        )
        return text_header("X-Mailer-Proof", clean_text(text)[0])
