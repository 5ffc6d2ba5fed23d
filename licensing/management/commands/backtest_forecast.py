"""`python manage.py backtest_forecast [--at <date>] [--json]`: replay the forecast, score it.

A replay, not a snapshot: status changes and clock stops are read as they stood at --at
(stops recorded and started by then), but the escalation and watch-list flags (whether a
statutory deadline applies), the lines and the catalogue are read as they are today.
--at defaults to 120 days ago: most applications waiting then have been decided since.
When nothing can be scored (no application waiting then has a decision to compare with),
the command says why and which dates would work, and exits with status 1.
"""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from licensing.selectors.decisions import decision_span
from licensing.services.forecasts import forecast_backtest

DEFAULT_DAYS_BACK = 120


def parse_at(value: str) -> dt.datetime:
    """A date (its start, 00:00 UTC) or an ISO 8601 date-time (UTC when it has no offset)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--at {value!r} is not an ISO 8601 date or date-time.") from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def nothing_to_score(at: dt.datetime, result: dict) -> str:
    """Why a backtest at `at` compares nothing, and which dates would work."""
    day = at.date().isoformat()
    span = decision_span()
    if span is None:
        return (
            "Nothing to score: no application has been approved or denied yet, and a backtest "
            "compares predictions with real decisions (make run loads a demo history)."
        )
    if not result["fitted_decisions"] and not result["predicted"]:
        why = f"no application's clock had started before {day}"
    elif not result["predicted"]:
        why = f"no application was waiting on {day}"
    else:
        why = f"none of the {result['predicted']} applications waiting on {day} has been decided since"
    first, last = span
    middle = first + (last - first) / 2
    return (
        f"Nothing to score at {day}: {why}. Decisions on record run from {first} to {last}; "
        f"choose --at between them, e.g. --at {middle}."
    )


class Command(BaseCommand):
    help = (
        "Fit the expected-decision forecast on the decisions made before --at, predict the "
        "applications open then, and report how the predictions fared. Status changes and "
        "clock stops are replayed as of --at; the escalation and watch-list flags (whether a "
        "statutory deadline applies), the lines and the catalogue are read as they are today."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--at",
            help=f"Replay date: 2026-06-01 (00:00 UTC) or an ISO date-time; by default "
            f"{DEFAULT_DAYS_BACK} days ago.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        if options["at"]:
            at = parse_at(options["at"])
        else:
            today = timezone.now().astimezone(dt.UTC).date()
            at = parse_at((today - dt.timedelta(days=DEFAULT_DAYS_BACK)).isoformat())
        if at > timezone.now():
            raise CommandError("--at must lie in the past: a backtest compares with what happened.")
        result = forecast_backtest(at=at).as_dict()
        if not result["outcomes"]["decided"]:
            raise CommandError(nothing_to_score(at, result))
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        outcomes = result["outcomes"]

        def shown(value, unit: str = "") -> str:
            return "n/a" if value is None else f"{value}{unit}"

        def percent(value) -> str:
            return "n/a" if value is None else f"{value:.1%}"

        self.stdout.write(
            "\n".join(
                [
                    f"Backtest at {result['at']}",
                    f"  fitted on {result['fitted_decisions']} decisions made before then",
                    f"  predicted {result['predicted']} applications open then; windows by basis: "
                    + (", ".join(f"{k} {v}" for k, v in result["by_basis"].items()) or "none"),
                    f"  fell back to the statutory deadline: {result['statutory_fallbacks']}",
                    f"  outcomes: {outcomes['decided']} decided (compared below), "
                    f"{outcomes['withdrawn']} withdrawn, {outcomes['still_open']} still open, "
                    f"{result['no_estimate']} without an estimate",
                    f"  decided on or before p90: {percent(result['share_decided_by_p90'])} "
                    "(target about 90%)",
                    "  median absolute error of p50: "
                    f"{shown(result['p50_median_abs_error_working_days'], ' working days')} "
                    f"(working days on the authority's calendar between p50 and the decision), "
                    f"{shown(result['p50_median_abs_error_calendar_days'], ' calendar days')}",
                ]
            )
        )
