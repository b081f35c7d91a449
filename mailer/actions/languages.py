"""`mailer language add LANG`: the templates of a new language for the project, whose parts
are its own (a copied folder would still include the other language's partials)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from mailer.actions.init import STARTER, shipped_languages
from mailer.config.values import language_problem
from mailer.errors import InvalidInput
from mailer.i18n.labels import REQUIRED_LABEL_KEYS, built_in_labels
from mailer.project.load import Project


@dataclass(frozen=True)
class AddedLanguage:
    folder: Path
    shipped: bool  # mailer's own set (written by native speakers); else a copy to translate
    source: str  # the language copied, when not shipped
    labels_needed: tuple[str, ...]  # the [labels.LANG] keys to give (no built-in labels)


def add_language(project: Project, language: str, source: str | None = None) -> AddedLanguage:
    """Write `templates/LANG`: mailer's own set when it ships one (and `source` is not
    asked for), else a copy of `source`'s (default: the series' first language) whose
    includes point at its own files. InvalidInput when the folder exists already."""
    if problem := language_problem(language):
        raise InvalidInput(f"'{language}': {problem}")
    folder = project.templates_dir / language
    if folder.exists():
        raise InvalidInput(f"{folder} exists already: mailer overwrites nothing")
    shipped = source is None and language in shipped_languages()
    copied = source or project.config.series.default_language
    if shipped:
        shutil.copytree(STARTER / language, folder)
    else:
        origin = project.templates_dir / copied
        if not origin.is_dir():
            raise InvalidInput(f"there are no templates to copy in {origin}")
        shutil.copytree(origin, folder)
        reference = re.compile(rf"""(["']){re.escape(copied)}/""")
        for path in folder.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8")
                path.write_text(reference.sub(rf"\g<1>{language}/", text), encoding="utf-8")
    needed = () if built_in_labels(language) is not None else tuple(REQUIRED_LABEL_KEYS)
    return AddedLanguage(folder, shipped, copied, needed)
