"""The README's commands work as written, from the repository root, after `make run`.

The safe ones run as subprocesses through bash, exactly as the README gives them, with the
project's `.venv/bin/python` and its default (local) settings, against the test database
with the demo data that `make run` loads. Only what cannot be known in advance is
replaced: the live test server's address in the curl, a free port and a real secret for the
second webhook receiver. A renamed command or option makes these tests fail.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from urllib.parse import quote

import pytest
from django.apps import apps
from django.db import connection

from core.webhooks.signing import secret_generate
from licensing.reference_data import install_reference_data
from tests.readme import README, ShellCommand, readme_command, readme_commands, strip_comment

PROJECT = README.parent
VENV_PYTHON = PROJECT / ".venv" / "bin" / "python"
# What the reader's shell would not have set: the test run's own settings and services.
TEST_RUN_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "VAR_DIR",
    "PORT",
    "WEB_PORT",
    "WEBHOOK_API_BASE_URL",
}
README_ORIGIN = "http://127.0.0.1:8000"


def test_no_command_needs_an_activated_virtualenv():
    bare = [
        f"README.md:{number}: {line.strip()}"
        for number, line in enumerate(README.read_text().splitlines(), start=1)
        if re.search(r"(?<![\w./-])python3? manage\.py", line)
    ]
    assert bare == [], "use .venv/bin/python manage.py (or a make target):\n" + "\n".join(bare)


def test_every_manage_py_command_uses_the_projects_virtualenv():
    commands = [c for c in readme_commands() if "manage.py" in c.text]
    assert commands, "the README gives no manage.py command"
    for command in commands:
        assert ".venv/bin/python manage.py" in command.text, command


def test_commands_are_extracted_one_per_logical_line(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "Text with `python manage.py x` inline is not a command.\n"
        "```sh\n"
        "# a comment line\n"
        "make run      # starts everything\n"
        "celery -A config worker \\\n"
        "  --concurrency 4 --hostname worker@%h\n"
        "\n"
        "curl -H 'X: a # not a comment' \"http://h/?a=1#frag\"\n"
        "```\n"
        "```python\n"
        "print('not shell')\n"
        "```\n"
        "```console\n"
        "$ .venv/bin/python manage.py check\n"
        "System check identified no issues (0 silenced).\n"
        "```\n"
        "```console\n"
        "output only\n"
        "```\n"
    )

    assert [(c.text, c.line, c.language) for c in readme_commands(readme)] == [
        ("make run", 4, "sh"),
        ("celery -A config worker --concurrency 4 --hostname worker@%h", 5, "sh"),
        ("curl -H 'X: a # not a comment' \"http://h/?a=1#frag\"", 8, "sh"),
        (".venv/bin/python manage.py check", 14, "console"),
    ]
    assert strip_comment("echo a#b # c") == "echo a#b"


def database_url() -> str:
    """The test database as a DATABASE_URL, for the subprocesses."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def bash(script: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", "set -o pipefail\n" + script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def succeeded(command: ShellCommand | str, result: subprocess.CompletedProcess) -> bool:
    assert result.returncode == 0, (
        f"{command}\nexit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def reader_env(tmp_path) -> dict[str, str]:
    """A reader's shell: no settings module, the test database, a scratch broker and var/."""
    assert VENV_PYTHON.exists(), "the README's commands run .venv/bin/python: run make install"
    env = {name: value for name, value in os.environ.items() if name not in TEST_RUN_VARIABLES}
    return env | {"DATABASE_URL": database_url(), "VAR_DIR": str(tmp_path / "var")}


@pytest.fixture
def after_make_run(reader_env) -> dict[str, str]:
    """The database as `make run` leaves it: migrated, with the demo data loaded."""
    install_reference_data(apps)  # should an earlier test's flush have removed the catalogue
    load = bash(".venv/bin/python manage.py load_demo", reader_env)
    assert succeeded("load_demo", load)
    return reader_env


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_commands_run_after_make_run_work_as_written(live_server, after_make_run):
    # The API example: a key from create_api_key, then the overdue applications with it.
    create = readme_command("create_api_key")
    assert create.text.startswith("KEY=$("), create
    made = bash(f'{create.text}\nprintf %s "$KEY"', after_make_run)
    assert succeeded(create, made)
    key = made.stdout.strip()
    assert re.fullmatch(r"[\w-]+\.[\w-]+", key), made.stdout

    curl = readme_command("curl ")
    assert README_ORIGIN in curl.text, curl
    listed = bash(curl.text.replace(README_ORIGIN, live_server.url), after_make_run | {"KEY": key})
    assert succeeded(curl, listed)
    page = json.loads(listed.stdout)
    assert page["results"], page
    assert {application["delay_level"] for application in page["results"]} == {"overdue"}

    scan = readme_command("scan_delays")
    scanned = bash(scan.text, after_make_run)
    assert succeeded(scan, scanned)
    assert "Scanned at " in scanned.stdout

    backtests = [c for c in readme_commands() if "backtest_forecast" in c.text]
    assert backtests, "the README gives no backtest_forecast command"
    for backtest in backtests:
        replayed = bash(backtest.text, after_make_run)
        assert succeeded(backtest, replayed)
        if "--json" in backtest.text:
            assert json.loads(replayed.stdout)["outcomes"]["decided"] > 0
        else:
            assert "decided on or before p90" in replayed.stdout


def test_webhook_listen_helps_and_listens_as_written(reader_env):
    helps = readme_command("webhook_listen --help")
    shown = bash(helps.text, reader_env)
    assert succeeded(helps, shown)
    assert "--port" in shown.stdout and "--secret" in shown.stdout

    listen = readme_command("webhook_listen --port")
    port = free_port()
    text = re.sub(r"--port \d+", f"--port {port}", listen.text)
    text = text.replace("whsec_...", secret_generate())
    receiver = subprocess.Popen(
        ["bash", "-c", f"exec {text}"],
        cwd=PROJECT,
        env=reader_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout.readline() == f"Listening for webhooks on http://127.0.0.1:{port}/\n"
        receiver.send_signal(signal.SIGTERM)
        receiver.communicate(timeout=30)
    finally:
        receiver.kill()
    assert receiver.returncode == 0


def test_the_readme_links_the_projects_own_domain_notes():
    text = README.read_text()
    assert "../shared/DOMAIN.md" not in text
    assert "(docs/domain.md)" in text
    assert (PROJECT / "docs" / "domain.md").is_file()


def test_user_facing_text_says_license():
    """The API's spelling everywhere users read: docs, schema, admin, messages and payloads."""
    readable = [README, PROJECT / "docs" / "domain.md", PROJECT / "openapi" / "v1.yaml"]
    for package in ("config", "core", "licensing", "templates"):
        readable += [
            path
            for path in (PROJECT / package).rglob("*")
            if path.suffix in {".py", ".html", ".txt", ".css"} and "migrations" not in path.parts
        ]
    assert [path for path in readable if "licence" in path.read_text().lower()] == []
