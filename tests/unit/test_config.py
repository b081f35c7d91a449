"""Validation: every problem at once, each with file, line, key and what to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.config.validate import parse_config
from mailer.errors import ConfigError, Problem
from mailer.project.load import load_project
from tests.support.project import REPO, edit, write


def problems_of(config_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_project(config_path)
    return sorted(str(p).replace(str(config_path.parent) + "/", "") for p in caught.value.problems)


def located(config_path: Path) -> Callable[[str], str]:
    """ "config.toml:N: at" for the line of config.toml that reads exactly `line`."""
    lines = config_path.read_text(encoding="utf-8").splitlines()
    return lambda line: f"config.toml:{lines.index(line) + 1}: at"


def assert_problems(config_path: Path, expected: list[str]) -> None:
    """config.toml has exactly these problems (each a part of one problem's text)."""
    found = problems_of(config_path)
    assert len(found) == len(expected), found
    for text in expected:
        assert any(text in problem for problem in found), (text, found)


def test_the_shipped_project_is_valid_and_carries_session_six() -> None:
    project = load_project(REPO / "config.toml")
    assert project.warnings == ()
    series = project.config.series
    assert (series.id, series.timezone.key, series.languages) == (
        "icom-france-solidarites-musees",
        "Europe/Paris",
        ("fr", "en", "es"),
    )
    assert (series.first, series.start, series.end) == (
        dt.date(2020, 11, 17),
        dt.time(13),
        dt.time(14, 30),
    )
    content = project.sessions[dt.date(2021, 4, 20)]
    assert [speaker.name["en"] for speaker in content.speakers][:4] == [
        "Bruno Maquart",
        "Emma Nardi",
        "Kirsi Pulkkinen",
        "Emilie Vanhaesebroucke",
    ]
    assert content.speakers[4].to_be_confirmed
    assert content.moderator is not None and content.moderator.name["es"] == "Froso Nomikou"
    assert all(len(content.questions[lang]) == 3 for lang in series.languages)
    assert project.config.zoom.meeting_id == "857 2055 9693"


def test_every_problem_of_config_and_session_files_is_reported_at_once(
    config_path: Path,
) -> None:
    edit(config_path, 'timezone = "Europe/Paris"', 'timezone = "Europe/Pari"')
    edit(config_path, "end = 14:30:00", "end = 12:30:00")
    edit(config_path, 'sessions_dir = "sessions"', 'sesions_dir = "sessions"')
    edit(config_path, 'es = "Solidaridad, museos: ¿de qué estamos hablando?"\n', "")
    edit(config_path, 'email = "rencontres@icom-france.example.org"', 'email = "rencontres"')
    write(
        config_path.parent / "sessions" / "2021-04-21.toml",
        """
        [title]
        fr = "Mauvaise date"
        en = "Wrong date"
        es = "Fecha equivocada"
    """,
    )
    assert problems_of(config_path) == [
        "config.toml:12: at 'series.end': the session ends (12:30) before it starts (13:00). "
        "Set end after start; sessions that run past midnight are not supported.",
        "config.toml:16: at 'series.sesions_dir': unknown key. Did you mean 'sessions_dir'?",
        "config.toml:20: at 'series.title.es': the 'es' text is missing. Every per-language "
        "table needs all of: fr, en, es.",
        "config.toml:63: at 'organiser.email': An email address must have an @-sign.",
        "config.toml:7: at 'series.timezone': 'Europe/Pari' is not an IANA time zone. "
        "Did you mean 'Europe/Paris'?",
    ]


def test_session_files_are_checked_while_config_has_an_unrelated_error(
    config_path: Path,
) -> None:
    edit(config_path, 'email = "rencontres@icom-france.example.org"', 'email = "rencontres"')
    write(
        config_path.parent / "sessions" / "2021-04-21.toml",
        """
        [title]
        fr = "x"
        en = "x"
        es = "x"
    """,
    )
    problems = problems_of(config_path)
    assert any(
        p.startswith("sessions/2021-04-21.toml: 2021-04-21 is not a date of the series")
        and "did you mean 2021-04-20.toml or 2021-05-18.toml?" in p
        for p in problems
    )
    assert any("organiser.email" in p for p in problems)


def test_a_session_file_missing_a_language_names_file_line_and_key(config_path: Path) -> None:
    session = config_path.parent / "sessions" / "2021-04-20.toml"
    edit(session, 'es = "Secretaria general de ICOM Grecia"\n', "")
    edit(session, "moderator]\nname", "moderator]\nnom")
    assert problems_of(config_path) == [
        "sessions/2021-04-20.toml:62: at 'moderator.name': this key is required. Write it as "
        'name = { fr = "...", en = "...", es = "..." } or as a [moderator.name] table.',
        "sessions/2021-04-20.toml:63: at 'moderator.nom': unknown key. Known keys here: name, "
        "role, to_be_confirmed.",
        "sessions/2021-04-20.toml:64: at 'moderator.role.es': the 'es' text is missing. Every "
        "per-language table needs all of: fr, en, es.",
    ]


def test_an_invalid_rule_and_a_first_date_off_the_rule_are_explained(config_path: Path) -> None:
    edit(config_path, 'rule = "FREQ=MONTHLY;BYDAY=+3TU"', 'rule = "FREQ=MONTHLY;BYDAY=+3XX"')
    assert problems_of(config_path) == [
        "config.toml:9: at 'series.rule': the rule is not a valid RFC 5545 RRULE (invalid "
        "'BYDAY': +3XX). See RFC 5545 section 3.3.10; the default is FREQ=MONTHLY;BYDAY=+3TU "
        "(every third Tuesday)."
    ]
    edit(config_path, "+3XX", "+3TU")
    edit(config_path, "first = 2020-11-17", "first = 2020-11-18")
    (problem,) = problems_of(config_path)
    assert problem == (
        "config.toml:10: at 'series.first': 2020-11-18 is not a date of the rule "
        "FREQ=MONTHLY;BYDAY=+3TU. The first date of the rule after it is "
        "2020-12-15."
    )


def test_a_moved_session_must_end_after_it_starts(config_path: Path) -> None:
    session = config_path.parent / "sessions" / "2021-04-20.toml"
    edit(session, "[title]", "moved_to = { start = 16:00:00 }\n[title]")
    (problem,) = problems_of(config_path)
    assert "moved_to.end': the moved session ends (14:30) before it starts (16:00)" in problem


def test_a_syntax_error_gives_the_line(config_path: Path) -> None:
    edit(config_path, "[organiser]", "[organiser")
    (problem,) = problems_of(config_path)
    assert problem.startswith("config.toml:62: this is not valid TOML (")


def test_a_language_without_built_in_labels_needs_them_in_config(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8").replace('"es"]', '"fi"]')
    text = text.replace("\nes = ", "\nfi = ")
    config_path.write_text(text, encoding="utf-8")
    for session in (config_path.parent / "sessions").glob("*.toml"):
        session.unlink()
    (problem,) = problems_of(config_path)
    assert problem.startswith(
        "config.toml: at 'labels.fi': mailer has no built-in labels "
        "for 'fi' (it has de, en, es, fr, it, pt). Add a [labels.fi] "
        "table with: session, questions,"
    )
    labels = "\n".join(
        f'{key} = "{key} fi"'
        for key in (
            "session",
            "questions",
            "speakers",
            "moderator",
            "join",
            "meeting_id",
            "passcode",
            "to_be_confirmed",
            "cancelled",
            "moved",
            "held_in",
            "alarm",
        )
    )
    config_path.write_text(
        text + f'\n[labels.fi]\n{labels}\nzone = "{{city}} aikaa"\n', encoding="utf-8"
    )
    assert load_project(config_path).config.labels["fi"].zone == "{city} aikaa"


def test_problem_text_names_file_line_key_and_hint() -> None:
    problem = Problem("config.toml", "bad value", key="smtp.port", line=12, hint="Fix it.")
    assert str(problem) == "config.toml:12: at 'smtp.port': bad value. Fix it."
    warning = Problem("a.csv", "odd", severity="warning")
    assert str(warning) == "a.csv: warning: odd."


def test_times_may_be_toml_times_or_strings_but_not_with_a_zone() -> None:
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    config, _ = parse_config(text.replace("start = 13:00:00", 'start = "13:00"'), "c.toml")
    assert config.series.start == dt.time(13)
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace("start = 13:00:00", 'start = "13:00+02:00"'), "c.toml")
    assert "is not a local time" in str(caught.value.problems[0])


def test_every_problem_of_the_daemons_sections_at_once(config_path: Path) -> None:
    edit(config_path, 'before = "P14D"', 'before = "14 days"')
    edit(
        config_path,
        'before = "P1D"\nsegments = ["everyone"]',
        'before = "P1D"\nsegments = ["evryone"]',
    )
    edit(config_path, 'before = "PT1H"', 'before = "P1D"')
    edit(
        config_path,
        'warn_missing = "P7D"',
        'warn_missing = "P7D"\nwarn_to = "organiser"\ncheck_every = "PT0S"',
    )
    edit(config_path, 'listen = "127.0.0.1:8025"', 'listen = "localhost"')
    edit(config_path, 'base_url = "https://', 'base_url = "ftp://')
    at = located(config_path)
    expected = [
        at('before = "14 days"') + " 'cadence[0].before': '14 days' is not an ISO 8601 duration",
        at('segments = ["evryone"]') + " 'cadence[1].segments[0]': there is no segment "
        "'evryone'. Did you mean 'everyone'?",
        "at 'cadence[2]': two cadence entries send the reminder P1D before. Remove one of them.",
        at('warn_to = "organiser"') + " 'daemon.warn_to': ",
        at('check_every = "PT0S"') + " 'daemon.check_every': must be at least a second",
        at('listen = "localhost"') + " 'http.listen': 'localhost' is not host:port",
        "at 'http.base_url': 'ftp://lists.icom-france.example.org' is not an http(s):// address",
    ]
    assert_problems(config_path, expected)


def test_without_cadence_the_default_is_14_days_1_day_and_1_hour(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    start, end = text.index("[[cadence]]"), text.index("[daemon]")
    config_path.write_text(text[:start] + text[end:], encoding="utf-8")
    cadence = load_project(config_path).config.cadence
    assert [(c.message, c.before, c.send_by) for c in cadence] == [
        ("invitation", dt.timedelta(days=14), dt.timedelta(days=7)),
        ("reminder:P1D", dt.timedelta(days=1), dt.timedelta(hours=12)),
        ("reminder:PT1H", dt.timedelta(hours=1), dt.timedelta(minutes=30)),
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'en = "Solidarities, museums: what are we talking about?"',
            'en = "Solidarities,\\nmuseums"',
            "config.toml:22: at 'series.title.en': has a line break, which this value may not "
            "hold. Write it on one line",
        ),
        (
            'name = "ICOM France"',
            'name = "ICOM\\r\\nBcc: x@example.org"',
            "config.toml:63: at 'organiser.name': has a carriage return",
        ),
    ],
)
def test_a_line_break_in_a_one_line_value_is_a_located_error(
    config_path: Path, old: str, new: str, expected: str
) -> None:
    edit(config_path, old, new)
    assert any(p.startswith(expected) for p in problems_of(config_path)), problems_of(config_path)


def test_a_description_may_have_line_breaks(config_path: Path) -> None:
    edit(config_path, 'en = """With Covid-19,', 'en = """With\nCovid-19,')
    load_project(config_path)


@pytest.mark.parametrize("frequency", ["SECONDLY", "MINUTELY", "HOURLY"])
def test_a_rule_more_frequent_than_daily_is_refused_at_once(
    config_path: Path, frequency: str
) -> None:
    edit(config_path, 'rule = "FREQ=MONTHLY;BYDAY=+3TU"', f'rule = "FREQ={frequency}"')
    (found,) = [p for p in problems_of(config_path) if "series.rule" in p]
    assert f"FREQ={frequency} is not a rule for meetings" in found


def test_a_series_whose_sessions_fall_in_a_clock_change_is_refused(config_path: Path) -> None:
    """Last Sunday of March at 02:30, Paris: that hour does not exist."""
    edit(
        config_path, 'rule = "FREQ=MONTHLY;BYDAY=+3TU"', 'rule = "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"'
    )
    edit(config_path, "first = 2020-11-17", "first = 2021-03-28")
    edit(config_path, "start = 13:00:00", "start = 02:30:00")
    edit(config_path, "end = 14:30:00", "end = 04:00:00")
    (found,) = [p for p in problems_of(config_path) if "series.start" in p]
    assert "02:30 on 2021-03-28 does not exist in Europe/Paris" in found


def test_every_problem_of_the_dkim_table_at_once(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text
        + '\n[dkim]\ndomain = "icom france.org"\nkey_env = "MAILER-DKIM"\nkey_file = "k.pem"\n',
        encoding="utf-8",
    )
    at = located(config_path)
    expected = [
        at('domain = "icom france.org"') + " 'dkim.domain': 'icom france.org' is not a domain name",
        "at 'dkim.selector': this key is required",
        at('key_env = "MAILER-DKIM"') + " 'dkim.key_env': 'MAILER-DKIM' is not an environment",
        "at 'dkim': key_file and key_env both name the private key. Keep one",
    ]
    assert_problems(config_path, expected)


@pytest.mark.parametrize(
    ("domain", "warned"),
    [
        ("icom-france.example.org", False),
        ("example.org", False),  # a parent of the From domain: aligned (adkim=r)
        ("mail.icom-france.example.org", False),  # a subdomain: aligned too
        ("ICOM-France.Example.org.", False),  # DNS names ignore case and the final dot
        ("mailer-relay.example.net", True),
    ],
)
def test_a_signature_that_dmarc_will_not_count_is_a_warning(
    config_path: Path, domain: str, warned: bool
) -> None:
    text = config_path.read_text(encoding="utf-8")
    table = f'\n[dkim]\ndomain = "{domain}"\nselector = "mailer2026"\n'
    config_path.write_text(text + table, encoding="utf-8")
    project = load_project(config_path)
    assert project.config.dkim is not None
    assert project.config.dkim.record_name.startswith("mailer2026._domainkey.")
    warnings = [str(problem) for problem in project.warnings]
    assert bool(warnings) == warned, warnings
    if warned:
        (warning,) = warnings
        assert "does not align with the From address's domain (icom-france.example.org)" in warning


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ('"auto"', None), ("3", 3), ('"many"', "error")]
)
def test_sending_processes_default_to_one_per_core(
    config_path: Path, value: str | None, expected: int | str | None
) -> None:
    if value is not None:
        text = config_path.read_text(encoding="utf-8")
        config_path.write_text(text + f"\n[sending]\nprocesses = {value}\n", encoding="utf-8")
    if expected == "error":
        assert any("at 'sending.processes'" in problem for problem in problems_of(config_path))
        return
    assert load_project(config_path).config.delivery.sending.processes == expected


def test_every_problem_of_the_mailbox_and_verp_at_once(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text + '\n[sending]\nenvelope_from = "a-very-long-bounce-mailbox-name@example.org"\n'
        "verp = true\n"
        '\n[mailbox]\nhost = "imap.example.org"\npassword = "hunter2"\nport = 99999\n'
        'processed = "INBOX"\ncheck_every = "PT5S"\n',
        encoding="utf-8",
    )
    at = located(config_path)
    expected = [
        at('envelope_from = "a-very-long-bounce-mailbox-name@example.org"')
        + " 'sending.envelope_from': with verp = true the local part",
        "at 'mailbox.user': this key is required",
        at('password = "hunter2"') + " 'mailbox.password': the mailbox password does not go",
        at("port = 99999") + " 'mailbox.port': 99999 is not a TCP port",
        "folder, processed and for_a_person must be three different folders",
        at('check_every = "PT5S"') + " 'mailbox.check_every': read the mailbox at most once",
    ]
    assert_problems(config_path, expected)
    assert "hunter2" not in "".join(problems_of(config_path))  # a secret is never echoed


def test_verp_needs_a_return_path_of_its_own(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + "\n[sending]\nverp = true\n", encoding="utf-8")
    at = located(config_path)
    assert_problems(config_path, [at("verp = true") + " 'sending.verp': verp = true needs an"])


def test_every_problem_of_the_organisers_pages_at_once(config_path: Path) -> None:
    from tests.support.organisers import PASSWORD_HASH

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text + '\n[web]\nlisten = "127.0.0.1:8025"\nsession_lifetime = "P30D"\n'
        'trusted_proxies = ["127.0.0.1", "the proxy"]\nclient_header = "X Forwarded"\n'
        '\n[[web.organisers]]\nemail = "marie@example.org"\nname = "Marie"\n'
        'password = "hunter2hunter2"\n'
        '\n[[web.organisers]]\nemail = "not an address"\nname = "Paul"\n'
        'password_hash = "$2b$12$bcryptisnotscrypt"\n'
        f'\n[[web.organisers]]\nemail = "MARIE@example.org"\nname = "Twice"\n'
        f'password_hash = "{PASSWORD_HASH}"\n',
        encoding="utf-8",
    )
    at = located(config_path)
    expected = [
        f"config.toml:{len(text.splitlines()) + 3}: at 'web.listen': the organisers' pages "
        "cannot share [http] listen",
        at('session_lifetime = "P30D"') + " 'web.session_lifetime': must be between PT5M",
        at('trusted_proxies = ["127.0.0.1", "the proxy"]')
        + " 'web.trusted_proxies': 'the proxy' is not an IP address",
        at('client_header = "X Forwarded"') + " 'web.client_header': 'X Forwarded' is not a header",
        at('password = "hunter2hunter2"') + " 'web.organisers[0].password': a plain password",
        "'web.organisers[0].password_hash': this key is required",
        at('email = "not an address"') + " 'web.organisers[1].email'",
        " 'web.organisers[1].password_hash': this is not a password hash made by `mailer",
    ]
    found = problems_of(config_path)
    assert_problems(config_path, expected)
    assert "hunter2" not in "".join(found)  # a password is never echoed
    # the third is valid: once the others are fixed, only the duplicate remains
    config_path.write_text(
        text + '\n[web]\nlisten = "127.0.0.1:8026"\n'
        f'\n[[web.organisers]]\nemail = "marie@example.org"\nname = "Marie"\n'
        f'password_hash = "{PASSWORD_HASH}"\n'
        f'\n[[web.organisers]]\nemail = "MARIE@example.org"\nname = "Twice"\n'
        f'password_hash = "{PASSWORD_HASH}"\n',
        encoding="utf-8",
    )
    assert_problems(config_path, ["'web.organisers[1].email': MARIE@example.org has two accounts"])


def test_the_organisers_pages_are_off_without_web_and_need_an_organiser(
    config_path: Path,
) -> None:
    assert load_project(config_path).config.web is None
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + '\n[web]\nlisten = "127.0.0.1:8026"\n', encoding="utf-8")
    assert_problems(config_path, ["'web.organisers': nobody can log in: add an organiser"])


def test_the_organisers_pages_speak_the_series_first_language_when_they_can(
    config_path: Path,
) -> None:
    from tests.support.organisers import PASSWORD_HASH

    text = config_path.read_text(encoding="utf-8")
    account = (
        f'[[web.organisers]]\nemail = "a@example.org"\nname = "A"\n'
        f'password_hash = "{PASSWORD_HASH}"\n'
    )
    config_path.write_text(
        text + f'\n[web]\nlisten = "127.0.0.1:8026"\n{account}', encoding="utf-8"
    )
    web = load_project(config_path).config.web
    assert web is not None and web.language == "fr"  # the shipped series is French first
    edit(config_path, 'languages = ["fr", "en", "es"]', 'languages = ["es", "fr", "en"]')
    web = load_project(config_path).config.web
    assert web is not None and web.language == "en"  # no Spanish pages: English
    config_path.write_text(
        text + f'\n[web]\nlisten = "127.0.0.1:8026"\nlanguage = "de"\n{account}', encoding="utf-8"
    )
    assert_problems(config_path, ["'web.language': "])


def test_every_built_in_language_s_labels_are_written_by_babel() -> None:
    """Loading a configuration checks only the labels it changes: the built-in ones, here."""
    from mailer.i18n.dates import label_problems
    from mailer.i18n.labels import BUILT_IN

    assert {code: label_problems(code, labels) for code, labels in BUILT_IN.items()} == {
        code: [] for code in BUILT_IN
    }


def test_what_babel_or_a_send_could_not_use_is_refused_at_its_key(config_path: Path) -> None:
    """A locale or a date pattern Babel cannot use, waits a send would hang on, a port that
    is not one: each at its key (they ended in "Internal error" or a send that never ends)."""
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text + '\n[labels.fr]\nlocale = "PT0S"\n\n[labels.es]\ndate_pattern = "EEEE zzzz"\n'
        '\n[sending]\nretry_after = "P99999999D"\nretry_limit = "P30D"\n'
        'wait_for_retries = "P2D"\n\n[transport]\nkind = "smtp"\n'
        '\n[smtp]\nhost = "relay.example.org"\nport = 99999\n',
        encoding="utf-8",
    )
    at = located(config_path)
    assert_problems(
        config_path,
        [
            at('locale = "PT0S"') + " 'labels.fr.locale': 'PT0S' is not a locale Babel knows",
            at('date_pattern = "EEEE zzzz"') + " 'labels.es.date_pattern': Babel cannot write",
            at('retry_after = "P99999999D"') + " 'sending.retry_after': must be at most P1D",
            at('retry_limit = "P30D"') + " 'sending.retry_limit': must be at most P7D",
            at('wait_for_retries = "P2D"') + " 'sending.wait_for_retries': must be at most P1D",
            at("port = 99999") + " 'smtp.port': 99999 is not a TCP port",
        ],
    )
