"""Run the test suite as if today were another day: `make test TEST_TODAY=2026-02-18`.

The delay engine, the forecasts and the admin all count working days up to "today" on China's
calendar, so a test that builds its data relative to today can pass on one date and fail on
the next (a holiday enters or leaves its window). Such tests pin their own clock; this module
is the net under them. With `TEST_TODAY` set, the whole test process starts at that instant
and ticks on from there (time-machine patches `time.time`, `datetime.now`, `date.today`, ...;
`time.monotonic` is left alone, so timeouts still measure real seconds).

- `TEST_TODAY=YYYY-MM-DD` means 10:00 in Beijing on that day; a full ISO 8601 instant with an
  offset (`2026-02-14T17:30:00Z`) pins the time of day too, e.g. to put the UTC date and the
  Beijing date on different days.
- Processes the tests start (Celery workers and beat, management commands) must read the same
  clock, or a worker would judge a deadline on the real date. The first process turns the
  instant into an offset from the real clock and exports it as `TEST_CLOCK_OFFSET_SECONDS`;
  every process that loads `config.settings.test` applies the same offset, so all of them
  agree to the second.
- `make test-dates` runs the date-sensitive part of the suite at each date in `TEST_DATES`
  (see the Makefile); CI runs it after the plain run.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from zoneinfo import ZoneInfo

TODAY_VARIABLE = "TEST_TODAY"
OFFSET_VARIABLE = "TEST_CLOCK_OFFSET_SECONDS"
BEIJING = ZoneInfo("Asia/Shanghai")
MORNING_IN_BEIJING = dt.time(10, 0)

_traveller = None


def pinned_instant(value: str) -> dt.datetime:
    """The instant that `TEST_TODAY=value` stands for (a date means 10:00 in Beijing)."""
    value = value.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day, MORNING_IN_BEIJING, tzinfo=BEIJING)
        instant = dt.datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(
            f"{TODAY_VARIABLE}={value!r} is neither a date (2026-02-18) nor an ISO 8601 "
            f"instant with an offset (2026-02-14T17:30:00Z): {error}"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(f"{TODAY_VARIABLE}={value!r} has no UTC offset; add one, e.g. Z or +08:00")
    return instant


def pin_from_environment() -> dt.datetime | None:
    """Start the pinned clock when TEST_TODAY (or an inherited offset) asks for one.

    Returns the pinned "now" at the moment of the call, or None when the clock is real.
    Safe to call more than once in a process.
    """
    global _traveller
    offset = os.environ.get(OFFSET_VARIABLE)
    today = os.environ.get(TODAY_VARIABLE, "")
    if offset is None and not today:
        return None
    if _traveller is not None:
        return dt.datetime.now(dt.UTC)
    real_now = time.time()
    if offset is None:
        offset = str(pinned_instant(today).timestamp() - real_now)
        os.environ[OFFSET_VARIABLE] = offset
    destination = real_now + float(offset)

    import time_machine  # a dev dependency: only test runs ever get here

    _traveller = time_machine.travel(destination, tick=True)
    _traveller.start()
    # time-machine starts the ticking at the first read of the clock, not at start(): read it
    # now, or a process that first asks a few seconds later would run that much behind the
    # others (a worker would then see the tasks of beat as expired).
    return dt.datetime.fromtimestamp(time.time(), dt.UTC)


def subprocess_environment(instant: dt.datetime) -> dict[str, str]:
    """Environment that makes a process started with the test settings run at `instant`.

    For a test that pins its own clock (time-machine's `move_to`) and starts a worker: the
    worker must read the same pinned clock, not the real one (nor TEST_TODAY's).
    """
    import time_machine

    real_now = time_machine.escape_hatch.time.time()
    return {OFFSET_VARIABLE: str(instant.timestamp() - real_now)}
