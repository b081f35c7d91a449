"""Validating `[dkim]`: the signing domain and selector, where the private key comes from, and
whether the signature will align with the From address (what DMARC checks)."""

from __future__ import annotations

import re

from mailer.config.settings import DEFAULT_DKIM_KEY_ENV, DkimSettings
from mailer.config.tables import TableReader
from mailer.model import Organiser

LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def dns_name(value: str) -> str | None:
    """`value` as the ASCII DNS name DKIM tags carry (IDNA for non-ASCII), or None."""
    try:
        ascii_name = value.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(LABEL.match(label) for label in labels):
        return None
    return ascii_name


def aligned(signing: str, sender: str) -> bool:
    """Relaxed DMARC alignment, without the public suffix list: the From domain is the signing
    domain or one of its subdomains, or the other way round."""
    return signing == sender or sender.endswith("." + signing) or signing.endswith("." + sender)


def read_dkim(root: TableReader, organiser: Organiser | None) -> DkimSettings | None:
    table = root.table("dkim")
    if table is None:
        return None
    domain = _name(table, "domain", "The domain of the From address, e.g. example.org.")
    selector = _name(table, "selector", "Any label you choose, e.g. mailer2026 (or 2026.mail).")
    key_env = table.string("key_env", default=DEFAULT_DKIM_KEY_ENV) or DEFAULT_DKIM_KEY_ENV
    if not ENVIRONMENT_NAME.match(key_env):
        table.error(
            "key_env", f"'{key_env}' is not an environment variable name", "E.g. MAILER_DKIM_KEY."
        )
    key_file = table.string("key_file")
    if key_file is not None and table.has("key_env"):
        table.error(
            None,
            "key_file and key_env both name the private key",
            "Keep one: the key comes from a file, or from the environment.",
        )
    if domain and organiser is not None:
        sender = dns_name(organiser.email.rpartition("@")[2])
        if sender is not None and not aligned(domain, sender):
            table.warning(
                "domain",
                f"d={domain} does not align with the From address's domain ({sender}): "
                "receivers that check DMARC will not count this signature",
                f"Sign as {sender} (or a parent domain of it), unless both are under one "
                "registered domain and the DMARC policy allows relaxed alignment (adkim=r).",
            )
    table.finish()
    if domain is None or selector is None:
        return None
    return DkimSettings(domain, selector, key_env, key_file)


def _name(table: TableReader, key: str, hint: str) -> str | None:
    value = table.string(key, required=True)
    if value is None:
        return None
    name = dns_name(value)
    if name is None:
        table.error(key, f"'{value}' is not a domain name", hint)
    return name
