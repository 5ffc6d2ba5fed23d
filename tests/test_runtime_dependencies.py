"""What `make run` imports is pinned in requirements.lock, never only in requirements-dev.lock.

`make run` installs the runtime lock alone, so a module of config/, core/ or licensing/
(settings, migrations and management commands included) that imported a test tool such as
factory_boy or hypothesis would fail there and nowhere in the test suite.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = ("config", "core", "licensing")
# Loaded by the test suite alone, which installs the dev lock (it pins the clock with the
# suite's own tests/pinned_clock.py).
TEST_ONLY = {PROJECT / "config" / "settings" / "test.py"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(lock: Path) -> set[str]:
    """The distributions a lock file pins (its `-r` includes left out)."""
    names = set()
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(canonical(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]))
    return names


def imported_top_level_modules() -> dict[str, str]:
    """Top-level module name -> one file importing it, over the runtime packages."""
    modules: dict[str, str] = {}
    files = [PROJECT / "manage.py"]
    for package in RUNTIME_PACKAGES:
        files.extend((PROJECT / package).rglob("*.py"))
    for path in files:
        if path in TEST_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                modules.setdefault(name.split(".")[0], str(path.relative_to(PROJECT)))
    return modules


def test_the_runtime_imports_only_what_the_runtime_lock_pins():
    runtime = pinned(PROJECT / "requirements.lock")
    dev_only = pinned(PROJECT / "requirements-dev.lock") - runtime
    distributions = packages_distributions()
    third_party = {
        module: where
        for module, where in imported_top_level_modules().items()
        if module not in sys.stdlib_module_names
        and module not in RUNTIME_PACKAGES
        and module != "__future__"
    }

    for module, where in sorted(third_party.items()):
        providers = {canonical(name) for name in distributions.get(module, [])}
        assert providers, f"{where} imports {module!r}, which no installed distribution provides"
        assert not providers & dev_only, (
            f"{where} imports {module!r} from {sorted(providers & dev_only)}, which only "
            "requirements-dev.lock pins: make run would not have it"
        )
        assert providers & runtime, (
            f"{where} imports {module!r}: pin {sorted(providers)} in requirements.lock"
        )


def test_the_dev_lock_builds_on_the_runtime_lock():
    lines = (PROJECT / "requirements-dev.lock").read_text().splitlines()
    assert "-r requirements.lock" in lines
    assert not pinned(PROJECT / "requirements-dev.lock") & pinned(PROJECT / "requirements.lock")
    assert {"pytest", "time-machine", "openapi-spec-validator", "openapi-python-client"} <= pinned(
        PROJECT / "requirements-dev.lock"
    )
