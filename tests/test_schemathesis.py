"""The committed contract against the running API: Schemathesis on a live server.

Every operation of openapi/v1.yaml gets its examples, its boundary cases, a bounded number
of generated requests (valid and invalid), and stateful sequences that follow the schema's
links. The server must never answer 5xx, and every answer must match the contract: a
documented status, its media type and its schema. Generation is deterministic and nothing
is shrunk, so a run takes the same time and finds the same failures every time.
"""

from __future__ import annotations

import io
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.apps import apps
from django.core.servers.basehttp import WSGIRequestHandler

from core.api.throttling import ApiKeyRateThrottle
from licensing.demo import DemoLoader
from licensing.reference_data import install_reference_data
from licensing.services.api_keys import api_key_create
from licensing.services.delays import delays_scan

SCHEMA = Path(__file__).resolve().parent.parent / "openapi" / "v1.yaml"
SCHEMATHESIS = Path(sys.executable).with_name("st")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
MAX_EXAMPLES = 25
TIMEOUT_SECONDS = 300

# serialized_rollback, like the suite's other transactional tests: the flush at the end then
# leaves the migrations' rows to be restored, rather than recreating content types that the
# next such test would restore a second time.
pytestmark = [pytest.mark.drill, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def api_key(live_server, monkeypatch) -> str:
    """A read-write key of the demo organization, with the demo data and its alerts."""
    # Throttling is tested elsewhere; here a 429 would only hide what the request reaches.
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000/min"})
    # The dev server writes headers and body separately: on a kept-alive connection Nagle's
    # algorithm and the client's delayed ACK then cost 40 ms a request, 4x the work itself.
    monkeypatch.setattr(WSGIRequestHandler, "disable_nagle_algorithm", True)
    # The catalogue comes from a data migration; put it back should a flush have removed it.
    install_reference_data(apps)
    DemoLoader(stdout=io.StringIO()).load()
    delays_scan()  # the alerts of the demo's late applications and shipments at risk
    _, key = api_key_create(
        organization_name="Rheinland Motoren GmbH (demo)", name="schemathesis", read_only=False
    )
    return key


def _junit_counts(report: Path) -> str:
    if not report.exists():
        return "no report"
    root = ET.parse(report).getroot()  # noqa: S314 (our own report file)
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(suite.get("tests", 0)) for suite in suites)
    failures = sum(int(suite.get("failures", 0)) for suite in suites)
    errors = sum(int(suite.get("errors", 0)) for suite in suites)
    return f"JUnit: {tests} tests, {failures} failed, {errors} errors"


def test_the_api_answers_as_the_committed_schema_says(live_server, api_key, tmp_path):
    report = tmp_path / "junit.xml"
    command = [
        str(SCHEMATHESIS),
        "run",
        str(SCHEMA),
        "--url",
        live_server.url,
        "--header",
        f"Authorization: Api-Key {api_key}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--no-shrink",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        "--no-color",
    ]
    # No crash cache: each run starts from nothing, not by replaying an earlier run's failures.
    (tmp_path / "schemathesis.toml").write_text("[cache]\nenabled = false\n")
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    print(result.stdout[result.stdout.rfind("SUMMARY") :])  # shown with pytest -rP
    shown = shlex.join(command).replace(api_key, "<key>")
    assert result.returncode == 0, (
        f"Schemathesis found failures ({_junit_counts(report)}). The command, to rerun "
        f"against a running server:\n{shown}\n\n"
        f"{result.stdout[-30000:]}\n{result.stderr[-5000:]}"
    )
