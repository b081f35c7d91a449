"""The IMAP mailbox (IMAPClient over imaplib): TLS verified (implicit TLS or STARTTLS, never
plain text), messages read without marking them seen, filed by MOVE (RFC 6851) into the
folder their outcome says. Nothing is ever deleted: without MOVE, a message is copied, and
only then flagged deleted and expunged from the folder it came from (UIDPLUS).

Blocking: the daemon calls it from a worker thread.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Iterator
from types import TracebackType

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from mailer.config.settings import MailboxSettings
from mailer.errors import MailboxError, MailboxRefused

FETCH_BATCH = 50
TIMEOUT = 60.0


def _wrapped(settings: MailboxSettings, error: BaseException) -> MailboxError:
    where = f"{settings.host}:{settings.port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return MailboxRefused(f"the mailbox {where} has a certificate we cannot verify: {error}")
    if isinstance(error, LoginError):
        return MailboxRefused(f"the mailbox {where} refused the login of {settings.user}")
    return MailboxError(f"the mailbox {where} cannot be read now: {error}")


class ImapMailbox:
    """One session with the mailbox; a context manager."""

    def __init__(self, settings: MailboxSettings, password: str, ca_file: str | None) -> None:
        self.settings = settings
        self._password = password
        self._context = ssl.create_default_context(cafile=ca_file)
        self._client: IMAPClient | None = None
        self._can_move = False

    def __enter__(self) -> ImapMailbox:
        settings = self.settings
        try:
            client = IMAPClient(
                settings.host,
                port=settings.port,
                ssl=settings.security == "tls",
                ssl_context=self._context,
                timeout=TIMEOUT,
            )
            self._client = client
            if settings.security == "starttls":
                client.starttls(self._context)
            client.login(settings.user, self._password)
            for folder in (settings.processed, settings.for_a_person):
                if not client.folder_exists(folder):
                    client.create_folder(folder)
            self._can_move = b"MOVE" in client.capabilities()
            client.select_folder(settings.folder)
        except (TimeoutError, imaplib.IMAP4.error, OSError) as error:
            self._close()
            raise _wrapped(settings, error) from error
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    def _use(self) -> IMAPClient:
        assert self._client is not None, "use the mailbox as a context manager"
        return self._client

    def messages(self) -> Iterator[tuple[int, bytes]]:
        """(UID, bytes) of every message in the folder, oldest first, read with BODY.PEEK
        (so that a person's client still shows them unread)."""
        client = self._use()
        try:
            uids = sorted(client.search("ALL"))
            for start in range(0, len(uids), FETCH_BATCH):
                batch = uids[start : start + FETCH_BATCH]
                fetched = client.fetch(batch, ["BODY.PEEK[]"])
                for uid in batch:
                    data = fetched.get(uid, {}).get(b"BODY[]")
                    if isinstance(data, bytes):
                        yield uid, data
        except (imaplib.IMAP4.error, OSError) as error:
            raise _wrapped(self.settings, error) from error

    def file(self, uid: int, folder: str, *, flag: bool = False) -> None:
        """Move the message `uid` to `folder` (flagged for a person's attention if `flag`)."""
        client = self._use()
        try:
            if flag:
                client.add_flags([uid], [b"\\Flagged"])
            if self._can_move:
                client.move([uid], folder)
            else:
                client.copy([uid], folder)
                client.add_flags([uid], [b"\\Deleted"])
                client.uid_expunge([uid])
        except (imaplib.IMAP4.error, OSError) as error:
            raise _wrapped(self.settings, error) from error
