"""docs/domain.md: its worked example of the CN-MOFCOM clock is what the clock computes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from licensing.clock import StatusEvent, StopPeriod, compute_clock

NOTES = (Path(__file__).resolve().parent.parent / "docs" / "domain.md").read_text()
BEIJING = ZoneInfo("Asia/Shanghai")


def deadline(cn_calendar, *, events=(), stops=()) -> dt.date:
    clock = compute_clock(
        clock_started_at=dt.datetime(2025, 9, 26, 10, 0, tzinfo=BEIJING),
        decided_at=None,
        period=45,
        unit="working_days",
        zone=BEIJING,
        calendar=cn_calendar,
        events=events,
        stops=stops,
        has_deadline=True,
        now=dt.datetime(2025, 11, 20, 10, 0, tzinfo=BEIJING),
    )
    return clock.statutory_deadline


def test_the_worked_example_matches_the_clock(cn_calendar):
    assert cn_calendar.add_working_days(dt.date(2025, 9, 26), 1) == dt.date(2025, 9, 28)
    assert cn_calendar.is_working_day(dt.date(2025, 10, 11))
    assert deadline(cn_calendar) == dt.date(2025, 12, 4)
    assert "The deadline is Thursday **2025-12-04**." in NOTES

    paused = deadline(
        cn_calendar,
        events=[
            StatusEvent("info_requested", dt.datetime(2025, 10, 20, 10, tzinfo=BEIJING)),
            StatusEvent("under_review", dt.datetime(2025, 10, 24, 10, tzinfo=BEIJING)),
        ],
        stops=[StopPeriod(dt.date(2025, 11, 3), dt.date(2025, 11, 7))],
    )
    assert paused == dt.date(2025, 12, 17)
    assert "to Wednesday **2025-12-17**." in NOTES
