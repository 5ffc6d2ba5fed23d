"""Side-by-side timing on a shared, noisy machine, and the one format every result is printed in.

Each repeat runs both sides, in alternating order (A B, then B A, ...), so drift in the
machine's load falls on both; a result is the median over repeats of the per-repeat ratio.
Setup (restoring data, building inputs) runs before each side and is never timed.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Side:
    """One side of a comparison: `run` is timed; `setup`, when given, runs just before it."""

    run: Callable[[], object]
    setup: Callable[[], object] | None = None


def alternate(a: Side, b: Side, *, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds per repeat for each side, the two sides alternating which runs first."""
    times_a: list[float] = []
    times_b: list[float] = []
    for repeat in range(repeats):
        order = [(a, times_a), (b, times_b)]
        if repeat % 2:
            order.reverse()
        for side, times in order:
            if side.setup is not None:
                side.setup()
            started = time.perf_counter()
            side.run()
            times.append(time.perf_counter() - started)
    return times_a, times_b


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of the per-repeat ratios (pairs measured in the same repeat)."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def calibrate(run: Callable[[], object], *, seconds: float, at_least: int = 5) -> int:
    """How many calls of `run` take about `seconds` (one call is timed, after a warm-up)."""
    run()
    started = time.perf_counter()
    run()
    once = time.perf_counter() - started
    return max(at_least, round(seconds / max(once, 1e-6)))


def repeat(run: Callable[[], object], times: int) -> Callable[[], None]:
    def many() -> None:
        for _ in range(times):
            run()

    return many


def report(
    name: str, value: float, *, target: str | None = None, unit: str = "", digits: int = 2
) -> bool:
    """Print one result line; with a target such as ">= 0.5", PASS or MISS. Returns the verdict."""
    shown = str(value) if isinstance(value, int) else f"{value:.{digits}f}"
    if target is None:
        print(f"bench: {name} = {shown}{unit}", flush=True)
        return True
    op, number = target.split()
    passed = value >= float(number) if op == ">=" else value <= float(number)
    verdict = "PASS" if passed else "MISS"
    print(f"bench: {name} = {shown} (target {op} {number}) {verdict}", flush=True)
    return passed


def note(text: str) -> None:
    """Context for the results (not a result): prefixed with # so no parser mistakes it for one."""
    print(f"# {text}", flush=True)


def console_logging_to_devnull() -> None:
    """Log records are still made, formatted and written (their cost is part of what we
    measure: the scan logs every alert it raises), but to /dev/null instead of the console."""
    sink = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)
