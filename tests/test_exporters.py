"""Exporters: the Unified Social Credit Code check, uniqueness per tenant, and stale writes."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from core.errors import FieldErrors, PreconditionFailed
from core.uscc import USCC_ALPHABET, uscc_check_character, uscc_problem, validate_uscc
from licensing.models import Exporter
from licensing.services import exporters as exporter_services
from licensing.services.exporters import exporter_create, exporter_update
from tests.factories import ExporterFactory

VALID_CODES = ["91350100M000100Y43", "9144030071526726XG"]


# --- core.uscc ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", VALID_CODES)
def test_valid_uscc_codes_pass(code):
    assert uscc_problem(code) is None
    validate_uscc(code)  # does not raise


def test_check_character_of_a_known_code():
    assert uscc_check_character("91350100M000100Y4") == "3"
    assert uscc_check_character("9144030071526726X") == "G"


@pytest.mark.parametrize(
    ("code", "complaint"),
    [
        ("91350100M000100Y44", "check character is wrong: expected '3', got '4'"),
        ("9144030071526726XH", "check character is wrong: expected 'G', got 'H'"),
        ("91350100M000100Y4", "has 18 characters; this one has 17"),
        ("91350100M000100Y433", "has 18 characters; this one has 19"),
        ("", "this one has 0"),
        ("91350100I000100Y43", "Characters 'I'"),
        ("91350100O000100Y43", "Characters 'O'"),
        ("91350100S000100Y43", "Characters 'S'"),
        ("91350100V000100Y43", "Characters 'V'"),
        ("91350100Z000100Y43", "Characters 'Z'"),
        ("91350100m000100y43", "Characters 'my'"),
        ("91350100-000100Y43", "Characters '-'"),
    ],
)
def test_invalid_uscc_codes_say_what_is_wrong(code, complaint):
    problem = uscc_problem(code)
    assert problem is not None
    assert complaint in problem
    with pytest.raises(ValidationError) as caught:
        validate_uscc(code)
    assert caught.value.code == "invalid_uscc"


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), st.sampled_from(USCC_ALPHABET))
def test_exactly_one_check_character_completes_any_17_characters(body, last):
    code = body + last
    assert (uscc_problem(code) is None) == (last == uscc_check_character(body))


# --- through the exporter service --------------------------------------------------------------


@pytest.mark.django_db
def test_cn_exporter_with_a_valid_uscc_is_created(organization, actor):
    exporter = exporter_create(
        organization=organization,
        actor=actor,
        name="Fujian Test Rare Earth Co., Ltd.",
        country="CN",
        registration_number="91350100M000100Y43",
    )
    assert Exporter.objects.get(pk=exporter.pk).registration_number == "91350100M000100Y43"


@pytest.mark.django_db
def test_cn_exporter_registration_number_is_trimmed_and_uppercased(organization, actor):
    exporter = exporter_create(
        organization=organization,
        actor=actor,
        name="Shenzhen Test Co., Ltd.",
        country="CN",
        registration_number="  9144030071526726xg ",
    )
    assert Exporter.objects.get(pk=exporter.pk).registration_number == "9144030071526726XG"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("registration_number", "complaint"),
    [
        ("91350100M000100Y44", "The check character is wrong"),
        ("91350100M000100Y4", "has 18 characters"),
        ("91350100O000100Y43", "Characters 'O'"),
        ("12345", "has 18 characters"),
    ],
)
def test_cn_exporter_with_a_bad_uscc_is_refused_at_registration_number(
    organization, actor, registration_number, complaint
):
    with pytest.raises(FieldErrors) as caught:
        exporter_create(
            organization=organization,
            actor=actor,
            name="Bad Code Co., Ltd.",
            country="CN",
            registration_number=registration_number,
        )
    assert list(caught.value.errors) == ["/registration_number"]
    assert complaint in caught.value.errors["/registration_number"][0]
    assert not Exporter.objects.exists()


@pytest.mark.django_db
def test_non_cn_exporters_are_not_uscc_checked(organization, actor):
    exporter = exporter_create(
        organization=organization,
        actor=actor,
        name="Hamburg Metals GmbH",
        country="DE",
        registration_number="HRB 12345",
    )
    assert Exporter.objects.get(pk=exporter.pk).registration_number == "HRB 12345"


@pytest.mark.django_db
def test_changing_an_exporter_to_cn_applies_the_uscc_check(organization, actor):
    exporter = exporter_create(
        organization=organization,
        actor=actor,
        name="Hamburg Metals GmbH",
        country="DE",
        registration_number="HRB 12345",
    )
    with pytest.raises(FieldErrors) as caught:
        exporter_update(exporter=exporter, actor=actor, country="CN")
    assert list(caught.value.errors) == ["/registration_number"]
    assert str(Exporter.objects.get(pk=exporter.pk).country) == "DE"


@pytest.mark.django_db
def test_registration_number_is_unique_per_organization_and_country(organization, actor):
    fields = {"country": "CN", "registration_number": "91350100M000100Y43"}
    exporter_create(organization=organization, actor=actor, name="First", **fields)

    with pytest.raises(FieldErrors) as caught:
        exporter_create(organization=organization, actor=actor, name="Second", **fields)
    assert list(caught.value.errors) == ["/registration_number"]
    assert "exists" in caught.value.errors["/registration_number"][0]

    # Lower case is the same code once normalised.
    with pytest.raises(FieldErrors):
        exporter_create(
            organization=organization,
            actor=actor,
            name="Third",
            country="CN",
            registration_number="91350100m000100y43",
        )
    assert Exporter.objects.filter(organization=organization).count() == 1


@pytest.mark.django_db
def test_same_number_in_another_country_is_another_exporter(organization, actor):
    exporter_create(
        organization=organization, actor=actor, name="A", country="DE", registration_number="R-1"
    )
    exporter_create(
        organization=organization, actor=actor, name="B", country="AT", registration_number="R-1"
    )
    assert Exporter.objects.filter(organization=organization).count() == 2


@pytest.mark.django_db
def test_two_organizations_may_each_hold_the_same_exporter(organization, other_organization, actor):
    fields = {"name": "JL MAG", "country": "CN", "registration_number": "91350100M000100Y43"}
    first = exporter_create(organization=organization, actor=actor, **fields)
    second = exporter_create(organization=other_organization, actor=actor, **fields)
    assert first.pk != second.pk
    assert Exporter.objects.filter(registration_number="91350100M000100Y43").count() == 2


@pytest.mark.django_db
def test_update_into_an_existing_registration_number_is_refused(organization, actor):
    exporter_create(
        organization=organization,
        actor=actor,
        name="A",
        country="CN",
        registration_number="91350100M000100Y43",
    )
    other = exporter_create(
        organization=organization,
        actor=actor,
        name="B",
        country="CN",
        registration_number="9144030071526726XG",
    )
    with pytest.raises(FieldErrors) as caught:
        exporter_update(exporter=other, actor=actor, registration_number="91350100M000100Y43")
    assert list(caught.value.errors) == ["/registration_number"]
    assert Exporter.objects.get(pk=other.pk).registration_number == "9144030071526726XG"


# --- optimistic concurrency (core.concurrency) ---------------------------------------------


@pytest.mark.django_db
def test_update_with_the_current_version_succeeds_and_bumps_it(actor):
    exporter = ExporterFactory()
    assert exporter.version == 1
    exporter_update(exporter=exporter, actor=actor, expected_version=1, name="Renamed")
    stored = Exporter.objects.get(pk=exporter.pk)
    assert (stored.name, stored.version) == ("Renamed", 2)
    assert exporter.version == 2


@pytest.mark.django_db
def test_update_with_a_stale_version_raises_precondition_failed_and_writes_nothing(actor):
    exporter = ExporterFactory(name="Original")
    stale_copy = Exporter.objects.get(pk=exporter.pk)
    exporter_update(exporter=exporter, actor=actor, expected_version=1, name="First writer")
    before = Exporter.objects.values().get(pk=exporter.pk)

    with pytest.raises(PreconditionFailed) as caught:
        exporter_update(
            exporter=stale_copy,
            actor=actor,
            expected_version=stale_copy.version,
            name="Second writer",
            contact_email="late@example.com",
        )

    assert caught.value.status == 412
    assert "version 1" in caught.value.detail
    assert Exporter.objects.values().get(pk=exporter.pk) == before
    assert before["name"] == "First writer"
    assert before["version"] == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("postgres_only")
def test_two_concurrent_writers_with_the_same_version_exactly_one_wins(actor, monkeypatch):
    exporter = ExporterFactory(name="Original")
    original_save = exporter_services._save_exporter

    def slow_save(instance):
        # Hold the row (locked by claim_version's UPDATE) while the other writer arrives.
        time.sleep(0.3)
        original_save(instance)

    monkeypatch.setattr(exporter_services, "_save_exporter", slow_save)
    barrier = threading.Barrier(2, timeout=10)
    outcomes: dict[str, object] = {}

    def writer(name: str) -> None:
        try:
            copy = Exporter.objects.get(pk=exporter.pk)
            barrier.wait()
            exporter_update(exporter=copy, actor=actor, expected_version=1, name=name)
            outcomes[name] = "won"
        except Exception as error:  # the outcome is what the test checks
            outcomes[name] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    losers = [outcome for outcome in outcomes.values() if outcome != "won"]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], PreconditionFailed), outcomes
    stored = Exporter.objects.get(pk=exporter.pk)
    assert (stored.name, stored.version) == (winners[0], 2)
