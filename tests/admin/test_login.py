"""Staff login through the admin's login form, rate-limited by django-axes.

Five failed logins for one username from one address lock that pair out for the cool-off
(LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES, 5 and 15 by default): even the right
password is then refused, with a page that says why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

PROJECT = Path(__file__).resolve().parent.parent.parent
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the-right-password-42"
OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.9"


@pytest.fixture
def officer(django_user_model):
    return django_user_model.objects.create_user(
        username="officer", password=PASSWORD, is_staff=True
    )


def log_in(client, password: str, *, username: str = "officer", address: str = OFFICE):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def logged_in(client) -> bool:
    return client.get(reverse("admin:index")).status_code == 200


def fail_five_times(client, *, username: str = "officer", address: str = OFFICE) -> None:
    """Four failures show the form's error; the fifth already shows the lockout page."""
    for attempt in range(1, 5):
        response = log_in(client, f"wrong-{attempt}", username=username, address=address)
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    response = log_in(client, "wrong-5", username=username, address=address)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()


def test_the_right_password_logs_in(client, officer):
    response = log_in(client, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert logged_in(client)


def test_five_failures_lock_out_even_the_right_password(client, officer):
    fail_five_times(client)

    response = log_in(client, PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page
    assert "blocked after 5 failed attempts for 15 minutes" in page
    assert "<strong>officer</strong>" in page
    assert not logged_in(client)


def test_four_failures_still_let_the_right_password_in(client, officer):
    for attempt in range(4):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_success_forgets_earlier_failures(client, officer):
    for attempt in range(4):
        log_in(client, f"wrong-{attempt}")
    log_in(client, PASSWORD)
    client.logout()
    for attempt in range(4):
        log_in(client, f"wrong-again-{attempt}")
    assert log_in(client, PASSWORD).status_code == 302


def test_the_lockout_is_per_username_and_address(client, officer, django_user_model):
    django_user_model.objects.create_user(username="colleague", password=PASSWORD, is_staff=True)
    fail_five_times(client)

    assert log_in(client, PASSWORD, username="colleague").status_code == 302
    client.logout()
    assert log_in(client, PASSWORD, address=ELSEWHERE).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, officer):
    fail_five_times(client)
    assert log_in(client, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))

    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_failures_are_recorded_for_the_admin(client, officer):
    fail_five_times(client)
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "officer",
        OFFICE,
        5,
    )


def test_limit_and_cool_off_come_from_the_environment():
    """Production settings read LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES."""
    script = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), "
        "s.AXES_LOCKOUT_PARAMETERS, s.AUTHENTICATION_BACKENDS, s.MIDDLEWARE[-1]]))"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 64,
        "DJANGO_ALLOWED_HOSTS": "licenses.example.com",
        "DATABASE_URL": "postgres://tracker@db.example.com:5432/tracker",
        "LOGIN_FAILURE_LIMIT": "3",
        "LOGIN_COOLOFF_MINUTES": "30",
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    limit, cool_off, parameters, backends, last_middleware = json.loads(
        result.stdout.strip().splitlines()[-1]
    )
    assert (limit, cool_off) == (3, 1800)
    assert parameters == [["username", "ip_address"]]
    assert backends == [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert last_middleware == "axes.middleware.AxesMiddleware"
