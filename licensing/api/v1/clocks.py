"""The statutory clock in API representations, computed once per request per calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from core.calendars import WorkingCalendar, working_calendar
from licensing.api.v1.fields import EnumField
from licensing.clock import ApplicationClock, application_clock
from licensing.models import DelayLevel, LicenseApplication, PeriodUnit


def _source_application(field: serializers.Field, instance: Any) -> LicenseApplication | None:
    """The application a field reads: the instance itself, or its `source` (a shipment's license)."""
    if field.source in (None, "*") or field.source == field.field_name:
        return instance
    return serializers.Field.get_attribute(field, instance)


# The representation fields an application's clock, its delay level and its forecast give it
# (a shipment repeats them for its application): read-only, and changed by the clock, the
# delay scan and the nightly forecast without a new version of the row (core.api.strict_bodies).
CLOCK_FIELDS = (
    "wait",
    "statutory_deadline",
    "delay_level",
    "next_threshold",
    "at_risk",
    "expected_decision",
)


class RequestClocks:
    """The clocks of one request's applications: one instant, and each calendar read once.

    `working_calendar` costs a query per call; a list computes many clocks on few calendars.
    """

    def __init__(self) -> None:
        self.now = timezone.now()
        self._calendars: dict[str, WorkingCalendar] = {}

    def clock(self, application: LicenseApplication) -> ApplicationClock:
        country = application.authority.calendar_country
        if country not in self._calendars:
            self._calendars[country] = working_calendar(country)
        return application_clock(application, now=self.now, calendar=self._calendars[country])


def request_clocks(context: dict[str, Any]) -> RequestClocks:
    """The serializer context's RequestClocks, made on first use."""
    return context.setdefault("clocks", RequestClocks())


class WaitSerializer(serializers.Serializer):
    """How long the application has waited on the authority's statutory clock, now."""

    elapsed = serializers.IntegerField(
        help_text="Counting days since the clock started, pauses excluded."
    )
    unit = EnumField(choices=PeriodUnit.choices)
    clock_started_at = serializers.DateTimeField(allow_null=True)
    paused_days = serializers.IntegerField(help_text="Counting days the clock was paused.")
    statutory_deadline = serializers.DateField(
        allow_null=True,
        help_text="The day the authority must decide by; null before the clock starts and "
        "when no deadline applies (escalated, watch-listed party).",
    )
    is_running = serializers.BooleanField()

    def get_attribute(self, instance: Any) -> ApplicationClock | None:
        application = _source_application(self, instance)
        return request_clocks(self.context).clock(application) if application else None


class StatutoryDeadlineField(serializers.DateField):
    """The statutory deadline of the application the field is read from."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def get_attribute(self, instance: Any) -> dt.date | None:
        application = _source_application(self, instance)
        return (
            request_clocks(self.context).clock(application).statutory_deadline
            if application
            else None
        )


class NextThresholdSerializer(serializers.Serializer):
    """The next delay level the wait will reach, and on which day (if nothing intervenes)."""

    level = EnumField(choices=DelayLevel.choices)
    date = serializers.DateField()

    def get_attribute(self, instance: Any) -> dict[str, Any] | None:
        application = _source_application(self, instance)
        if application is None or application.next_threshold_on is None:
            return None
        return {"level": application.next_threshold_level, "date": application.next_threshold_on}
