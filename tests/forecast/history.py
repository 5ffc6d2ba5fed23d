"""Synthetic decision histories with known distributions, written in bulk.

Applications are inserted directly (not walked through the services: thousands of them),
with the stored fields the services would have left: the clock start, and for decided ones
the decision time and `decision_working_days`. Nothing pauses their clocks, so a decision
after T counting days falls on the T-th working day after the clock start.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.calendars import working_calendar
from licensing.models import (
    ApplicationLine,
    ApplicationStatus,
    ControlledItem,
    Exporter,
    LicenseApplication,
    LicensingAuthority,
    Organization,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The known distribution: Weibull with scale 45 and shape 2 working days, rounded up.
# P(ceil(X) <= n) = P(X <= n), so the discrete p-quantile is ceil(45 * (-ln(1 - p)) ** 0.5).
WEIBULL_SCALE = 45.0
WEIBULL_SHAPE = 2.0


def weibull_quantile(p: float) -> int:
    return math.ceil(WEIBULL_SCALE * (-math.log(1 - p)) ** (1 / WEIBULL_SHAPE))


def weibull_days(rng: random.Random) -> int:
    return max(1, math.ceil(rng.weibullvariate(WEIBULL_SCALE, WEIBULL_SHAPE)))


@dataclass(frozen=True)
class Built:
    decided: int
    withdrawn: int
    open: int


def build_history(
    *,
    organization: Organization,
    exporter: Exporter,
    authority: LicensingAuthority,
    item: ControlledItem,
    count: int,
    first_start: dt.date,
    last_start: dt.date,
    now: dt.datetime,
    seed: int,
    destination: str = "DE",
    draw: Callable[[random.Random], int] = weibull_days,
    withdrawn_share: float = 0.0,
) -> Built:
    """`count` applications whose clocks started on random working days in [first, last].

    Each draws its decision time in working days; those whose decision day lies after `now`
    are still open (under review). A `withdrawn_share` of them mean to withdraw after a
    uniform 1-90 working days, and do when that comes before the authority's decision.
    """
    rng = random.Random(seed)
    calendar = working_calendar(authority.calendar_country)
    span = (last_start - first_start).days
    today = now.astimezone(SHANGHAI).date()
    applications, lines = [], []
    decided = withdrawn = still_open = 0
    for _ in range(count):
        start = first_start + dt.timedelta(days=rng.randint(0, span))
        while not calendar.is_working_day(start):
            start += dt.timedelta(days=1)
        days = draw(rng)
        # A withdrawal comes at its own time, independent of when the authority would decide.
        withdraws_after = rng.randint(1, 90) if rng.random() < withdrawn_share else None
        is_withdrawn = withdraws_after is not None and withdraws_after < days
        if is_withdrawn:
            days = withdraws_after
        decision_day = calendar.add_working_days(start, days)
        started_at = dt.datetime.combine(start, dt.time(10), tzinfo=SHANGHAI)
        fields = {}
        if decision_day < today:
            withdrawn += is_withdrawn
            decided += not is_withdrawn
            fields = {
                "status": ApplicationStatus.WITHDRAWN
                if is_withdrawn
                else ApplicationStatus.APPROVED,
                "decided_at": dt.datetime.combine(decision_day, dt.time(10), tzinfo=SHANGHAI),
                "decision_working_days": days,
                "decision_calendar_days": (decision_day - start).days,
            }
        else:
            still_open += 1
            fields = {"status": ApplicationStatus.UNDER_REVIEW}
        application = LicenseApplication(
            organization=organization,
            exporter=exporter,
            authority=authority,
            license_type="single",
            end_user_name="Rheinland Motoren GmbH",
            end_user_country=destination,
            end_use="Manufacture of permanent-magnet motors.",
            destination_country=destination,
            authority_reference=f"SYN-{seed}-{len(applications)}",
            submitted_at=started_at - dt.timedelta(days=2),
            accepted_at=started_at,
            clock_started_at=started_at,
            **fields,
        )
        applications.append(application)
        lines.append(ApplicationLine(application=application, item=item, quantity=100, unit="kg"))
    LicenseApplication.objects.bulk_create(applications, batch_size=500)
    ApplicationLine.objects.bulk_create(lines, batch_size=500)
    return Built(decided=decided, withdrawn=withdrawn, open=still_open)
