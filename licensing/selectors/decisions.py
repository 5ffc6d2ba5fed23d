"""When the decisions on record were made: the range a forecast backtest can replay."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max, Min

from licensing.models import ApplicationStatus, LicenseApplication


def decision_span() -> tuple[dt.date, dt.date] | None:
    """The first and last day (UTC) an application was approved or denied; None before any.

    Every organization's, like the backtest. A withdrawal is not a decision; an expired,
    revoked or exhausted license was one (an approval).
    """
    span = (
        LicenseApplication.objects.filter(decided_at__isnull=False)
        .exclude(status=ApplicationStatus.WITHDRAWN)
        .aggregate(first=Min("decided_at"), last=Max("decided_at"))
    )
    if span["first"] is None:
        return None
    return span["first"].astimezone(dt.UTC).date(), span["last"].astimezone(dt.UTC).date()
