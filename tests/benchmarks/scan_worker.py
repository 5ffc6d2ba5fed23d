"""One delay scan in a fresh process, as a Celery worker would run it; prints its peak RSS.

Usage (DATABASE_URL and DJANGO_SETTINGS_MODULE set by the caller):
    python -m tests.benchmarks.scan_worker 2025-06-18T04:00:00+00:00
Prints one JSON object: applications evaluated, alerts raised, seconds, and the peak RSS in
KiB of this process, imports included: VmHWM from /proc/self/status. Not getrusage's
ru_maxrss: on Linux it carries the parent's high-water mark across fork and exec, so a
worker started from the (large) benchmark process would report the parent's peak instead of
its own (we saw 487 MiB for both populations that way).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_kib() -> int:
    """The high-water mark of this address space (VmHWM); ru_maxrss where /proc is missing."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main() -> None:
    import django

    django.setup()
    from licensing.services.delays import delays_scan
    from tests.benchmarks.measure import console_logging_to_devnull

    console_logging_to_devnull()

    now = dt.datetime.fromisoformat(sys.argv[1])
    started = time.perf_counter()
    report = delays_scan(now=now)
    seconds = time.perf_counter() - started
    peak_kib = peak_rss_kib()
    print(
        json.dumps(
            {
                "applications": report.applications,
                "raised": len(report.raised),
                "seconds": seconds,
                "peak_rss_kib": peak_kib,
            }
        )
    )


if __name__ == "__main__":
    main()
