"""The sign-up page and its confirmation email (pure): what their templates see, the email
composed, and checking that every language's page and email render at every step.

Templates: `LANG/signup.html` (the page, at each STEP) and `LANG/confirm.subject.txt`,
`confirm.txt`, `confirm.html` (the email with the confirmation link).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage

from mailer.audience.signup import SignupRequest
from mailer.config.settings import Config, SignupSettings
from mailer.errors import Problem, TemplateError
from mailer.i18n.dates import clock_time, language_name, long_date, typography
from mailer.messages.mime import organiser_domain
from mailer.messages.templates import TemplateSet
from mailer.model import Outgoing

# form: the empty or refused form; sent: "check your inbox" (the same for every address);
# confirm: the link opened, a button to confirm (mail scanners open links); done: on the list;
# invalid: a damaged or altered link; expired: too late, sign up again; snippet: the form
# alone, posting to the page, for another website
SIGNUP_STEPS = ("form", "sent", "confirm", "done", "invalid", "expired", "snippet")
EMAIL_PARTS = ("subject.txt", "txt", "html")
# the form's one script: it picks the reader's time zone (served with a CSP hash of its text)
GUESS_ZONE = (
    "(function(){var z=Intl.DateTimeFormat().resolvedOptions().timeZone,"
    's=document.getElementById("timezone");if(!z||!s||s.value)return;'
    "for(var i=0;i<s.options.length;i++){if(s.options[i].value===z){s.selectedIndex=i;"
    "break;}}})();"
)


def signup_context(
    config: Config,
    language: str,
    step: str,
    *,
    action: str,
    values: Mapping[str, str] | None = None,
    problems: Mapping[str, str] | None = None,
    chosen: Sequence[str] = (),
    zones: Sequence[str] = (),
    script: str = "",
    form_url: str = "/signup",
) -> dict[str, object]:
    """What `LANG/signup.html` sees. `values`: the form as typed (shown back when refused);
    `problems`: field -> what is wrong (email, lists, consent); `chosen`: the lists (at
    confirm and done); `zones`: the time zones to choose from; `script`: the page's one
    script (guessing the browser's time zone), allowed by the page's CSP hash."""
    signup = config.signup
    public = [m for m in config.mailing.lists if m.public and m.title]
    return {
        "language": language,
        "step": step,
        "action": action,
        "series": {"title": typography(config.series.title[language], language)},
        "organiser": {"name": config.organiser.name, "email": config.organiser.email},
        "values": dict(values or {}),
        "problems": dict(problems or {}),
        "lists": [
            {"name": m.name, "title": typography((m.title or {})[language], language)}
            for m in public
        ],
        "chosen": [
            typography((m.title or {})[language], language) for m in public if m.name in chosen
        ],
        "consent": typography(signup.consent[language], language) if signup else "",
        "languages": [
            {"code": code, "name": language_name(code, code)} for code in config.series.languages
        ],
        "zones": list(zones),
        "script": script,
        "form_url": form_url,
        "feed": None,
    }


def confirmation_email(
    config: Config,
    templates: TemplateSet,
    request: SignupRequest,
    link: str,
    now: dt.datetime,
) -> Outgoing:
    """The email asking `request.email` to confirm: its one link is the only way onto the
    lists. Nothing in it comes from the form but the name and the lists chosen."""
    language = request.language
    labels = config.labels[language]
    signup = config.signup
    within = (signup or SignupSettings).confirm_within
    expires = (now + within).astimezone(config.series.timezone)
    context = {
        **signup_context(config, language, "confirm", action=link, chosen=request.lists),
        "name": request.name,
        "email": request.email,
        "link": link,
        "expires": f"{long_date(expires.date(), language, labels)}, "
        f"{clock_time(expires, language, labels)}",
    }
    subject, text, html = (
        templates.render_named(f"{language}/confirm.{part}", context) for part in EMAIL_PARTS
    )
    domain = organiser_domain(config)
    digest = hashlib.sha256(f"{config.series.id}\0{link}".encode()).hexdigest()[:24]
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = Address(config.organiser.name, addr_spec=config.organiser.email)
    message["To"] = Address(request.name, addr_spec=request.email)
    message["Subject"] = " ".join(subject.split())
    message["Date"] = email.utils.format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = f"<signup.{digest}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # no vacation replies
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message["Content-Language"] = language
    return Outgoing(
        str(message["Message-ID"]),
        config.organiser.email,
        request.email,
        message.as_bytes(policy=email.policy.SMTP),
        smtputf8=not request.email.isascii(),
    )


def signup_snippet(config: Config, templates: TemplateSet, language: str) -> str:
    """The sign-up form alone, in `language`, posting to the daemon's page: plain HTML (no
    script, no outside resource) to paste on the organisation's own website."""
    base = (config.http.base_url or "").rstrip("/")
    context = signup_context(config, language, "snippet", action=f"{base}/signup?lang={language}")
    return templates.render_page(language, "signup", context).strip() + "\n"


def signup_template_names(languages: Sequence[str]) -> list[str]:
    return [
        name
        for language in languages
        for name in (
            f"{language}/signup.html",
            *(f"{language}/confirm.{part}" for part in EMAIL_PARTS),
        )
    ]


def check_signup(config: Config, templates: TemplateSet, now: dt.datetime) -> list[Problem]:
    """Every language's sign-up page at every step (with every problem) and its email."""
    if config.signup is None:
        return []
    problems: list[Problem] = []
    missing = [n for n in signup_template_names(config.series.languages) if n not in templates]
    if missing:
        return [
            Problem(
                f"{templates.folder}/{name}",
                "this template is missing",
                hint="[signup] needs the sign-up page and its email in every language.",
            )
            for name in missing
        ]
    lists = tuple(m.name for m in config.mailing.lists if m.public)
    for language in config.series.languages:
        for step in SIGNUP_STEPS:
            context = signup_context(
                config,
                language,
                step,
                action="/signup",
                values={"email": "<b>x</b>", "name": "<i>y</i>"},
                problems={"email": "address", "lists": "lists", "consent": "consent"},
                chosen=lists,
                zones=("Europe/Paris",),
            )
            try:
                templates.render_page(language, "signup", context)
            except TemplateError as error:
                problems.extend(error.problems)
        request = SignupRequest("a@example.org", "A", language, None, lists, "", now)
        try:
            confirmation_email(config, templates, request, "https://example.org/x", now)
        except TemplateError as error:
            problems.extend(error.problems)
    return problems
