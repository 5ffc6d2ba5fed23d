"""`make run`'s first and last steps: free ports, then the Procfile under honcho and where to look.

`.venv/bin/python -m config.local_stack --check` says in one line which port (web or demo
receiver) is taken, before anything is migrated or loaded.
`.venv/bin/python -m config.local_stack` runs the Procfile's processes (web, worker, beat,
the demo webhook receiver) with honcho's Manager, as `honcho start` would. Once the web
server answers /healthz, the receiver listens and the worker has taken the demo's first
webhook deliveries off the queue, it prints the URLs and the demo credentials in one block,
below the start-up lines rather than among them.

One Ctrl-C stops every process with SIGTERM and ends with status 0, so make reports no
error. The worker's warm shutdown on the file broker takes about 5 s, as long as honcho's
own grace before SIGKILL, so the grace here is longer (STOP_GRACE_SECONDS). A stack that
ends on its own (a process that failed, e.g. a port in use) keeps that process's status.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from honcho.environ import expand_processes, parse_procfile
from honcho.manager import Manager
from honcho.printer import Printer

# honcho's status after it stopped the processes on SIGINT (Ctrl-C) or SIGTERM.
STOPPED_BY_SIGNAL = {130, 143}
STOP_GRACE_SECONDS = 20
READY_TIMEOUT_SECONDS = 120
QUEUE_DRAIN_TIMEOUT_SECONDS = 30


class LocalStackManager(Manager):
    """honcho's Manager with a longer grace between SIGTERM and SIGKILL.

    honcho kills what still runs 5 s after the first process stopped; a worker's warm
    shutdown on the file broker takes about as long. The grace here runs from the first
    SIGTERM (honcho calls terminate() again when a process stops: that does not restart it).
    """

    _kill_after: float | None = None

    def terminate(self) -> None:
        if self._kill_after is None:
            self._kill_after = time.monotonic() + STOP_GRACE_SECONDS
        super().terminate()

    def kill(self) -> None:
        if self._kill_after is not None and time.monotonic() >= self._kill_after:
            super().kill()


def answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback http)
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def port_in_use(port: int) -> bool:
    """Whether something listens on the port (connections of a previous run closing do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def queue_is_empty(folder: str | None) -> bool:
    """Whether kombu's file broker holds no message (always true for another broker)."""
    return folder is None or not any(Path(folder).iterdir())


def ready_block(*, web_port: int, receiver_port: int, username: str, password: str) -> str:
    origin = f"http://127.0.0.1:{web_port}"
    rows = [
        ("Admin", f"{origin}/admin/   log in as {username} / {password}"),
        ("Delays dashboard", f"{origin}/admin/delays/"),
        ("API docs", f"{origin}/api/v1/docs/   (Redoc: {origin}/api/v1/redoc/)"),
        (
            "Webhook receiver",
            f"http://127.0.0.1:{receiver_port}/   (prints each event: receiver.1)",
        ),
        (
            "An API key",
            '.venv/bin/python manage.py create_api_key --organization "Rheinland Motoren GmbH (demo)"',
        ),
        ("Stop", "Ctrl-C, once"),
    ]
    rule = "=" * 78
    lines = [f"  {label + ':':<18}{value}" for label, value in rows]
    return "\n".join(
        ["", rule, "  Export license tracker is up (local demo)", "", *lines, rule, ""]
    )


def announce_when_up(settings, *, ended: threading.Event) -> None:
    """Print the block once web, receiver and worker are up; a note if they never are."""
    web_port, receiver_port = settings.WEB_PORT, settings.DEMO_WEBHOOK_PORT
    queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in")
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not (
        answers_http(f"http://127.0.0.1:{web_port}/healthz") and accepts_connections(receiver_port)
    ):
        if ended.wait(0.25):
            return
        if time.monotonic() > deadline:
            print(
                f"make run: nothing answered on port {web_port} (web) or {receiver_port} "
                f"(receiver) within {READY_TIMEOUT_SECONDS} s; see the lines above.",
                flush=True,
            )
            return
    # The demo's alerts wait in the queue for the worker: let their lines go by first.
    drained = time.monotonic() + QUEUE_DRAIN_TIMEOUT_SECONDS
    while not queue_is_empty(queue) and time.monotonic() < drained:
        if ended.wait(0.25):
            return
    if ended.wait(1.0):
        return
    block = ready_block(
        web_port=web_port,
        receiver_port=receiver_port,
        username=settings.DEMO_ADMIN_USERNAME,
        password=settings.DEMO_ADMIN_PASSWORD,
    )
    print(block, flush=True)


def ports_free(settings) -> bool:
    """Whether the web and receiver ports are free; if not, one line on stderr names the port."""
    for port, variable in (
        (settings.WEB_PORT, "PORT"),
        (settings.DEMO_WEBHOOK_PORT, "DEMO_WEBHOOK_PORT"),
    ):
        if port_in_use(port):
            print(
                f"make run: port {port} is already in use on 127.0.0.1; choose another with "
                f"{variable}=<port> make run.",
                file=sys.stderr,
            )
            return False
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.local_stack")
    parser.add_argument(
        "--check",
        action="store_true",
        help="Only check that the ports are free (make run's first step).",
    )
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.conf import settings

    if not ports_free(settings):
        return 1
    if options.check:
        return 0

    manager = LocalStackManager(Printer(sys.stdout))
    procfile = parse_procfile(Path("Procfile").read_text())
    for process in expand_processes(procfile.processes, port=settings.WEB_PORT):
        manager.add_process(process.name, process.cmd, env={**os.environ, **process.env})

    ended = threading.Event()
    threading.Thread(
        target=announce_when_up, args=(settings,), kwargs={"ended": ended}, daemon=True
    ).start()
    manager.loop()
    ended.set()
    if manager.returncode in STOPPED_BY_SIGNAL:
        print("make run: stopped. `make run` again starts where you left off.", flush=True)
        return 0
    return manager.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
