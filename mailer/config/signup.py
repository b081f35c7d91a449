"""Validating `[signup]`: the consent text, its version, the confirmation links' life, and the
limits on confirmation emails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mailer.config.settings import HttpSettings, Mailing, SignupSettings
from mailer.config.tables import TableReader

MAX_CONFIRM_WITHIN = dt.timedelta(days=30)


def read_signup(
    root: TableReader, languages: Sequence[str] | None, mailing: Mailing, http: HttpSettings
) -> SignupSettings | None:
    """`[signup]`, checked against the lists (one must be public) and `[http] base_url` (where
    the confirmation links point)."""
    table = root.table("signup")
    if table is None:
        return None
    consent = None
    table.ignore("consent")  # unreadable while the series' languages are (said there)
    if languages:
        consent = table.per_language("consent", languages, required=True, multiline=True)
    version = table.string("consent_version", required=True)
    within = table.duration("confirm_within") or SignupSettings.confirm_within
    if not dt.timedelta(minutes=10) <= within <= MAX_CONFIRM_WITHIN:
        table.error(
            "confirm_within",
            "a confirmation link lives between 10 minutes and 30 days",
            'e.g. "P2D"',
        )
    limits = {
        key: table.integer(key, default=getattr(SignupSettings, key), minimum=1)
        for key in ("per_client", "per_address", "per_hour")
    }
    if not any(mailing_list.public for mailing_list in mailing.lists):
        table.error(
            None,
            "the sign-up page needs a list to offer",
            'Mark a list kept in the state as public: [lists.NAME] source = "signups", '
            "public = true, title = {...}.",
        )
    if http.base_url is None and "base_url" not in (root.data.get("http") or {}):
        table.error(
            None,
            "the confirmation links need [http] base_url",
            'Set [http] base_url = "https://..." (where people reach the daemon).',
        )
    table.finish()
    if consent is None or version is None:
        return None
    return SignupSettings(
        consent,
        version,
        within,
        limits["per_client"] or SignupSettings.per_client,
        limits["per_address"] or SignupSettings.per_address,
        limits["per_hour"] or SignupSettings.per_hour,
    )
