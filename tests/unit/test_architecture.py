"""The layers of docs/architecture.md, checked by folder on the source.

Every module is in a package of one layer; a package imports only the packages below it (so the
package graph has no cycle); the pure core imports no I/O library and calls no clock or file
function; each outside library is imported by its one adapter; only the interfaces use the
composition root; only mailer/errors.py defines exceptions and exit codes. A new module is
covered by its folder, without editing this file; a new package must be given a layer here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator, Mapping

import pytest

import mailer
from tests.support.project import REPO

PACKAGE = REPO / "mailer"
# bottom to top; a package may import the packages of lower layers only (peers: not each other)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__",),  # the version, nothing else (every module imports it implicitly)
    ("model", "errors"),  # the records and the error tree
    ("recurrence",),  # when sessions take place
    ("i18n",),  # core: how each language writes things
    ("audience",),  # core: who a send reaches
    ("config",),  # core: config.toml and session files -> records
    ("calendar",),  # core: events and calendar files
    ("messages", "inbound"),  # core: emails and pages; what comes back by mail
    ("store", "transport", "mailbox"),  # adapters: the state file; how emails leave, come in
    ("project",),  # adapter: the project's files, clock and environment (the composition root)
    ("sending",),  # service: plan -> record -> send -> record
    ("actions",),  # service: what each command does
    ("web",),  # interface: the daemon's web pages
    ("daemon",),  # interface: the long-running process
    ("cli",),  # interface: the command line
    ("__main__",),  # `python -m mailer`
)
CORE = {
    "model",
    "errors",
    "recurrence",
    "i18n",
    "audience",
    "config",
    "calendar",
    "messages",
    "inbound",
}
INTERFACES = {"web", "daemon", "cli"}
IO_MODULES = {
    "os",
    "time",
    "socket",
    "sqlite3",
    "psycopg",
    "psycopg_pool",
    "subprocess",
    "asyncio",
    "pathlib",
    "shutil",
    "aiosmtplib",
    "imapclient",
    "imaplib",
    "aiohttp",
    "apscheduler",
    "click",
}
IO_CALLS = {
    "now",
    "today",
    "utcnow",
    "monotonic",
    "open",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "stat",
    "glob",
    "rglob",
    "iterdir",
    "mkdir",
}
ONLY_IN = {  # an outside library -> the folders (or module) allowed to import it
    "apscheduler": {"daemon"},
    "aiohttp": {"web", "daemon"},
    "click": {"cli"},
    "aiosmtplib": {"transport/smtp.py"},
    "dkim": {"transport/dkim.py"},
    "sqlite3": {"store/sqlite.py"},
    "psycopg": {"store/postgres.py"},
    "psycopg_pool": {"store/postgres.py"},
    "imapclient": {"mailbox"},
    "flufl": {"inbound/bounces.py"},
}
COMPOSITION_ROOT = "mailer.project.workspace"
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}


def sources() -> dict[str, str]:
    """Every module of the package, by its path under mailer/ (`sending/engine.py`)."""
    return {
        path.relative_to(PACKAGE).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def unit(module_path: str) -> str:
    """The layer unit a module belongs to: its top folder, or its own name at the top."""
    first = module_path.split("/", maxsplit=1)[0]
    return first.removesuffix(".py")


def mailer_imports(tree: ast.Module) -> Iterator[str]:
    """The mailer modules a module imports (`mailer.sending.engine`), wherever the import is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("mailer"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mailer":  # a submodule, or a name of mailer/__init__.py
                for alias in node.names:
                    yield "mailer" if alias.name.startswith("__") else f"mailer.{alias.name}"
            elif node.module.startswith("mailer."):
                yield node.module


def outside_imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - {"mailer"}


def called(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Attribute):
                names.add(function.attr)
            elif isinstance(function, ast.Name):
                names.add(function.id)
    return names


def imported_unit(module: str) -> str:
    """`mailer.sending.engine` -> `sending`; `mailer.model` -> `model`; `mailer` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layering_violations(modules: Mapping[str, str]) -> list[str]:
    """Every import that goes up or sideways, and every module outside the known layers."""
    problems = []
    for path, text in modules.items():
        here = unit(path)
        if here not in LAYER_OF:
            problems.append(f"{path}: '{here}' has no layer in tests/unit/test_architecture.py")
            continue
        for module in mailer_imports(ast.parse(text)):
            there = imported_unit(module)
            if there == here:
                continue
            if there not in LAYER_OF or LAYER_OF[there] >= LAYER_OF[here]:
                problems.append(f"{path} imports {module}: {here} may not import {there}")
    return problems


def core_violations(modules: Mapping[str, str]) -> list[str]:
    """I/O in the pure core: an I/O library imported, a clock or file function called."""
    problems = []
    for path, text in modules.items():
        if unit(path) not in CORE:
            continue
        tree = ast.parse(text)
        if io := outside_imports(tree) & IO_MODULES:
            problems.append(f"{path} imports {sorted(io)}")
        if calls := called(tree) & IO_CALLS:
            problems.append(f"{path} calls {sorted(calls)}")
    return problems


def library_violations(modules: Mapping[str, str]) -> list[str]:
    problems = []
    for library, allowed in ONLY_IN.items():
        for path, text in modules.items():
            if library in outside_imports(ast.parse(text)) and not (
                path in allowed or unit(path) in allowed
            ):
                problems.append(f"{path} imports {library} (only {sorted(allowed)} may)")
    return problems


def test_every_package_imports_only_the_layers_below_it() -> None:
    assert layering_violations(sources()) == []


def test_the_pure_core_reads_no_clock_file_network_or_database() -> None:
    assert core_violations(sources()) == []


def test_each_library_is_imported_by_its_adapter_only() -> None:
    modules = sources()
    assert library_violations(modules) == []
    for library in ONLY_IN:  # a rule about a library nobody imports is stale
        assert any(library in outside_imports(ast.parse(text)) for text in modules.values())


def test_only_the_interfaces_use_the_composition_root() -> None:
    users = {
        path
        for path, text in sources().items()
        if COMPOSITION_ROOT in set(mailer_imports(ast.parse(text)))
    }
    assert users, "nothing uses the workspace: update this test"
    assert {unit(path) for path in users} <= INTERFACES, sorted(users)


STORE_ADAPTERS = {"mailer.store.sqlite", "mailer.store.postgres"}


def test_only_the_store_s_location_knows_which_store_it_is() -> None:
    """Two stores, one interface: services get a State and never import an adapter (a test
    that copies a file, or `mailer.store.location` choosing one, may)."""
    users = {
        path
        for path, text in sources().items()
        if STORE_ADAPTERS & set(mailer_imports(ast.parse(text)))
    }
    assert users, "nothing opens a store: update this test"
    assert users <= {"store/location.py"}, sorted(users)


def test_at_most_a_handful_of_modules_at_the_top() -> None:
    top = sorted(path for path in sources() if "/" not in path)
    assert top == ["__init__.py", "__main__.py", "errors.py", "model.py", "recurrence.py"]


def test_every_exception_and_exit_code_is_defined_in_errors() -> None:
    elsewhere = []
    for info in pkgutil.walk_packages(mailer.__path__, "mailer."):
        if info.name in ("mailer.__main__", "mailer.errors"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == info.name
            if inspect.isclass(value) and issubclass(value, BaseException) and defined_here:
                elsewhere.append(f"{info.name}.{name}")
    assert elsewhere == []
    for path, text in sources().items():
        if path == "errors.py":
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                assert not any(name.startswith("EXIT_") for name in names), (path, names)


def test_modules_stay_small() -> None:
    sizes = {path: len(text.splitlines()) for path, text in sources().items()}
    assert max(sizes.values()) <= 450, sorted(sizes.items(), key=lambda item: -item[1])[:3]


@pytest.mark.parametrize(
    ("modules", "expected"),
    [
        ({"calendar/ics.py": "from mailer.sending.run import x\n"}, "calendar may not import"),
        ({"store/a.py": "from mailer.transport.base import x\n"}, "store may not import"),
        ({"cli/a.py": "from mailer.cli.base import x\nimport mailer.daemon\n"}, None),
        ({"newthing/a.py": "import mailer.model\n"}, "has no layer"),
        ({"messages/a.py": "from mailer import cli\n"}, "messages may not import cli"),
    ],
)
def test_the_layer_check_sees_a_violation(modules: dict[str, str], expected: str | None) -> None:
    found = layering_violations(modules)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found


def test_the_core_and_library_checks_see_a_violation() -> None:
    clock = "import datetime as dt\nx = dt.datetime.now()\n"
    assert core_violations({"config/a.py": clock}) == ["config/a.py calls ['now']"]
    assert core_violations({"sending/a.py": clock}) == []  # services may read a clock given
    assert core_violations({"i18n/a.py": "import os\n"}) == ["i18n/a.py imports ['os']"]
    assert library_violations({"sending/a.py": "import aiosmtplib\n"}) != []
    assert library_violations({"transport/smtp.py": "import aiosmtplib\n"}) == []
