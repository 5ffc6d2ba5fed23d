"""Which threshold rule applies: specificity, the documented tie-break, blank scopes, fallback.

First on plain RuleSpecs (licensing.thresholds.select_rule), then through ThresholdRule rows
in the database, where the rule chosen shows in the application's stored delay state.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from licensing.models.delays import ThresholdRule
from licensing.services.delays import delay_after_application_change, fallback_rule
from licensing.services.threshold_rules import LevelInput, threshold_rule_create
from licensing.thresholds import (
    SCOPE_PRECEDENCE,
    ApplicationScope,
    LevelSpec,
    RuleSpec,
    rule_matches,
    select_rule,
)
from tests.delays.conftest import accepted_application, beijing
from tests.factories import (
    ControlledItemFactory,
    ExporterFactory,
    LicenseApplicationFactory,
    walk_application,
)

ORG, OTHER_ORG = uuid.UUID(int=1), uuid.UUID(int=2)
MOFCOM, BIS = uuid.UUID(int=11), uuid.UUID(int=12)
EXPORTER, OTHER_EXPORTER = uuid.UUID(int=21), uuid.UUID(int=22)
ITEM, OTHER_ITEM = uuid.UUID(int=31), uuid.UUID(int=32)
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
LEVELS = (LevelSpec("warning", 30, "working_days", False),)
FALLBACK = RuleSpec(id=None, levels=LEVELS)
SCOPE = ApplicationScope(
    organization_id=ORG,
    authority_id=MOFCOM,
    exporter_id=EXPORTER,
    destination_country="DE",
    item_ids=frozenset({ITEM, uuid.UUID(int=33)}),
    material_families=frozenset({"rare_earth", "tungsten"}),
)
# One matching value per scope field, in SCOPE_PRECEDENCE order.
MATCHING = {
    "exporter_id": EXPORTER,
    "item_id": ITEM,
    "material_family": "rare_earth",
    "destination_country": "DE",
    "authority_id": MOFCOM,
    "organization_id": ORG,
}
NOT_MATCHING = {
    "exporter_id": OTHER_EXPORTER,
    "item_id": OTHER_ITEM,
    "material_family": "gallium",
    "destination_country": "US",
    "authority_id": BIS,
    "organization_id": OTHER_ORG,
}
_ids = itertools.count(1000)


def rule(*fields: str, created_minutes: int = 0, rule_id: int | None = None, **values) -> RuleSpec:
    """A rule scoped by the matching value of each of `fields` (and any explicit `values`)."""
    scope = {name: MATCHING[name] for name in fields} | values
    return RuleSpec(
        id=uuid.UUID(int=rule_id if rule_id is not None else next(_ids)),
        levels=LEVELS,
        created_at=T0 + dt.timedelta(minutes=created_minutes),
        **scope,
    )


# --- pure ---------------------------------------------------------------------------------------


def test_the_precedence_is_the_documented_one():
    assert SCOPE_PRECEDENCE == (
        "exporter_id",
        "item_id",
        "material_family",
        "destination_country",
        "authority_id",
        "organization_id",
    )


def test_more_scope_fields_win_whatever_they_are():
    two_weak = rule("authority_id", "organization_id", created_minutes=5)
    one_strong = rule("exporter_id")
    assert select_rule([one_strong, two_weak], SCOPE, FALLBACK) is two_weak
    three = rule("destination_country", "authority_id", "organization_id", created_minutes=9)
    assert select_rule([one_strong, two_weak, three], SCOPE, FALLBACK) is three


@pytest.mark.parametrize(
    ("stronger", "weaker"),
    list(itertools.combinations(SCOPE_PRECEDENCE, 2)),
)
def test_a_tie_in_count_goes_to_the_field_earlier_in_the_precedence(stronger, weaker):
    # The weaker one is older and has the smaller id: only the field decides.
    winner = rule(stronger, created_minutes=10, rule_id=9000)
    loser = rule(weaker, created_minutes=0, rule_id=1)
    assert select_rule([loser, winner], SCOPE, FALLBACK) is winner
    assert select_rule([winner, loser], SCOPE, FALLBACK) is winner


def test_with_two_fields_each_the_first_differing_field_decides():
    # exporter+organization against item+authority: exporter comes first.
    exporter_org = rule("exporter_id", "organization_id", created_minutes=3)
    item_authority = rule("item_id", "authority_id")
    assert select_rule([item_authority, exporter_org], SCOPE, FALLBACK) is exporter_org
    # item+organization against material_family+destination: item comes first.
    item_org = rule("item_id", "organization_id", created_minutes=3)
    family_destination = rule("material_family", "destination_country")
    assert select_rule([family_destination, item_org], SCOPE, FALLBACK) is item_org


def test_then_the_older_rule_then_the_smaller_id():
    newer = rule("authority_id", created_minutes=1, rule_id=1)
    older = rule("authority_id", created_minutes=0, rule_id=2)
    assert select_rule([newer, older], SCOPE, FALLBACK) is older

    same_time_big_id = rule("authority_id", rule_id=0xFFFF)
    same_time_small_id = rule("authority_id", rule_id=0x00FF)
    assert select_rule([same_time_big_id, same_time_small_id], SCOPE, FALLBACK) is (
        same_time_small_id
    )
    assert select_rule([same_time_small_id, same_time_big_id], SCOPE, FALLBACK) is (
        same_time_small_id
    )


def test_a_blank_rule_matches_everything_and_a_blank_scope_field_matches_any_value():
    blank = rule()
    assert rule_matches(blank, SCOPE)
    other_scope = ApplicationScope(
        organization_id=OTHER_ORG,
        authority_id=BIS,
        exporter_id=OTHER_EXPORTER,
        destination_country="JP",
        item_ids=frozenset(),
        material_families=frozenset(),
    )
    assert rule_matches(blank, other_scope)
    assert select_rule([blank], other_scope, FALLBACK) is blank


@pytest.mark.parametrize("field", SCOPE_PRECEDENCE)
def test_a_rule_whose_set_field_differs_never_matches(field):
    specific = rule(*(name for name in SCOPE_PRECEDENCE if name != field))
    wrong = RuleSpec(
        **{**specific.__dict__, field: NOT_MATCHING[field]},
    )
    assert rule_matches(specific, SCOPE)
    assert not rule_matches(wrong, SCOPE)
    blank = rule()
    assert select_rule([wrong, blank], SCOPE, FALLBACK) is blank
    assert select_rule([wrong], SCOPE, FALLBACK) is FALLBACK


def test_item_and_material_family_match_any_line():
    assert rule_matches(rule(item_id=uuid.UUID(int=33)), SCOPE)
    assert rule_matches(rule(material_family="tungsten"), SCOPE)
    assert not rule_matches(rule(material_family="graphite"), SCOPE)


def test_the_fallback_applies_only_when_nothing_matches():
    assert select_rule([], SCOPE, FALLBACK) is FALLBACK
    assert select_rule([rule(organization_id=OTHER_ORG)], SCOPE, FALLBACK) is FALLBACK


@st.composite
def rule_sets(draw):
    """Rules over small value domains, so that matches, ties and clashes are frequent."""
    specs = []
    ids = draw(st.lists(st.integers(0, 2**128 - 1), max_size=8, unique=True))
    for rule_id in ids:
        scope = {}
        for name in SCOPE_PRECEDENCE:
            choice = draw(st.sampled_from(["blank", "match", "match", "other"]))
            if choice == "match":
                scope[name] = MATCHING[name]
            elif choice == "other":
                scope[name] = NOT_MATCHING[name]
        specs.append(
            RuleSpec(
                id=uuid.UUID(int=rule_id),
                levels=LEVELS,
                created_at=T0 + dt.timedelta(minutes=draw(st.integers(0, 3))),
                **scope,
            )
        )
    return specs


@given(rule_sets(), st.randoms(use_true_random=False))
def test_the_selected_rule_matches_and_no_matching_rule_beats_it(specs, random):
    shuffled = list(specs)
    random.shuffle(shuffled)

    chosen = select_rule(specs, SCOPE, FALLBACK)

    assert select_rule(shuffled, SCOPE, FALLBACK) is chosen  # the input order never matters
    matching = [spec for spec in specs if rule_matches(spec, SCOPE)]
    if not matching:
        assert chosen is FALLBACK
        return
    assert chosen in matching

    def set_fields(spec):
        return [bool(getattr(spec, name)) for name in SCOPE_PRECEDENCE]

    for other in matching:
        if other is chosen:
            continue
        mine, theirs = set_fields(chosen), set_fields(other)
        assert sum(mine) >= sum(theirs)
        if sum(mine) > sum(theirs):
            continue
        differing = [index for index in range(len(mine)) if mine[index] != theirs[index]]
        if differing:
            assert mine[differing[0]], (chosen, other)
            continue
        assert chosen.created_at <= other.created_at
        if chosen.created_at == other.created_at:
            assert chosen.id < other.id


# --- through the database --------------------------------------------------------------------------


def make_rule(organization, name, *, warning_after: int, actor, **scope) -> ThresholdRule:
    return threshold_rule_create(
        organization=organization,
        levels=[
            LevelInput("warning", warning_after),
            LevelInput("overdue", None, "working_days", True),
        ],
        actor=actor,
        name=name,
        **scope,
    )


def applied_rule(application):
    """The rule the engine applied, read back from the stored delay state."""
    application.refresh_from_db()
    return application.delay_rule


@pytest.fixture
def application(clock, mofcom, organization, exporter, dysprosium):
    return accepted_application(
        organization=organization, exporter=exporter, authority=mofcom, line__item=dysprosium
    )


def reassess(application):
    """Re-assess as the services do after any change of the application."""
    delay_after_application_change(application, now=timezone.now())
    application.refresh_from_db()
    return application


@pytest.mark.django_db
def test_the_migration_installs_a_default_for_everyone_and_one_for_us_bis(mofcom, us_bis):
    defaults = ThresholdRule.objects.filter(organization=None).prefetch_related("levels")
    by_authority = {rule.authority.code if rule.authority else None: rule for rule in defaults}
    assert set(by_authority) == {None, "US-BIS"}
    general = by_authority[None]
    assert sorted(
        (lvl.level, lvl.after, lvl.at_statutory_deadline) for lvl in general.levels.all()
    ) == [
        ("critical", 40, False),
        ("overdue", None, True),
        ("warning", 30, False),
    ]
    assert (general.repeat_every, general.lead_buffer_days, general.expiry_warning_days) == (
        10,
        5,
        30,
    )
    bis = by_authority["US-BIS"]
    assert {lvl.unit for lvl in bis.levels.all()} == {"calendar_days"}


@pytest.mark.django_db
def test_the_database_rule_with_most_scope_fields_applies(
    application, organization, exporter, mofcom, dysprosium, actor
):
    assert applied_rule(application) == ThresholdRule.objects.get(organization=None, authority=None)
    make_rule(organization, "exporter only", warning_after=20, actor=actor, exporter=exporter)
    two = make_rule(
        organization,
        "authority and destination",
        warning_after=25,
        actor=actor,
        authority=mofcom,
        destination_country="DE",
    )
    assert applied_rule(reassess(application)) == two
    # Its levels now drive the stored next threshold: warning at 25 working days (6 Nov),
    # already passed on 10 November, so the next point is the deadline.
    assert application.delay_level == "warning"
    assert (application.next_threshold_level, application.next_threshold_on) == (
        "overdue",
        dt.date(2025, 12, 4),
    )
    three = make_rule(
        organization,
        "item, family, exporter",
        warning_after=35,
        actor=actor,
        item=dysprosium,
        material_family="rare_earth",
        exporter=exporter,
    )
    assert applied_rule(reassess(application)) == three
    assert application.delay_level == "none"
    assert application.next_threshold_on == dt.date(2025, 11, 20)  # day 35


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stronger", "weaker"),
    [
        ("exporter", "item"),
        ("item", "material_family"),
        ("material_family", "destination_country"),
        ("destination_country", "authority"),
    ],
)
def test_in_the_database_ties_follow_the_precedence(
    clock, application, organization, exporter, mofcom, dysprosium, actor, stronger, weaker
):
    # An organization's rules all have `organization` set: {stronger, organization} against
    # {weaker, organization} is a tie in count. The weaker rule is the older one.
    values = {
        "exporter": exporter,
        "item": dysprosium,
        "material_family": "rare_earth",
        "destination_country": "DE",
        "authority": mofcom,
    }
    make_rule(
        organization, "weaker, older", warning_after=28, actor=actor, **{weaker: values[weaker]}
    )
    clock.advance(minutes=1)
    winner = make_rule(
        organization,
        "stronger, newer",
        warning_after=29,
        actor=actor,
        **{stronger: values[stronger]},
    )
    assert applied_rule(reassess(application)) == winner


@pytest.mark.django_db
def test_in_the_database_a_default_for_the_authority_beats_the_organizations_blank_rule(
    clock, application, organization, mofcom, actor
):
    ours = make_rule(organization, "ours for everything", warning_after=20, actor=actor)
    # {organization} beats the blank default for everyone.
    assert applied_rule(reassess(application)) == ours
    clock.advance(minutes=1)
    default_for_mofcom = threshold_rule_create(
        organization=None,
        levels=[LevelInput("warning", 29)],
        actor=actor,
        name="default for MOFCOM",
        authority=mofcom,
    )
    # {authority} against {organization}: one field each, and authority comes first.
    assert applied_rule(reassess(application)) == default_for_mofcom


@pytest.mark.django_db
def test_in_the_database_the_older_rule_wins_then_the_smaller_id(
    clock, application, organization, mofcom, actor
):
    first = make_rule(organization, "first", warning_after=28, actor=actor, authority=mofcom)
    clock.advance(seconds=1)
    make_rule(organization, "second", warning_after=29, actor=actor, authority=mofcom)
    assert applied_rule(reassess(application)) == first

    # Created in the same instant: the smaller id wins, whatever the names or insertion order.
    ThresholdRule.objects.filter(organization=organization).delete()
    same = [
        make_rule(
            organization, f"same instant {index}", warning_after=28, actor=actor, authority=mofcom
        )
        for index in range(4)
    ]
    assert len({rule.created_at for rule in same}) == 1
    assert applied_rule(reassess(application)) == min(same, key=lambda rule: str(rule.pk))


@pytest.mark.django_db
def test_another_organizations_rule_and_inactive_rules_never_apply(
    application, organization, other_organization, mofcom, actor
):
    theirs_exporter = ExporterFactory(organization=other_organization)
    make_rule(
        other_organization,
        "theirs: very specific",
        warning_after=1,
        actor=actor,
        authority=mofcom,
        destination_country="DE",
        material_family="rare_earth",
        exporter=theirs_exporter,
    )
    make_rule(other_organization, "theirs: everything", warning_after=1, actor=actor)
    inactive = make_rule(
        organization, "ours, switched off", warning_after=1, actor=actor, authority=mofcom
    )
    inactive.is_active = False
    inactive.save()
    assert applied_rule(reassess(application)) == ThresholdRule.objects.get(
        organization=None, authority=None
    )
    assert application.delay_level == "none"


@pytest.mark.django_db
def test_us_bis_applications_get_the_bis_default_in_calendar_days(clock, us_bis, organization):
    item = ControlledItemFactory(control_code="TEST-BIS-2", authority=us_bis)
    application = LicenseApplicationFactory(
        organization=organization, authority=us_bis, line__item=item
    )
    # Submitted 10 January 2025 in New York: the BIS clock starts on submission.
    walk_application(application, [("submitted", dt.datetime(2025, 1, 10, 15, tzinfo=dt.UTC))])
    application.refresh_from_db()
    assert application.delay_rule.authority == us_bis
    assert application.statutory_deadline == dt.date(2025, 4, 10)
    # 60 calendar days after 10 January: 11 March; the frozen clock reads 10 November.
    assert application.delay_level == "overdue"
    reached = {"warning": dt.date(2025, 3, 11), "critical": dt.date(2025, 3, 31)}
    assert application.next_threshold_level == "overdue"
    assert application.next_threshold_on > dt.date(2025, 11, 10)
    assert all(day < dt.date(2025, 11, 10) for day in reached.values())


@pytest.mark.django_db
def test_without_any_matching_rule_the_settings_fallback_applies(
    clock, mofcom, organization, exporter, no_rules, settings
):
    settings.DELAY_DEFAULT_RULE = {
        "levels": [
            {
                "level": "warning",
                "after": 5,
                "unit": "working_days",
                "at_statutory_deadline": False,
            },
            {
                "level": "critical",
                "after": 50,
                "unit": "calendar_days",
                "at_statutory_deadline": False,
            },
        ],
        "repeat_every": None,
    }
    assert fallback_rule().levels[1] == LevelSpec("critical", 50, "calendar_days", False)
    application = accepted_application(
        beijing("2025-10-27"), organization=organization, exporter=exporter, authority=mofcom
    )
    assert application.delay_rule is None
    assert application.delay_level == "warning"  # 5 working days after 27 Oct: 3 Nov
    # 50 calendar days after 27 October: 16 December. No overdue level in this rule.
    assert (application.next_threshold_level, application.next_threshold_on) == (
        "critical",
        dt.date(2025, 12, 16),
    )
