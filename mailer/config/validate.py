"""config.toml as a validated `Config`: every problem reported at once, each located.

Pure: takes the file's text and name. Reading files is `mailer.project.load`'s job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mailer.config.calendar import read_calendar
from mailer.config.daemon import read_answers, read_cadence, read_daemon, read_http
from mailer.config.delivery import read_delivery
from mailer.config.dkim import read_dkim
from mailer.config.mailbox import read_mailbox
from mailer.config.mailing import read_mailing, read_unsubscribe
from mailer.config.series import read_labels, read_organiser, read_series, read_zoom
from mailer.config.settings import DEFAULT_DATABASE, Config
from mailer.config.signup import read_signup
from mailer.config.store_url import (
    DEFAULT_LEASE,
    MAX_LEASE,
    MIN_LEASE,
    is_postgres_url,
    schema_problem,
    url_problem,
)
from mailer.config.tables import ProblemLog, TableReader
from mailer.config.toml_source import parse_toml
from mailer.config.web import read_web
from mailer.errors import ConfigError, Problem, errors_only
from mailer.model import Series, Zoom


@dataclass(frozen=True)
class ConfigParse:
    """What could be read of config.toml: the config if it is valid, and what is usable anyway.

    `series` and `zoom` are set whenever their own tables are valid, so that session files can
    still be checked while another part of config.toml is wrong.
    """

    config: Config | None
    series: Series | None
    zoom: Zoom | None
    problems: list[Problem]


def read_config(text: str, source: str) -> ConfigParse:
    """Validate config.toml's text, collecting every problem (raises only for broken TOML)."""
    log = ProblemLog(source, text)
    root = TableReader(parse_toml(text, source), (), log)
    series = read_series(root)
    organiser = read_organiser(root)
    zoom_table = root.table("zoom", required=True)
    zoom = read_zoom(zoom_table, required=True) if zoom_table else None
    languages = series.languages if series else None  # unknown: language checks are skipped
    labels = read_labels(root, languages)
    mailing = read_mailing(root, languages)
    unsubscribe = read_unsubscribe(root)
    delivery = read_delivery(root)
    cadence = read_cadence(root, [segment.name for segment in mailing.segments])
    daemon = read_daemon(root)
    http = read_http(root)
    calendar = read_calendar(root)
    answers = read_answers(root)
    signup = read_signup(root, languages, mailing, http)
    dkim = read_dkim(root, organiser)
    mailbox = read_mailbox(root)
    web = read_web(root, http, series.default_language if series else None)
    templates = "templates"
    if (email_table := root.table("email")) is not None:
        templates = email_table.string("templates", default="templates") or "templates"
        email_table.finish()
    database = DEFAULT_DATABASE
    keep_deliveries = None
    schema: str | None = None
    lease = DEFAULT_LEASE
    if (state := root.table("state")) is not None:
        database = state.string("database", default=DEFAULT_DATABASE) or DEFAULT_DATABASE
        if is_postgres_url(database) and (problem := url_problem(database)):
            state.error("database", problem, "e.g. postgresql://mailer@db.example.org/mailer")
        schema = state.string("schema")
        if schema is not None and (problem := schema_problem(schema)):
            state.error("schema", problem, "e.g. mailer_icom")
        keep_deliveries = state.duration("keep_deliveries")
        if keep_deliveries is not None and keep_deliveries < dt.timedelta(days=1):
            state.error("keep_deliveries", "keep delivery rows at least a day", 'e.g. "P400D"')
        lease = state.duration("lease") or DEFAULT_LEASE
        if not MIN_LEASE <= lease <= MAX_LEASE:
            state.error(
                "lease",
                f"a lease is between {MIN_LEASE.seconds} seconds and {MAX_LEASE.seconds // 60} "
                "minutes",
                'e.g. "PT30S"',
            )
        state.finish()
    root.finish()
    config = None
    if not errors_only(log.problems) and series and organiser and zoom:
        config = Config(
            source=source,
            series=series,
            organiser=organiser,
            zoom=zoom,
            labels=labels,
            database=database,
            schema=schema,
            lease=lease,
            keep_deliveries=keep_deliveries,
            templates=templates,
            mailing=mailing,
            unsubscribe=unsubscribe,
            delivery=delivery,
            cadence=cadence,
            daemon=daemon,
            http=http,
            calendar=calendar,
            answers=answers,
            signup=signup,
            dkim=dkim,
            mailbox=mailbox,
            web=web,
        )
    return ConfigParse(config, series, zoom, log.problems)


def parse_config(text: str, source: str) -> tuple[Config, list[Problem]]:
    """The validated config and its warnings. Raises ConfigError listing every problem."""
    parsed = read_config(text, source)
    if parsed.config is None:
        raise ConfigError(f"{source} has problems", parsed.problems)
    return parsed.config, parsed.problems
