"""The validated settings of config.toml, as records: what every layer reads of the config.

Built by `mailer.config.validate` (which reads each table through `tables.py`); everything else
only reads them. Paths are as written in config.toml (relative to its folder); secrets are never
here, only the names of the environment variables that hold them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from mailer.config.store_url import DEFAULT_LEASE
from mailer.errors import ConfigError, Problem
from mailer.i18n.labels import Labels
from mailer.model import MailingList, Organiser, Segment, Series, Zoom

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# -- [transport], [smtp], [sending] ------------------------------------------------------------

Security = Literal["starttls", "tls", "none"]


DEFAULT_PASSWORD_ENV = "MAILER_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret


@dataclass(frozen=True)
class SmtpSettings:
    """`[smtp]`. The password is never here: it is read from `password_env` when connecting."""

    host: str = "localhost"
    port: int = 587
    security: Security = "starttls"
    allow_insecure: bool = False
    username: str | None = None
    password_env: str = DEFAULT_PASSWORD_ENV
    connections: int = 4
    rate: float = 0.0  # messages per second; 0: no limit
    per_hour: int | None = None
    per_day: int | None = None
    timeout: float = 30.0  # seconds per network read (aiosmtplib)
    deadline: float = 120.0  # seconds for a whole message, however the server drips
    helo: str | None = None
    ca_file: str | None = None  # certificates to trust besides the system's (a private CA)


@dataclass(frozen=True)
class SendingSettings:
    """`[sending]`: retries, batching, processes."""

    max_attempts: int = 5
    retry_after: dt.timedelta = dt.timedelta(minutes=1)  # doubles at each attempt
    retry_limit: dt.timedelta = dt.timedelta(hours=1)  # the longest wait between attempts
    wait_for_retries: dt.timedelta = dt.timedelta(minutes=10)  # how long `mailer send` waits
    batch: int = 200  # claimed at once; also the most duplicates a crash can cause
    processes: int | None = None  # None ("auto"): one per core (mailer.sending.workers)
    envelope_from: str | None = None  # the bounce address (MAIL FROM); default: organiser
    verp: bool = False  # MAIL FROM local+<signed tag>@domain: a bounce names its email
    # how long a run goes on with the relay (or the outbox's disk) down on every connection
    # before it stops (exit 75; nobody failed: the next run sends to them)
    relay_patience: dt.timedelta = dt.timedelta(seconds=5)


@dataclass(frozen=True)
class Delivery:
    kind: Literal["outbox", "smtp"] = "outbox"
    outbox: str = "outbox"
    smtp: SmtpSettings = SmtpSettings()
    sending: SendingSettings = SendingSettings()


# -- [recipients], [lists], [segments], [unsubscribe] ------------------------------------------

DEFAULT_KEY_ENV = "MAILER_UNSUBSCRIBE_KEY"


@dataclass(frozen=True)
class Mailing:
    """The mailing lists, the segments over them, and how addresses are compared."""

    lists: tuple[MailingList, ...] = ()
    segments: tuple[Segment, ...] = ()
    case_sensitive_local: bool = False

    @property
    def list_names(self) -> tuple[str, ...]:
        return tuple(mailing_list.name for mailing_list in self.lists)

    def segment(self, name: str) -> Segment | None:
        return next((segment for segment in self.segments if segment.name == name), None)


@dataclass(frozen=True)
class Unsubscribe:
    """`[unsubscribe]`: where the links in emails go, and the name of the signing key's variable."""

    url: str | None = None
    mailto: str | None = None
    key_env: str = DEFAULT_KEY_ENV


# -- [[cadence]], [daemon], [http] -------------------------------------------------------------

LISTEN = re.compile(r"^(?P<host>\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


def listen_refused(where: str, in_use: bool, why: str, key: str, source: str) -> ConfigError:
    """The configuration problem of an address the daemon cannot listen on (exit 2: the
    unit does not restart it, since restarting would not help)."""
    table = key.split(".", maxsplit=1)[0]
    if in_use:
        message = f"{where} is in use by another program (another mailer daemon?)"
        hint = f"Stop that program, or give [{table}] another listen."
    else:
        message = f"cannot listen on {where}: {why}"
        hint = "Give an address of this machine, and a port above 1023 (or 0)."
    return ConfigError(message, [Problem(source, message, key=key, hint=hint)])


def valid_listen(listen: str) -> bool:
    """Whether `listen` is host:port with a TCP port (0: any free one)."""
    match = LISTEN.match(listen)
    return match is not None and 0 <= int(match.group("port")) < 65536


class Listening:
    """Settings with a validated `listen` ("127.0.0.1:8025", "[::1]:8025"): its host, port."""

    listen: str

    def _address(self) -> tuple[str, int]:
        match = LISTEN.match(self.listen)
        assert match, "validated by config"
        return match.group("host").strip("[]"), int(match.group("port"))

    @property
    def host(self) -> str:
        return self._address()[0]

    @property
    def port(self) -> int:
        return self._address()[1]


@dataclass(frozen=True)
class CadenceEntry:
    """One `[[cadence]]`: an email sent `before` each session (a follow-up: `after` it
    ended), to `segments`."""

    kind: Literal["invitation", "reminder", "followup"]
    before: dt.timedelta  # zero for a follow-up
    segments: tuple[str, ...]
    # the latest it may go, after its time (never after the start, but for a follow-up)
    send_by: dt.timedelta
    message: str  # its name in the ledger: "invitation", "reminder:P1D", "followup:PT3H"
    after: dt.timedelta | None = None  # a follow-up: this long after the session ends


@dataclass(frozen=True)
class AnswersSettings:
    """`[answers]`: one-click answers (yes, maybe, no) in invitations and reminders."""

    links: bool = True  # the links, when [http] base_url says where the daemon is reached
    skip_declined: bool = True  # invitations and reminders leave out those who said no


@dataclass(frozen=True)
class SignupSettings:
    """`[signup]`: the public sign-up page (double opt-in) of the lists marked `public`."""

    consent: Mapping[str, str]  # the text a person agrees to, per language
    consent_version: str  # kept with each person who confirmed (the evidence)
    confirm_within: dt.timedelta = dt.timedelta(days=2)  # a confirmation link's life
    per_client: int = 5  # confirmation emails per client (IP address) per hour
    per_address: int = 2  # confirmation emails per address per day
    per_hour: int = 100  # confirmation emails per hour in all (a bot with many clients)


DEFAULT_CADENCE = (
    CadenceEntry(
        "invitation", dt.timedelta(days=14), ("everyone",), dt.timedelta(days=7), "invitation"
    ),
    CadenceEntry(
        "reminder", dt.timedelta(days=1), ("everyone",), dt.timedelta(hours=12), "reminder:P1D"
    ),
    CadenceEntry(
        "reminder", dt.timedelta(hours=1), ("everyone",), dt.timedelta(minutes=30), "reminder:PT1H"
    ),
)


@dataclass(frozen=True)
class DaemonSettings:
    """`[daemon]`."""

    warn_missing: dt.timedelta | None = dt.timedelta(days=7)  # warn this long before, by email
    warn_to: str | None = None  # default: the organiser
    updates: bool = True  # email updates and cancellations to those already served
    check_every: dt.timedelta = dt.timedelta(minutes=5)  # look for edits, retries, new people
    missed_lookback: dt.timedelta = dt.timedelta(days=7)  # report sends missed this recently


@dataclass(frozen=True)
class HttpSettings(Listening):
    """`[http]`: where the daemon listens, and the public address it is reached at."""

    listen: str = "127.0.0.1:8025"
    base_url: str | None = None


# -- [web] -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganiserAccount:
    """One `[[web.organisers]]`: who may log in to the organisers' pages."""

    email: str  # the login; proofs go there
    name: str
    password_hash: str  # scrypt, made by `mailer hash-password`


@dataclass(frozen=True)
class WebSettings(Listening):
    """`[web]`: the organisers' pages, served by the daemon on their own address (off when the
    table is absent)."""

    listen: str
    organisers: tuple[OrganiserAccount, ...]
    session_lifetime: dt.timedelta = dt.timedelta(hours=8)
    # where organisers reach the pages (behind a reverse proxy); checked against Origin
    base_url: str | None = None
    language: str = "en"  # of the pages' own words (en, fr)
    # reverse proxies whose header names the client (the login limits count per client)
    trusted_proxies: tuple[Network, ...] = ()
    client_header: str = "X-Forwarded-For"

    def account(self, email: str) -> OrganiserAccount | None:
        """The account whose login is `email` (case-insensitive), if any."""
        wanted = email.strip().casefold()
        return next((a for a in self.organisers if a.email.casefold() == wanted), None)


# -- [calendar] --------------------------------------------------------------------------------

CalendarMethod = Literal["publish", "request"]


@dataclass(frozen=True)
class CalendarSettings:
    """`[calendar]`: what the emails' calendar part is.

    `publish` (the default): an event to add, without attendees (METHOD:PUBLISH). `request`: a
    real meeting invitation (METHOD:REQUEST) with the recipient as its one ATTENDEE, which the
    calendar applies updates and cancellations to by itself; its replies go to `organizer`.
    """

    method: CalendarMethod = "publish"
    organizer: str | None = None  # the ORGANIZER address (replies); default: the organiser's
    rsvp: bool = True  # ask for a reply (RSVP=TRUE) in request mode
    # each invitation's ORGANIZER is a signed subaddress of `organizer` for its attendee, so
    # that a reply proves it answers that person's invitation (docs/mailbox.md)
    signed_replies: bool = True


# -- [dkim] ------------------------------------------------------------------------------------

DEFAULT_DKIM_KEY_ENV = "MAILER_DKIM_KEY"


@dataclass(frozen=True)
class DkimSettings:
    """`[dkim]`: sign every email (DKIM, RFC 6376) with the key published at
    `selector._domainkey.domain`. The private key (PEM) comes from the environment variable
    `key_env`, or from `key_file` (a path relative to config.toml, readable by mailer only)."""

    domain: str
    selector: str
    key_env: str = DEFAULT_DKIM_KEY_ENV
    key_file: str | None = None

    @property
    def record_name(self) -> str:
        """Where the public key is published in DNS (a TXT record)."""
        return f"{self.selector}._domainkey.{self.domain}"


# -- the whole file ----------------------------------------------------------------------------

DEFAULT_DATABASE = "state/mailer.db"
DEFAULT_MAILBOX_PASSWORD_ENV = "MAILER_MAILBOX_PASSWORD"  # noqa: S105 (a variable's name)


@dataclass(frozen=True)
class MailboxSettings:
    """`[mailbox]`: the IMAP mailbox that bounces, emailed unsubscribes and replies reach."""

    host: str
    user: str
    port: int = 993
    security: Literal["tls", "starttls"] = "tls"
    password_env: str = DEFAULT_MAILBOX_PASSWORD_ENV
    folder: str = "INBOX"  # where mail arrives
    processed: str = "Processed"  # where what mailer acted on goes
    for_a_person: str = "For a person"  # everything else: never deleted
    ca_file: str | None = None
    check_every: dt.timedelta = dt.timedelta(minutes=15)
    soft_bounces: int = 3  # this many soft bounces within soft_window suppress an address
    soft_window: dt.timedelta = dt.timedelta(days=30)
    # the mail server whose Authentication-Results headers are believed (RFC 8601): a calendar
    # reply from its attendee's own address that DMARC (or aligned DKIM) passes counts
    authserv_id: str | None = None


@dataclass(frozen=True)
class Config:
    """Everything config.toml says, validated. Paths are as written (relative to its folder)."""

    source: str
    series: Series
    organiser: Organiser
    zoom: Zoom
    labels: Mapping[str, Labels]
    database: str = DEFAULT_DATABASE  # a path (SQLite) or a postgresql:// URL
    schema: str | None = None  # PostgreSQL: the series' schema (default: from its id)
    # PostgreSQL: how long a sender's rows (and the daemons' leadership) stay its own without
    # a word from it: others take over after that
    lease: dt.timedelta = DEFAULT_LEASE
    # delivery rows of sessions that ended longer ago than this are deleted (None: kept)
    keep_deliveries: dt.timedelta | None = None
    templates: str = "templates"
    mailing: Mailing = field(default_factory=Mailing)
    unsubscribe: Unsubscribe = field(default_factory=Unsubscribe)
    delivery: Delivery = field(default_factory=Delivery)
    cadence: tuple[CadenceEntry, ...] = DEFAULT_CADENCE
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    answers: AnswersSettings = field(default_factory=AnswersSettings)
    signup: SignupSettings | None = None
    dkim: DkimSettings | None = None
    mailbox: MailboxSettings | None = None
    web: WebSettings | None = None

    @property
    def calendar_organizer(self) -> str:
        """The ORGANIZER of the events: where calendar replies go."""
        return self.calendar.organizer or self.organiser.email
