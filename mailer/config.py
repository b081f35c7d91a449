"""config.toml as a validated `Config`: every problem reported at once, each located.

Pure: takes the file's text and name. Reading files is `mailer.project`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mailer.config_daemon import (
    DEFAULT_CADENCE,
    CadenceEntry,
    DaemonSettings,
    HttpSettings,
    read_cadence,
    read_daemon,
    read_http,
)
from mailer.config_delivery import Delivery, read_delivery
from mailer.config_mailing import Mailing, Unsubscribe, read_mailing, read_unsubscribe
from mailer.config_series import read_labels, read_organiser, read_series, read_zoom
from mailer.errors import ConfigError, Problem, errors_only
from mailer.model import Organiser, Series, Zoom
from mailer.reader import ProblemLog, TableReader
from mailer.toml_source import parse_toml
from mailer.vocabulary import Labels

DEFAULT_DATABASE = "state/mailer.db"


@dataclass(frozen=True)
class Config:
    """Everything config.toml says, validated. Paths are as written (relative to its folder)."""

    source: str
    series: Series
    organiser: Organiser
    zoom: Zoom
    labels: Mapping[str, Labels]
    database: str = DEFAULT_DATABASE
    templates: str = "templates"
    mailing: Mailing = field(default_factory=Mailing)
    unsubscribe: Unsubscribe = field(default_factory=Unsubscribe)
    delivery: Delivery = field(default_factory=Delivery)
    cadence: tuple[CadenceEntry, ...] = DEFAULT_CADENCE
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    http: HttpSettings = field(default_factory=HttpSettings)


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
    templates = "templates"
    if (email_table := root.table("email")) is not None:
        templates = email_table.string("templates", default="templates") or "templates"
        email_table.finish()
    database = DEFAULT_DATABASE
    if (state := root.table("state")) is not None:
        database = state.string("database", default=DEFAULT_DATABASE) or DEFAULT_DATABASE
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
            templates=templates,
            mailing=mailing,
            unsubscribe=unsubscribe,
            delivery=delivery,
            cadence=cadence,
            daemon=daemon,
            http=http,
        )
    return ConfigParse(config, series, zoom, log.problems)


def parse_config(text: str, source: str) -> tuple[Config, list[Problem]]:
    """The validated config and its warnings. Raises ConfigError listing every problem."""
    parsed = read_config(text, source)
    if parsed.config is None:
        raise ConfigError(f"{source} has problems", parsed.problems)
    return parsed.config, parsed.problems
