"""core.charts: server-side SVG charts are well-formed, escaped, and show their numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from core.charts import (
    Bar,
    Series,
    axis_scale,
    bar_chart,
    buckets_from_edges,
    grouped_bar_chart,
    histogram,
    histogram_counts,
)

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # noqa: S314 (markup we just generated)


def texts(markup: str) -> list[str]:
    return [element.text or "" for element in parsed(markup).iter(f"{SVG}text")]


def tooltips(markup: str) -> list[str]:
    return [element.text for element in parsed(markup).iter(f"{SVG}rect") for element in element]


def test_buckets_from_edges_label_whole_day_ranges():
    buckets = buckets_from_edges([0, 11, 21, 31, 41, 46])
    assert [bucket.label for bucket in buckets] == [
        "0-10",
        "11-20",
        "21-30",
        "31-40",
        "41-45",
        "46+",
    ]


def test_histogram_counts_put_each_value_in_its_bucket():
    buckets = buckets_from_edges([0, 11, 21, 31, 41, 46])
    assert histogram_counts([0, 10, 11, 45, 46, 200], buckets) == [2, 1, 0, 0, 1, 2]


@pytest.mark.parametrize("edges", [[], [0, 0], [10, 5]])
def test_buckets_need_increasing_edges(edges):
    with pytest.raises(ValueError, match="strictly increasing"):
        buckets_from_edges(edges)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, (1, [0, 1])), (2, (2, [0, 1, 2])), (9, (10, [0, 5, 10])), (130, (150, [0, 50, 100, 150]))],
)
def test_axis_scale_uses_whole_round_steps(value, expected):
    assert axis_scale(value) == expected


def test_a_bar_chart_is_svg_with_escaped_labels_values_and_links():
    markup = bar_chart(
        [Bar("<script>alert(1)</script>", 3, href="/admin/?a=1&b=2"), Bar("CN-MOFCOM", 12)],
        title="Open & late",
    )

    root = parsed(markup)
    assert root.tag == f"{SVG}svg"
    assert root.get("aria-label") == "Open & late"
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert {"3", "12", "CN-MOFCOM"} <= set(texts(markup))
    links = [element.get("href") for element in root.iter(f"{SVG}a")]
    assert links == ["/admin/?a=1&b=2"]


def test_long_labels_are_cut_but_the_tooltip_keeps_them_whole():
    name = "Ganzhou Haisheng Tungsten Company Limited, export department"
    markup = bar_chart([Bar(name, 5)], title="By exporter", width=300)
    assert name not in texts(markup)
    assert any(text.endswith("...") for text in texts(markup))
    assert tooltips(markup) == [f"{name}: 5"]


def test_a_vertical_bar_chart_shows_each_value():
    markup = bar_chart([Bar("a", 1), Bar("b", 4)], title="t", orientation="vertical")
    assert {"a", "b", "1", "4"} <= set(texts(markup))


def test_a_grouped_bar_chart_has_two_series_and_a_legend():
    markup = grouped_bar_chart(
        ["CN-MOFCOM rare earths", "CN-MOFCOM gallium"],
        [Series("median", [38, 41.5]), Series("p90", [52, None])],
        title="Lead time, last 12 months",
        value_suffix=" d",
    )

    assert {"median", "p90"} <= set(texts(markup))
    assert tooltips(markup) == [
        "CN-MOFCOM rare earths, median: 38 d",
        "CN-MOFCOM rare earths, p90: 52 d",
        "CN-MOFCOM gallium, median: 41.5 d",
        "CN-MOFCOM gallium, p90: no data",
    ]
    vertical = grouped_bar_chart(
        ["a"], [Series("median", [3]), Series("p90", [7])], title="t", orientation="vertical"
    )
    assert {"3", "7", "median", "p90"} <= set(texts(vertical))


def test_a_grouped_bar_chart_needs_a_value_per_category():
    with pytest.raises(ValueError, match="one value per category"):
        grouped_bar_chart(["a", "b"], [Series("median", [1])], title="t")


def test_a_histogram_counts_values_into_buckets():
    markup = histogram(
        [1, 2, 15, 50], buckets=buckets_from_edges([0, 11, 21]), title="Working days waited"
    )
    labels_and_values = texts(markup)
    assert {"0-10", "11-20", "21+"} <= set(labels_and_values)
    assert tooltips(markup) == ["0-10: 2", "11-20: 1", "21+: 1"]


def test_an_empty_chart_says_so():
    assert "No data" in texts(bar_chart([], title="Nothing"))
