"""Production settings fail fast without secrets and pass Django's deployment checks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),  # 64 characters
    "DJANGO_ALLOWED_HOSTS": "licenses.example.com",
    "DATABASE_URL": "postgres://tracker@db.example.com:5432/tracker",
}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run Python in the project with only `env` (and PATH) in the environment."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_secret_key_is_64_random_characters():
    assert len(PRODUCTION_ENV["DJANGO_SECRET_KEY"]) == 64


def test_production_settings_refuse_to_load_with_an_empty_environment():
    result = run(["-c", "import config.settings.production"], env={})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV))
def test_production_settings_name_each_missing_variable(missing):
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != missing}
    result = run(["-c", "import config.settings.production"], env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_settings_pass_the_deployment_checks():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=PRODUCTION_ENV | {"DJANGO_SETTINGS_MODULE": "config.settings.production"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
