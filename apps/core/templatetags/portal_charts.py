"""Chart data for the staff pages: ``{% chart_spec %}`` turns table rows into the JSON that
static/js/charts.js draws with the vendored Chart.js (embedded with ``json_script``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template

register = template.Library()

DEFAULT_COLORS = ("#417690", "#e39b2d", "#79aec8", "#ba2121")


def _number(value: Any, scale: float) -> float:
    number = float(value or 0) / scale
    return round(number, 2)


@register.simple_tag
def chart_spec(
    rows: Iterable[Mapping[str, Any]],
    *,
    label: str,
    values: str,
    names: str = "",
    colors: str = "",
    scale: float = 1,
    limit: int = 40,
    skip_zero: bool = False,
    horizontal: bool = True,
    unit: str = "",
    axis_max: float | None = None,
    title: str = "",
) -> dict[str, Any]:
    """A bar chart spec from ``rows``: one bar group per row (labelled ``str(row[label])``), one
    dataset per key of ``values`` ("|"-separated, named by ``names``), numbers divided by
    ``scale`` (100 turns fen into yuan). ``skip_zero`` drops rows whose values are all zero;
    at most ``limit`` rows are drawn (the page's table lists them all)."""
    keys = [k for k in values.split("|") if k]
    labels = names.split("|") if names else keys
    palette = [c for c in colors.split("|") if c] or list(DEFAULT_COLORS)
    shown = [r for r in rows if not skip_zero or any(r.get(k) for k in keys)][:limit]
    return {
        "type": "bar",
        "horizontal": horizontal,
        "title": title,
        "unit": unit,
        "max": axis_max,
        "labels": [str(r.get(label, "")) for r in shown],
        "datasets": [
            {
                "label": labels[i] if i < len(labels) else key,
                "color": palette[i % len(palette)],
                "data": [_number(r.get(key), scale) for r in shown],
            }
            for i, key in enumerate(keys)
        ],
    }
