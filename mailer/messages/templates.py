"""Email templates (Jinja2): one set per kind and language, sharing a base layout.

`templates/LANG/KIND.subject.txt`, `templates/LANG/KIND.txt` and `templates/LANG/KIND.html`,
for KIND in invitation, reminder, update, cancellation and followup. HTML is autoescaped;
every template runs with StrictUndefined, so a misspelt variable is an error `mailer check`
reports (with file and line), never a blank in a sent email.

The set is built from template sources (a mapping of name to text): reading the folder is
`load_sources`, at the edge; compiling and rendering are pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailer.errors import Problem, TemplateError
from mailer.model import AFTERWARDS, MESSAGE_KINDS, MessageKind

Part = Literal["subject", "text", "html"]
PARTS: tuple[Part, ...] = ("subject", "text", "html")
_SUFFIX: Mapping[Part, str] = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}
PAGES = ("unsubscribe", "answer")  # the daemon's web pages, per language


_REFERENCE = re.compile(
    r"""\{%-?\s*(?:include|extends|import|from)\s+["'](?P<name>(?P<folder>[^"'/]+)/[^"']+)["']"""
)
# folders that are languages even when the series does not have them (a copied set)
_LANGUAGE_FOLDERS = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


def _references(text: str) -> list[tuple[int, str, str]]:
    """(line, folder, name) of every template another refers to from a language folder."""
    return [
        (text.count("\n", 0, found.start()) + 1, found["folder"], found["name"])
        for found in _REFERENCE.finditer(text)
    ]


def _session_links(node: jinja2.nodes.Node) -> set[str]:
    """The AFTERWARDS links that `session.NAME` mentions under `node`."""
    return {
        found.attr
        for found in (node, *node.find_all(jinja2.nodes.Getattr))
        if isinstance(found, jinja2.nodes.Getattr)
        and isinstance(found.node, jinja2.nodes.Name)
        and found.node.name == "session"
        and found.attr in AFTERWARDS
    }


def template_name(language: str, kind: MessageKind, part: Part) -> str:
    """`fr/invitation.subject.txt`."""
    return f"{language}/{kind}{_SUFFIX[part]}"


def _kind_names(languages: Iterable[str], kind: MessageKind) -> list[str]:
    """Every part of the emails of `kind` in `languages`."""
    return [template_name(language, kind, part) for language in languages for part in PARTS]


def capfirst(text: str) -> str:
    """The text with its first letter in capitals and nothing else changed (`|capitalize`
    would lower "París" in "martes 20 de abril (hora de París)")."""
    return text[:1].upper() + text[1:]


_RANGE_DASH = re.compile(r"(?<=\S) [–-] (?=\S)")


def nobreak(text: str) -> str:
    """A time range that stays on one line: "13:00 – 14:30" with no-break spaces around its
    dash (a phone would otherwise put "14:30" alone on the next line)."""
    return _RANGE_DASH.sub("\u00a0–\u00a0", text)


class TemplateSet:
    """The templates, each compiled when first used (a send in three languages compiles
    its own thirty, not the whole set: `compile_problems` checks every one)."""

    def __init__(
        self,
        sources: Mapping[str, str],
        folder: str = "templates",
        *,
        compiled: jinja2.BytecodeCache | None = None,
    ) -> None:
        """`compiled`: where compiled templates are kept between runs (none: compiled anew)."""
        self.folder = folder
        self.sources = dict(sources)
        # The sandbox: templates are data edited by organisers, and must not reach Python.
        self.environment = ImmutableSandboxedEnvironment(
            loader=jinja2.FunctionLoader(self._source),
            bytecode_cache=compiled,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment.filters["capfirst"] = capfirst
        self.environment.filters["nobreak"] = nobreak
        self._compiled: dict[str, jinja2.Template] = {}
        self._needs: dict[tuple[tuple[str, ...], MessageKind], frozenset[str]] = {}

    def _template(self, name: str) -> jinja2.Template:
        template = self._compiled.get(name)
        if template is None:
            template = self._compiled[name] = self.environment.get_template(name)
        return template

    def _with_includes(self, names: Iterable[str]) -> Iterator[str]:
        """Each of `names` that exists, and each template they include (extend, import),
        once."""
        pending = sorted(names)
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen or name not in self.sources:
                continue
            seen.add(name)
            pending.extend(used for _, _, used in _references(self.sources[name]))
            yield name

    def compile_problems(self, names: Iterable[str] | None = None) -> list[Problem]:
        """Compile `names` (default: every template) and what they include; a problem for
        each that does not compile."""
        problems = []
        for name in self._with_includes(self.sources if names is None else names):
            try:
                self._template(name)
            except jinja2.TemplateSyntaxError as error:
                problems.append(self._problem(error.name or name, error.lineno, error.message))
        return sorted(problems, key=lambda problem: (problem.source, problem.line or 0))

    def require(self, languages: Iterable[str], kind: MessageKind) -> None:
        """Compile what the emails of `kind` in `languages` use, before anything is sent:
        TemplateError listing each template that does not compile."""
        if problems := self.compile_problems(_kind_names(languages, kind)):
            raise TemplateError("some templates do not compile", problems)

    def needs(self, languages: Iterable[str], kind: MessageKind) -> frozenset[str]:
        """The session links (of AFTERWARDS: the recording...) that the emails of `kind`
        print without testing them first with `{% if session.recording %}`: such an email
        waits until they are known. Parsed once per set of templates (the daemon asks at
        every round)."""
        asked = (tuple(languages), kind)
        if asked not in self._needs:
            self._needs[asked] = self._find_needs(*asked)
        return self._needs[asked]

    def _find_needs(self, languages: Sequence[str], kind: MessageKind) -> frozenset[str]:
        printed: set[str] = set()
        tested: set[str] = set()
        for name in self._with_includes(_kind_names(languages, kind)):
            try:
                tree = self.environment.parse(self.sources[name])
            except jinja2.TemplateSyntaxError:
                continue  # said by compile_problems
            for node in tree.find_all(jinja2.nodes.If):
                tested.update(_session_links(node.test))
            printed.update(_session_links(tree))
        return frozenset(printed - tested)

    def _source(self, name: str) -> tuple[str, str, Any] | None:
        """A template's source, with its name as file name so errors can name it."""
        if name not in self.sources:
            return None
        return self.sources[name], name, lambda: True

    def _problem(self, name: str, line: int | None, message: str | None) -> Problem:
        return Problem(
            f"{self.folder}/{name}",
            message or "template error",
            line=line,
            hint="See https://jinja.palletsprojects.com/templates/.",
        )

    def missing(
        self, languages: Sequence[str], kinds: Sequence[MessageKind] = MESSAGE_KINDS
    ) -> list[Problem]:
        """A problem for every kind, language and part that has no template."""
        problems = [
            Problem(
                f"{self.folder}/{template_name(language, kind, part)}",
                "this template is missing",
                hint=f"Every language needs {', '.join(_SUFFIX.values())} for every kind.",
            )
            for language in languages
            for kind in kinds
            for part in PARTS
            if template_name(language, kind, part) not in self.sources
        ]
        problems += [
            Problem(
                f"{self.folder}/{language}/{page}.html",
                "this page template is missing",
                hint="The daemon's web pages need it.",
            )
            for language in languages
            for page in PAGES
            if f"{language}/{page}.html" not in self.sources
        ]
        return problems

    def borrowed(self, languages: Sequence[str]) -> list[Problem]:
        """A problem for every template of a language that includes (extends, imports)
        another language's: a copied `templates/en` would give German readers English."""
        problems = []
        for name, text in sorted(self.sources.items()):
            language = name.partition("/")[0]
            if language not in languages:
                continue
            for line, other, used in _references(text):
                if other != language and (other in languages or _LANGUAGE_FOLDERS.match(other)):
                    problems.append(
                        Problem(
                            f"{self.folder}/{name}",
                            f"the '{language}' template uses '{used}', of another language",
                            line=line,
                            hint=f"Use '{language}/{used.partition('/')[2]}' (`mailer language "
                            f"add {language}` makes a set whose parts are its own).",
                        )
                    )
        return problems

    def render(
        self, language: str, kind: MessageKind, part: Part, context: Mapping[str, Any]
    ) -> str:
        """Render one template. Raises TemplateError naming the template and line."""
        return self._render(template_name(language, kind, part), context)

    def __contains__(self, name: object) -> bool:
        """Whether the set has the template `name` (`fr/signup.html`)."""
        return name in self.sources

    def render_named(self, name: str, context: Mapping[str, Any]) -> str:
        """Render the template `name` (`fr/confirm.txt`)."""
        return self._render(name, context)

    def render_page(self, language: str, page: str, context: Mapping[str, Any]) -> str:
        """Render a web page of the daemon (`LANG/unsubscribe.html`)."""
        return self._render(f"{language}/{page}.html", context)

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        if name not in self.sources:
            raise TemplateError(
                f"the template {self.folder}/{name} is missing",
                [Problem(f"{self.folder}/{name}", "this template is missing")],
            )
        try:
            return self._template(name).render(context)
        except (jinja2.TemplateError, TemplateError) as error:
            raise TemplateError(
                f"the template {self.folder}/{name} cannot be rendered",
                [self._located(error, name)],
            ) from None

    def _located(self, error: Exception, name: str) -> Problem:
        line = getattr(error, "lineno", None)
        where = name
        traceback = error.__traceback__
        while traceback is not None:  # find the innermost frame that is a template
            filename = traceback.tb_frame.f_code.co_filename
            if filename in self.sources:
                where, line = filename, traceback.tb_lineno
            traceback = traceback.tb_next
        message = str(error)
        if isinstance(error, TemplateError) and error.problems:  # from a slot (messages.slots)
            problem = error.problems[0]
            return Problem(
                f"{self.folder}/{where}",
                f"{problem.message}: {error}",
                line=line,
                hint=problem.hint,
            )
        if isinstance(error, jinja2.UndefinedError):
            message += " (a variable or attribute the template uses does not exist)"
        return self._problem(where, line, message)
