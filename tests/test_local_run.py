"""`make run`: local settings, the quiet console, and the launcher's start and stop."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.log_filters import DemoteToDebug, DropMessagesStartingWith, RoutineRequests

PROJECT = Path(__file__).resolve().parent.parent
# Variables of the caller's shell that would change what the settings read.
LEAKY = {
    "DJANGO_SETTINGS_MODULE",
    "PORT",
    "WEB_PORT",
    "WEBHOOK_API_BASE_URL",
    "MAKEFLAGS",
    "MFLAGS",
}


def clean_env(**extra: str) -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in LEAKY} | extra


def local_setting(name: str, **env: str) -> str:
    """A setting of config.settings.local, read in a fresh interpreter with `env`."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from django.conf import settings; print(settings.{name})",
        ],
        cwd=PROJECT,
        env=clean_env(DJANGO_SETTINGS_MODULE="config.settings.local", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "origin"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "9000"}, "http://127.0.0.1:9000"),
        # Under honcho the worker's PORT is 9100; make passes the web server's as WEB_PORT.
        ({"PORT": "9100", "WEB_PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"PORT": "9000", "WEBHOOK_API_BASE_URL": "https://t.example"}, "https://t.example"),
    ],
)
def test_webhook_links_follow_the_port_make_run_serves(env, origin):
    assert local_setting("WEBHOOK_API_BASE_URL", **env) == origin


def test_every_command_of_make_run_learns_the_web_port(tmp_path):
    # A stand-in venv whose python prints WEB_PORT and its arguments: `make run` as written,
    # without installing or starting anything.
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text('#!/bin/sh\necho "WEB_PORT=$WEB_PORT $*"\n')
    (venv_bin / "python").chmod(0o755)

    result = subprocess.run(
        ["make", "-s", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=PROJECT,
        env=clean_env(PORT="9000"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.splitlines()[-4:] == [
        "WEB_PORT=9000 -m config.local_stack --check",
        "WEB_PORT=9000 manage.py migrate --noinput",
        "WEB_PORT=9000 manage.py load_demo",
        "WEB_PORT=9000 -m config.local_stack",
    ]


def test_the_local_console_has_no_axes_banner():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "AXES" not in result.stdout + result.stderr
    assert result.stderr == ""


def record(
    message: str, *args, level: int = logging.INFO, name: str = "test", **extra
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_the_server_log_keeps_pages_and_errors_and_drops_static_files_and_health_checks():
    routine = RoutineRequests()
    line = '"%s" %s %s'

    assert not routine.filter(
        record(line, "GET /static/admin/css/base.css HTTP/1.1", 200, 9, status_code=200)
    )
    assert not routine.filter(record(line, "GET /healthz HTTP/1.1", 200, 16, status_code=200))
    assert routine.filter(record(line, "GET /static/nope.css HTTP/1.1", 404, 9, status_code=404))
    assert routine.filter(record(line, "GET /admin/ HTTP/1.1", 200, 9, status_code=200))


def test_kombus_missing_hostname_warning_is_dropped_and_others_kept():
    no_hostname = DropMessagesStartingWith(["No hostname was supplied"])

    assert not no_hostname.filter(
        record("No hostname was supplied. Reverting to default 'localhost'")
    )
    assert no_hostname.filter(record("Connection refused"))


def test_the_sweepers_lines_show_only_at_debug():
    logger = logging.getLogger("tests.routine")
    demote = DemoteToDebug(["sweep_webhook_deliveries"])
    sweep = "Task licensing.tasks.sweep_webhook_deliveries[1] succeeded in 0.01s: 0"
    logger.setLevel(logging.INFO)
    try:
        assert not demote.filter(record(sweep, name=logger.name))
        assert demote.filter(record("Task licensing.tasks.scan_delays[2] received"))
        assert demote.filter(record(sweep, level=logging.ERROR, name=logger.name))

        logger.setLevel(logging.DEBUG)
        shown = record(sweep, name=logger.name)
        assert demote.filter(shown)
        assert shown.levelname == "DEBUG"
    finally:
        logger.setLevel(logging.NOTSET)


def launch(tmp_path: Path, procfile: str, **env: str) -> subprocess.Popen:
    """`python -m config.local_stack` on a Procfile of our own, in its own process group."""
    (tmp_path / "Procfile").write_text(procfile)
    return subprocess.Popen(
        [sys.executable, "-m", "config.local_stack"],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(PROJECT), VAR_DIR=str(tmp_path / "var"), WEB_PORT="0", **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


SLEEPER = f"{sys.executable} -c 'import time; time.sleep(60)'"
# Like the worker's warm shutdown: 7 s from SIGTERM to exit, longer than honcho's own 5 s.
SLOW_TO_STOP = (
    f"{sys.executable} -c 'import signal, sys, time; "
    "signal.signal(signal.SIGTERM, lambda *_: (time.sleep(7), sys.exit(0))); time.sleep(60)'"
)


def test_ctrl_c_stops_every_process_and_ends_with_status_0(tmp_path):
    stack = launch(
        tmp_path, f"slow: exec {SLOW_TO_STOP}\nquick: exec {SLEEPER}\n", DEMO_WEBHOOK_PORT="0"
    )
    try:
        time.sleep(3)
        os.killpg(stack.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        stdout, stderr = stack.communicate(timeout=30)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)

    assert stack.returncode == 0, stdout + stderr
    assert "SIGKILL" not in stdout
    assert "slow.1 stopped (rc=0)" in stdout
    assert "make run: stopped." in stdout


def test_a_process_that_fails_ends_the_stack_with_its_status(tmp_path):
    stack = launch(tmp_path, f"one: exec {SLEEPER}\nbroken: exit 3\n", DEMO_WEBHOOK_PORT="0")
    try:
        stdout, stderr = stack.communicate(timeout=30)
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)

    assert stack.returncode == 3, stdout + stderr
    assert "make run: stopped." not in stdout


def test_a_port_in_use_stops_make_run_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        check = subprocess.run(
            [sys.executable, "-m", "config.local_stack", "--check"],
            cwd=PROJECT,
            env=clean_env(WEB_PORT=str(port), VAR_DIR=str(tmp_path / "var")),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert check.returncode == 1
    assert check.stdout == ""
    assert check.stderr == (
        f"make run: port {port} is already in use on 127.0.0.1; choose another with "
        f"PORT=<port> make run.\n"
    )
