"""Composing the emails of a send: one kind, one session, many recipients.

The MIME shape is `mailer.messages.mime`. What the calendar part is depends on `[calendar]
method` (the sources are in docs/calendar.md and ../shared/CALENDAR.md):

- `publish` (the default). Invitations, reminders and updates carry METHOD:PUBLISH, without
  ATTENDEE: an event to add, no reply expected (RFC 5546 3.2.1), as the attachment only (no
  client acts on an inline PUBLISH; Outlook acts inline only on REQUEST, REPLY, CANCEL and
  COUNTER: MS-OXCICAL), which is why the emails also carry Google and Outlook.com/Office 365
  links. Gmail offers "Add to calendar" as long as `method=` is on the Content-Type
  (PHPMailer#175); Thunderbird shows "Add"; Apple Mail imports it.
- `request`. Invitations and updates carry METHOD:REQUEST with this recipient as the one
  ATTENDEE (their name, RSVP as configured), inline in the multipart/alternative and attached,
  the same bytes: clients show a meeting invitation and apply updates (a higher SEQUENCE, the
  same UID) by themselves. Reminders carry no calendar part (the event is in the calendar
  already, and a repeated REQUEST can reset an answer in some clients).
- Cancellations are METHOD:CANCEL with the same UID, a higher SEQUENCE, STATUS:CANCELLED and no
  VALARM (and the same ATTENDEE in `request` mode), inline as well as attached: Gmail applies a
  cancellation only with `method=CANCEL` on the Content-Type (Couchers#8557), and Outlook acts
  on CANCEL inline.

Speed: the MIME skeleton, the rendered templates and the inlined CSS are made once per
recipient shape (see `mailer.messages.slots`); each message is then its headers, its two bodies
filled and quoted-printable encoded, and the shared calendar parts (or, for a meeting
invitation, the calendar with the recipient's ATTENDEE line, base64 encoded).
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.policy
import email.utils
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import css_inline

from mailer.audience.addresses import clean_text
from mailer.audience.return_path import rsvp_address, verp_address
from mailer.audience.unsubscribe import make_answer_token, make_token
from mailer.calendar.ics import (
    ATTENDEE_SLOT,
    Method,
    attendee_line,
    organizer_line,
    session_calendar,
)
from mailer.calendar.revisions import Revision
from mailer.config.settings import CalendarMethod, Config
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
from mailer.messages.mime import (
    CALENDAR,
    HEADERS,
    HTML,
    TEXT,
    Skeleton,
    calendar_part,
    organiser_domain,
    phrase,
    skeleton,
)
from mailer.messages.slots import Filled, SlotPool, split_slots
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind, Occurrence, Outgoing, Recipient

FOLLOWUP_FIELDS = frozenset({"attended", "missed"})
ANSWERING = ("invitation", "reminder", "waitlist", "place")  # the kinds with answer links
METHODS: Mapping[CalendarMethod, Mapping[MessageKind, Method | None]] = {
    "publish": {
        "invitation": "PUBLISH",
        "reminder": "PUBLISH",
        "update": "PUBLISH",
        "cancellation": "CANCEL",
        "followup": None,  # after the session: nothing for calendars
        "waitlist": None,  # not coming yet
        "place": "PUBLISH",  # coming now: the event, to add
    },
    "request": {
        "invitation": "REQUEST",
        "reminder": None,  # no calendar part: the invitation put the event in the calendar
        "update": "REQUEST",
        "cancellation": "CANCEL",
        "followup": None,
        "waitlist": None,
        "place": None,  # the invitation put the event in the calendar
    },
}
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class MessageIds:
    """The Message-IDs of one email, per recipient, their fixed parts made once.

    Unique per (series, session, message, recipient), and the same every time one is made: a
    retried email has the Message-ID of the first attempt. Keyed (HMAC) with the series'
    secret: only someone who received the email knows it, so a bounce that quotes it proves
    that the email reached whoever sent the bounce (docs/mailbox.md). `legacy` gives the
    unkeyed Message-ID mailer made before they were keyed (a SHA-256 of public facts): the
    deliveries planned then keep it for every attempt, so a resend is recognised as a copy."""

    def __init__(
        self, key: bytes, series_id: str, occurrence: Occurrence, message_key: str, domain: str
    ) -> None:
        self.prefix = f"{series_id}\n{occurrence.scheduled}\n{message_key}\n".encode()
        self.suffix = f".{occurrence.scheduled:%Y%m%d}@{domain}>"
        self.mac = hmac.new(key, b"mailer-message-id\n" + self.prefix, "sha256")

    def __call__(self, recipient_key: str) -> str:
        mac = self.mac.copy()
        mac.update(recipient_key.encode())
        return f"<{mac.hexdigest()[:24]}{self.suffix}"  # 96 bits, and a line under 78 characters

    def legacy(self, recipient_key: str) -> str:
        digest = hashlib.sha256(self.prefix + recipient_key.encode()).hexdigest()
        return f"<{digest[:24]}{self.suffix}"


def check_kind(occurrence: Occurrence, kind: MessageKind) -> None:
    """InvalidInput when this kind of email cannot be sent about the session (a skipped date;
    a cancellation of a session that is not cancelled, or anything else of one that is)."""
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


def ics_filename(config: Config, occurrence: Occurrence) -> str:
    """`icom-france-solidarites-musees-2021-04-20.ics`: the series and the session's date."""
    return f"{config.series.id}-{occurrence.scheduled.isoformat()}.ics"


def canonical_html(html: str) -> str:
    """HTML parsed and written back as css-inline writes it: two texts that mean the same
    (`&#34;` and `"` in text, say) become the same."""
    return _INLINER.inline(html)


@dataclass(frozen=True)
class _Prepared:
    """What all recipients of one shape share."""

    subject: Filled
    text: EncodedBody
    html: EncodedBody
    skeleton: Skeleton


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
        signed_replies: bool = True,
        restored: bool = False,
        next_session: Occurrence | None = None,
        told: Mapping[str, Any] | None = None,
    ) -> None:
        check_kind(occurrence, kind)
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
        self.method = METHODS[config.calendar.method][kind]
        self.invites = config.calendar.method == "request" and self.method is not None
        # each invitation's ORGANIZER signed for its attendee, unless this session's first
        # invitations went out before (its ORGANIZER stays what they said)
        self.signed_replies = self.invites and signed_replies and config.calendar.signed_replies
        self._organizer = organizer_line(config)
        self.now = now
        self.signing_key = signing_key
        # a follow-up's people come with whether they came (`mailer.sending.plan`)
        self.field_names = field_names | (FOLLOWUP_FIELDS if kind == "followup" else frozenset())
        answers = config.answers.links and config.http.base_url is not None
        self.answering = answers and kind in ANSWERING and occurrence.takes_place
        self.sender = envelope_from or config.organiser.email  # MAIL FROM: where bounces go
        self.verp = config.delivery.sending.verp  # each email's own, signed, return path
        self.domain = organiser_domain(config)
        self.date = email.utils.format_datetime(now.astimezone(dt.UTC))
        self.filename = ics_filename(config, occurrence)
        self._message_ids = MessageIds(
            signing_key, config.series.id, occurrence, message_key, self.domain
        )
        self._calendars: dict[str, bytes] = {}
        self._contexts: dict[str, dict[str, Any]] = {}
        self._prepared: dict[Shape, _Prepared] = {}
        self._skeletons: dict[str, Skeleton] = {}  # by language: the same for every shape
        self._revision = revision
        self.proof = proof  # a proof: who the real send goes to
        self.restored = restored  # an update that undoes a cancellation
        self.next_session = next_session  # the one after (a cancellation names it)
        self.told = told  # what the emails before told of the session (an update's changes)

    # -- what every recipient of a language shares ----------------------------------------------

    def calendar(self, language: str, recipient: Recipient | None = None) -> bytes:
        """The .ics of this send in `language` (the attachment, byte for byte); for a meeting
        invitation, with `recipient` as its ATTENDEE. Empty when the email has none."""
        if self.method is None:
            return b""
        if language not in self._calendars:
            self._calendars[language] = session_calendar(
                self.config,
                self.occurrence,
                language,
                self._revision,
                method=self.method,
                with_attendee=self.invites,
            )
        calendar = self._calendars[language]
        if not self.invites:
            return calendar
        line = b""
        if recipient is not None:
            address = recipient.ascii_email or recipient.email
            line = attendee_line(address, recipient.name, rsvp=self.config.calendar.rsvp)
            if self.signed_replies:
                signed = rsvp_address(
                    self.signing_key,
                    self.config.series.id,
                    self.occurrence.scheduled,
                    recipient.key,
                    self.config.calendar_organizer,
                )
                calendar = calendar.replace(self._organizer, organizer_line(self.config, signed), 1)
        return calendar.replace(ATTENDEE_SLOT, line)

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
                restored=self.restored,
                next_session=self.next_session,
                told=self.told,
            )
        return self._contexts[language]

    def unsubscribe_url(self, recipient: Recipient) -> str:
        token = make_token(self.signing_key, self.config.series.id, recipient.key)
        return f"{self.config.unsubscribe.url}/{token}"

    def values(self, recipient: Recipient) -> dict[str, str]:
        """The per-recipient values: name, address, columns, the signed links."""
        answer = ""
        if self.answering:
            token = make_answer_token(
                self.signing_key, self.config.series.id, self.occurrence.scheduled, recipient.key
            )
            answer = f"{self.config.http.base_url}/answer/{token}"
        return recipient_values(recipient, self.unsubscribe_url(recipient), answer)

    # -- rendering ---------------------------------------------------------------------------

    def render(self, recipient: Recipient) -> tuple[str, str, str]:
        """Subject, text and HTML for one recipient, rendered directly (no slots)."""
        shape = shape_of(recipient, self.occurrence)
        values = self.values(recipient)
        context = {
            **self._context(shape.language),
            **recipient_context(
                shape,
                self.occurrence,
                self.config,
                values,
                self.field_names | recipient.fields.keys(),
                now=self.now,
                answering=self.answering,
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
                now=self.now,
                answering=self.answering,
            ),
        }
        subject, text, html = self._render_parts(shape.language, context)
        where = f"{self.templates.folder}/{shape.language}/{self.kind}"
        return _Prepared(
            split_slots(subject, pool, escape=False, where=where + ".subject.txt"),
            EncodedBody(text, pool, escape=False, where=where + ".txt"),
            EncodedBody(html, pool, escape=True, where=where + ".html"),
            self._skeleton(shape.language),
        )

    def _skeleton(self, language: str) -> Skeleton:
        found = self._skeletons.get(language)
        if found is None:
            shared = None if self.invites else self.calendar(language)
            found = self._skeletons[language] = skeleton(
                self.config,
                language=language,
                method=self.method,
                calendar=shared,
                filename=self.filename,
                domain=self.domain,
            )
        return found

    # -- per recipient -----------------------------------------------------------------------

    def message_id(self, recipient_key: str, *, legacy: bool = False) -> str:
        """The Message-ID of this email to the person `recipient_key` (`legacy`: as mailer
        made it before Message-IDs were keyed, for deliveries planned then)."""
        if legacy:
            return self._message_ids.legacy(recipient_key)
        return self._message_ids(recipient_key)

    def compose(self, recipient: Recipient, *, message_id: str | None = None) -> Outgoing:
        """The email for one recipient; `message_id` is the one an earlier attempt had (the
        ledger's), which a resend keeps."""
        shape = shape_of(recipient, self.occurrence)
        prepared = self._prepared.get(shape)
        if prepared is None:
            prepared = self._prepared[shape] = self._prepare(shape, recipient)
        values = self.values(recipient)
        unsubscribe = values["unsubscribe"]
        address = recipient.ascii_email or recipient.email
        smtputf8 = not address.isascii()  # only then does it need SMTPUTF8 (RFC 6531)
        identifier = message_id or self._message_ids(recipient.key)
        headers = self._headers(
            subject=prepared.subject.fill(values),
            name=recipient.name,
            address=address,
            identifier=identifier,
            unsubscribe=unsubscribe,
            smtputf8=smtputf8,
        )
        text, text_dots = prepared.text.encode(values)
        html, html_dots = prepared.html.encode(values)
        parts = {HEADERS: headers, TEXT: text, HTML: html}
        if CALENDAR in prepared.skeleton.slots:  # base64: never a dot
            parts[CALENDAR] = calendar_part(self.calendar(shape.language, recipient))
        data = prepared.skeleton.fill(parts)
        dots = prepared.skeleton.dots or text_dots or html_dots or b"\n." in headers
        sender = self.sender
        if self.verp:
            sender = verp_address(self.signing_key, self.config.series.id, sender, identifier)
        return Outgoing(identifier, sender, address, data, smtputf8, dot_free=not dots)

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
        # the token is URL-safe base64 and a dot: only the space needs escaping
        mailto = f"mailto:{self.config.unsubscribe.mailto}?subject=unsubscribe%20{token}"
        if smtputf8:  # RFC 6532: the address stays UTF-8; Address() refuses such local parts
            to = f"To: {phrase(name)} <{address}>\r\n" if name else f"To: {address}\r\n"
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
