"""The benchmark databases: named bench*, created, migrated and switched to in-process.

`make bench` points DATABASE_URL at the API database (default `bench`); the delay
benchmarks use three more, named after it: `<name>_scan_10k`, `<name>_scan_1m` and
`<name>_alerts`. Nothing here creates, migrates or drops a database whose name does not
start with `bench`, so the `test` and `postgres` databases other engineers use stay untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from psycopg import sql

PROJECT_DIR = Path(__file__).resolve().parents[2]
SAFE_PREFIX = "bench"


class BenchDatabaseError(RuntimeError):
    """The benchmark was pointed at a database it must not touch."""


def main_database_name() -> str:
    name = connection.settings_dict["NAME"]
    if connection.vendor != "postgresql":
        raise BenchDatabaseError(
            f"make bench runs on PostgreSQL; DATABASE_URL points at {connection.vendor}."
        )
    check_name(name)
    return name


def check_name(name: str) -> None:
    if not name.startswith(SAFE_PREFIX):
        raise BenchDatabaseError(
            f"Refusing to use database {name!r}: benchmark databases are named {SAFE_PREFIX}*."
        )


def database_url(name: str) -> str:
    """DATABASE_URL with its database name replaced (for subprocesses)."""
    check_name(name)
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


def _server_connection() -> psycopg.Connection:
    """A connection to the server's maintenance database, for CREATE and DROP DATABASE only."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    )


def database_exists(name: str) -> bool:
    with _server_connection() as server:
        row = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def create_database(name: str) -> None:
    check_name(name)
    with _server_connection() as server:
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    check_name(name)
    connection.close()
    with _server_connection() as server:
        server.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def switch_database(name: str) -> None:
    """Point Django's default connection at database `name` (it reconnects on next use)."""
    check_name(name)
    if connection.settings_dict["NAME"] != name:
        connection.close()
        connection.settings_dict["NAME"] = name


@contextmanager
def using_database(name: str) -> Iterator[None]:
    """Point Django's default connection at database `name` for the duration."""
    previous = connection.settings_dict["NAME"]
    switch_database(name)
    try:
        yield
    finally:
        switch_database(previous)


def needs_migrations(name: str) -> bool:
    with using_database(name):
        executor = MigrationExecutor(connection)
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def migrate(name: str) -> None:
    """Run `manage.py migrate` against `name` in a subprocess (a fresh app registry and caches)."""
    env = {**os.environ, "DATABASE_URL": database_url(name)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
    )


def ensure_database(name: str) -> bool:
    """Create and migrate `name` as needed; True when it was created empty."""
    created = not database_exists(name)
    if created:
        create_database(name)
    if created or needs_migrations(name):
        migrate(name)
    return created
