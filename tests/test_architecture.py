"""The boundaries of docs/architecture.md, checked on the source: each library in its one
adapter, and a pure core that reads no clock, file, network or database."""

from __future__ import annotations

import ast

from tests.conftest import REPO

PACKAGE = REPO / "mailer"
PURE = [
    "addresses",
    "cadence",
    "compose",
    "config",
    "config_daemon",
    "config_delivery",
    "config_mailing",
    "config_series",
    "csv_source",
    "describe",
    "durations",
    "email_context",
    "encoding",
    "errors",
    "formatting",
    "ics",
    "links",
    "model",
    "notices",
    "reader",
    "recipients",
    "recurrence",
    "revisions",
    "segments",
    "sessions",
    "slots",
    "timezones",
    "tokens",
    "toml_source",
    "vocabulary",
]
IMPURE_MODULES = {"os", "time", "socket", "sqlite3", "subprocess", "asyncio", "aiosmtplib"}
ADAPTERS = {"state", "ledger", "workspace", "project", "revision_store", "audience", "sending"}
IMPURE_CALLS = {"now", "today", "utcnow", "open", "read_text", "read_bytes", "write_text"}
ONLY_IN = {
    "apscheduler": {"daemon.py"},
    "click": {"cli/base.py", "cli/daemon_commands.py", "cli/list_commands.py"}
    | {"cli/project_commands.py", "cli/send_commands.py"},
    "aiohttp": {"daemon.py", "http_app.py"},
    "aiosmtplib": {"transport/smtp.py"},
    "sqlite3": {"state.py", "ledger.py"},
}


def modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def imported(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


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


def test_each_library_is_imported_by_its_adapter_only() -> None:
    trees = modules()
    for library, allowed in ONLY_IN.items():
        users = {name for name, tree in trees.items() if library in imported(tree)}
        assert users <= allowed, f"{library} imported by {sorted(users - allowed)}"
        assert users, f"nothing imports {library}: update this test"


def test_the_pure_core_reads_no_clock_file_network_or_database() -> None:
    trees = modules()
    for name in PURE:
        tree = trees[f"{name}.py"]
        assert not imported(tree) & IMPURE_MODULES, (name, imported(tree) & IMPURE_MODULES)
        assert not called(tree) & IMPURE_CALLS, (name, called(tree) & IMPURE_CALLS)
        assert not _mailer_imports(tree) & ADAPTERS, (name, _mailer_imports(tree) & ADAPTERS)


def _mailer_imports(tree: ast.Module) -> set[str]:
    return {
        node.module.removeprefix("mailer.")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mailer.")
    }


def test_modules_stay_small() -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert max(sizes.values()) <= 450, sorted(sizes.items(), key=lambda item: -item[1])[:3]


def test_this_test_sees_a_violation() -> None:
    """The checks above can fail: a module that reads the clock is caught."""
    tree = ast.parse("import time\nimport datetime as dt\nx = dt.datetime.now()\n")
    assert imported(tree) & IMPURE_MODULES == {"time"}
    assert called(tree) & IMPURE_CALLS == {"now"}
