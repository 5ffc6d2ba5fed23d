"""Charts drawn on the server as inline SVG: bar charts, grouped bar charts and histograms.

Each function returns SVG markup marked safe for a template; every label is escaped here,
so callers pass plain text. Nothing is loaded from elsewhere: colours come from CSS
classes (`chart-bar`, `chart-series-<n>`, or the `css_class` given per bar or series),
with plain fills in the markup as a fallback when no stylesheet is present.

The charts carry their numbers as text (value labels and a <title> tooltip per bar), so
they read without a legend and a screen reader gets the figures.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SERIES_FILLS = ("#417690", "#e0a030", "#79aec8", "#ba2121")
CHAR_WIDTH = 7.5  # generous average width of a 12 px sans-serif character (capitals are wider)
ROW_HEIGHT = 22
BAR_GAP = 6


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value, and optionally a link and a CSS class (e.g. a level)."""

    label: str
    value: float
    href: str = ""
    css_class: str = ""


@dataclass(frozen=True)
class Series:
    """One series of a grouped bar chart: a name for the legend and one value per category."""

    name: str
    values: Sequence[float | None]
    css_class: str = ""


@dataclass(frozen=True)
class Bucket:
    """A histogram bucket: values in [low, high], or >= low when high is None."""

    low: float
    high: float | None

    @property
    def label(self) -> str:
        if self.high is None:
            return f"{_number(self.low)}+"
        if self.high == self.low:
            return _number(self.low)
        return f"{_number(self.low)}-{_number(self.high)}"

    def holds(self, value: float) -> bool:
        return value >= self.low and (self.high is None or value <= self.high)


def buckets_from_edges(edges: Sequence[int]) -> list[Bucket]:
    """Integer buckets starting at each edge: [0, 11, 21] gives 0-10, 11-20, 21+."""
    if not edges or list(edges) != sorted(set(edges)):
        raise ValueError("edges must be strictly increasing and not empty")
    buckets = [Bucket(low, high - 1) for low, high in itertools.pairwise(edges)]
    buckets.append(Bucket(edges[-1], None))
    return buckets


def histogram_counts(values: Iterable[float], buckets: Sequence[Bucket]) -> list[int]:
    """How many values fall in each bucket; values below the first bucket are not counted."""
    counts = [0] * len(buckets)
    for value in values:
        for index, bucket in enumerate(buckets):
            if bucket.holds(value):
                counts[index] += 1
                break
    return counts


def _value_text(value: float | None, suffix: str) -> str:
    return "no data" if value is None else f"{_number(value)}{suffix}"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def axis_scale(value: float, *, whole: bool = True) -> tuple[float, list[float]]:
    """The axis maximum and ticks for data up to `value`: about 4 steps of 1, 2 or 5 x 10^k.

    With `whole` (counts, days) no step is below 1, so the ticks are whole numbers.
    """
    if value <= 0:
        return 1, [0, 1]
    raw_step = value / 4
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    if whole:
        step = max(math.ceil(step), 1)
    steps = math.ceil(value / step)
    return steps * step, [index * step for index in range(steps + 1)]


def _fit(label: str, max_chars: int) -> str:
    """`label`, cut to `max_chars` with "..." (the bar's tooltip keeps it whole)."""
    if len(label) <= max_chars:
        return label
    return label[: max(max_chars - 3, 1)].rstrip() + "..."


def _all_whole(series: Sequence[Series]) -> bool:
    return all(float(v).is_integer() for each in series for v in each.values if v is not None)


def _svg(width: float, height: float, title: str, body: list[str], css_class: str) -> SafeString:
    title_text = escape(title)
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css_class)}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label="{title_text}">'
        f"<title>{title_text}</title>" + "".join(body) + "</svg>"
    )
    return mark_safe(markup)  # noqa: S308  (every interpolated text went through escape())


def _bar_rect(x: float, y: float, width: float, height: float, fill: str, css: str, tip: str):
    return (
        f'<rect class="{escape(css)}" x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" '
        f'height="{max(height, 0):.1f}" fill="{fill}"><title>{escape(tip)}</title></rect>'
    )


def _linked(markup: str, href: str) -> str:
    if not href:
        return markup
    return f'<a href="{escape(href)}">{markup}</a>'


def _bars(
    orientation: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    bars: Sequence[Bar] | None,
    title: str,
    width: int,
    height: int,
    value_suffix: str,
    css_class: str,
    legend: bool,
) -> SafeString:
    """Draw the bars in `orientation`; horizontal charts grow one row per category."""
    common = {
        "bars": bars,
        "title": title,
        "width": width,
        "value_suffix": value_suffix,
        "css_class": css_class,
        "legend": legend,
    }
    if orientation == "vertical":
        return _vertical_bars(categories, series, height=height, **common)
    if orientation == "horizontal":
        return _horizontal_bars(categories, series, **common)
    raise ValueError("orientation must be 'horizontal' or 'vertical'")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    orientation: str = "horizontal",
    width: int = 520,
    height: int = 220,
    value_suffix: str = "",
    css_class: str = "",
) -> SafeString:
    """A bar chart of `bars`; horizontal bars suit long labels, vertical ones ordered buckets.

    Horizontal charts grow one row per bar and ignore `height`.
    """
    return _bars(
        orientation,
        [bar.label for bar in bars],
        [Series(title, [bar.value for bar in bars])],
        bars=bars,
        title=title,
        width=width,
        height=height,
        value_suffix=value_suffix,
        css_class=css_class,
        legend=False,
    )


def grouped_bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    orientation: str = "horizontal",
    width: int = 560,
    height: int = 260,
    value_suffix: str = "",
    css_class: str = "",
) -> SafeString:
    """Bars side by side per category, one per series (e.g. median and p90), with a legend.

    A missing value (None) draws no bar and says "no data".
    """
    if any(len(each.values) != len(categories) for each in series):
        raise ValueError("every series needs one value per category")
    return _bars(
        orientation,
        categories,
        series,
        bars=None,
        title=title,
        width=width,
        height=height,
        value_suffix=value_suffix,
        css_class=css_class,
        legend=True,
    )


def histogram(
    values: Iterable[float],
    *,
    buckets: Sequence[Bucket],
    title: str,
    width: int = 520,
    height: int = 220,
    value_suffix: str = "",
    css_class: str = "",
) -> SafeString:
    """A histogram: one vertical bar per bucket, touching, with the count above each."""
    counts = histogram_counts(values, buckets)
    bars = [Bar(bucket.label, count) for bucket, count in zip(buckets, counts, strict=True)]
    return _vertical_bars(
        [bar.label for bar in bars],
        [Series(title, counts)],
        bars=bars,
        title=title,
        width=width,
        height=height,
        value_suffix=value_suffix,
        css_class=f"chart-histogram {css_class}".strip(),
        legend=False,
        gap=1,
    )


def _series_style(series: Series, index: int) -> tuple[str, str]:
    css = f"chart-bar chart-series-{index} {series.css_class}".strip()
    return css, SERIES_FILLS[index % len(SERIES_FILLS)]


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts, cursor = [], x
    for index, each in enumerate(series):
        css, fill = _series_style(each, index)
        parts.append(
            f'<rect class="{escape(css)}" x="{cursor:.1f}" y="{y - 10:.1f}" width="10" '
            f'height="10" fill="{fill}"></rect>'
            f'<text class="chart-legend" x="{cursor + 14:.1f}" y="{y:.1f}">{escape(each.name)}</text>'
        )
        cursor += 14 + len(each.name) * CHAR_WIDTH + 16
    return parts


def _horizontal_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int,
    value_suffix: str,
    css_class: str,
    legend: bool,
    bars: Sequence[Bar] | None = None,
) -> SafeString:
    label_width = min(max((len(c) for c in categories), default=4) * CHAR_WIDTH + 16, width * 0.4)
    max_label_chars = int((label_width - 16) / CHAR_WIDTH)
    value_width = 48
    top = 22 if legend else 4
    plot_left = label_width
    plot_width = width - label_width - value_width
    group_height = ROW_HEIGHT * len(series) + BAR_GAP
    height = top + group_height * max(len(categories), 1) + 4
    maximum, _ = axis_scale(
        max((v or 0 for s in series for v in s.values), default=0), whole=_all_whole(series)
    )

    body = _legend(series, plot_left, 14) if legend else []
    if not categories:
        body.append(f'<text class="chart-empty" x="{plot_left:.1f}" y="{top + 16}">No data</text>')
    for row, category in enumerate(categories):
        y = top + row * group_height
        body.append(
            f'<text class="chart-label" x="{label_width - 6:.1f}" '
            f'y="{y + group_height / 2 + 2:.1f}" text-anchor="end">'
            f"{escape(_fit(category, max_label_chars))}</text>"
        )
        for index, each in enumerate(series):
            value = each.values[row]
            bar = bars[row] if bars else None
            css, fill = _series_style(each, index)
            if bar and bar.css_class:
                css = f"{css} {bar.css_class}"
            bar_y = y + index * ROW_HEIGHT
            length = plot_width * (value or 0) / maximum
            tip = f"{category}: {_value_text(value, value_suffix)}"
            if len(series) > 1:
                tip = f"{category}, {each.name}: {_value_text(value, value_suffix)}"
            rect = _bar_rect(plot_left, bar_y + 2, length, ROW_HEIGHT - 4, fill, css, tip)
            body.append(_linked(rect, bar.href if bar else ""))
            body.append(
                f'<text class="chart-value" x="{plot_left + length + 4:.1f}" '
                f'y="{bar_y + ROW_HEIGHT / 2 + 4:.1f}">{escape(_value_text(value, value_suffix))}</text>'
            )
    return _svg(width, height, title, body, f"chart-horizontal {css_class}".strip())


def _vertical_bars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int,
    height: int,
    value_suffix: str,
    css_class: str,
    legend: bool,
    bars: Sequence[Bar] | None = None,
    gap: float = 12,
) -> SafeString:
    top = 26 if legend else 18
    bottom = 22
    left = 36
    plot_width = width - left - 8
    plot_height = height - top - bottom
    maximum, ticks = axis_scale(
        max((v or 0 for s in series for v in s.values), default=0), whole=_all_whole(series)
    )
    body = _legend(series, left, 14) if legend else []
    for tick in ticks:
        y = top + plot_height - plot_height * tick / maximum
        body.append(
            f'<line class="chart-grid" x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"></line>'
            f'<text class="chart-axis" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_number(tick)}</text>"
        )
    if not categories:
        body.append(f'<text class="chart-empty" x="{left + 8}" y="{top + 16}">No data</text>')
    slot = plot_width / max(len(categories), 1)
    bar_width = max((slot - gap) / max(len(series), 1), 1)
    for column, category in enumerate(categories):
        x = left + column * slot + gap / 2
        for index, each in enumerate(series):
            value = each.values[column]
            bar = bars[column] if bars else None
            css, fill = _series_style(each, index)
            if bar and bar.css_class:
                css = f"{css} {bar.css_class}"
            bar_height = plot_height * (value or 0) / maximum
            bar_x = x + index * bar_width
            bar_y = top + plot_height - bar_height
            tip = f"{category}: {_value_text(value, value_suffix)}"
            if len(series) > 1:
                tip = f"{category}, {each.name}: {_value_text(value, value_suffix)}"
            rect = _bar_rect(bar_x, bar_y, bar_width, bar_height, fill, css, tip)
            body.append(_linked(rect, bar.href if bar else ""))
            body.append(
                f'<text class="chart-value" x="{bar_x + bar_width / 2:.1f}" y="{bar_y - 3:.1f}" '
                f'text-anchor="middle">{escape(_value_text(value, value_suffix))}</text>'
            )
        body.append(
            f'<text class="chart-label" x="{x + (slot - gap) / 2:.1f}" y="{height - 6}" '
            f'text-anchor="middle">{escape(_fit(category, max(int(slot / CHAR_WIDTH), 3)))}</text>'
        )
    return _svg(width, height, title, body, f"chart-vertical {css_class}".strip())
