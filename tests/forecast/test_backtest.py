"""`manage.py backtest_forecast` on a synthetic history with a known distribution."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.forecast.conftest import NOW
from tests.forecast.history import build_history, weibull_quantile


def backtest(at: str, *extra: str) -> str:
    out = io.StringIO()
    call_command("backtest_forecast", "--at", at, *extra, stdout=out)
    return out.getvalue()


def backtest_default(*extra: str) -> str:
    out = io.StringIO()
    call_command("backtest_forecast", *extra, stdout=out)
    return out.getvalue()


def synthetic(organization, exporter, dysprosium):
    """2,000 applications over 22 months, Weibull(45, 2) working days (median 38, p90 69);
    one in five means to withdraw after 1-90 working days (censored, not a decision)."""
    return build_history(
        organization=organization,
        exporter=exporter,
        authority=dysprosium.authority,
        item=dysprosium,
        count=2000,
        first_start=dt.date(2024, 1, 2),
        last_start=dt.date(2025, 10, 31),
        now=NOW,
        seed=11,
        withdrawn_share=0.2,
    )


def test_the_backtest_recovers_the_distribution_and_covers_90_percent(
    organization, exporter, dysprosium, clock
):
    synthetic(organization, exporter, dysprosium)

    for at in ("2025-03-01", "2025-07-01"):
        result = json.loads(backtest(at, "--json"))

        # Fitted on the decisions before `at` (about 1,000), the open ones censored: the
        # median within 3 and the p90 within 6 working days of the truth.
        fitted = result["authority_quantiles"]["CN-MOFCOM"]
        assert fitted["decided"] == result["fitted_decisions"] > 900
        assert abs(fitted["p50_days"] - weibull_quantile(0.5)) <= 3, fitted
        assert abs(fitted["p90_days"] - weibull_quantile(0.9)) <= 6, fitted
        # Predicted the applications open at `at`; their real decisions are known by now.
        outcomes = result["outcomes"]
        assert outcomes["decided"] > 150 and outcomes["withdrawn"] > 0
        assert result["predicted"] == sum(outcomes.values()) + result["no_estimate"]
        # The p90 window holds about 90 % of the real decisions: within 3 binomial standard
        # deviations at n = 150 (2.4 points each).
        assert 0.83 <= result["share_decided_by_p90"] <= 0.97, result
        # For Weibull(45, 2) the irreducible median distance to the true conditional median
        # is 14 working days at age 0, 13 at 20 and 10 at 40 (simulated): an estimate within a
        # few days of the truth stays near that.
        assert 6 <= result["p50_median_abs_error_working_days"] <= 16, result
        assert (
            result["p50_median_abs_error_calendar_days"]
            >= result["p50_median_abs_error_working_days"]
        )
        assert result["statutory_fallbacks"] <= result["predicted"] * 0.05


@override_settings(FORECAST_MIN_SAMPLE=100_000)
def test_with_too_little_history_every_prediction_falls_back_and_the_report_says_so(
    organization, exporter, dysprosium, clock
):
    synthetic(organization, exporter, dysprosium)

    result = json.loads(backtest("2025-03-01", "--json"))
    text = backtest("2025-03-01")

    assert result["predicted"] > 0
    assert result["statutory_fallbacks"] == result["predicted"]
    assert result["by_basis"] == {"statutory_deadline": result["predicted"]}
    assert f"fell back to the statutory deadline: {result['predicted']}" in text


def test_without_at_it_replays_120_days_back(history):
    result = json.loads(backtest_default("--json"))

    assert result["at"] == "2025-07-13T00:00:00+00:00"  # 120 days before 10 Nov 2025
    assert result["outcomes"]["decided"] > 0


def test_a_date_with_nothing_to_score_says_why_and_which_dates_work(history):
    with pytest.raises(CommandError) as refused:
        backtest("2024-01-01")

    message = str(refused.value)
    assert message.startswith(
        "Nothing to score at 2024-01-01: no application's clock had started before 2024-01-01. "
        "Decisions on record run from "
    )
    suggested = message.rsplit("--at ", 1)[1].rstrip(".")
    assert "decided on or before p90" in backtest(suggested)


def test_with_no_decision_on_record_it_says_a_backtest_needs_them(db, clock):
    with pytest.raises(CommandError, match="no application has been approved or denied yet"):
        backtest("2025-06-01")
