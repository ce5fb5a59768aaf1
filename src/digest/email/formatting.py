"""How numbers are written in the email: one place, so the HTML, the text part, the alt texts and
the suggestions always show the same figures."""

from __future__ import annotations


def hours(value: float | None) -> str:
    """3.25 -> '3.3 h'; below 0.1 h shown in minutes so small numbers do not read as zero."""
    if value is None:
        return "n/a"
    if 0 < value < 0.1:
        return f"{max(1, round(value * 60))} min"
    return f"{value:.1f} h"


def pct(value: float | None) -> str:
    """45.6 -> '46%'; None -> 'n/a'."""
    if value is None:
        return "n/a"
    return f"{round(value):.0f}%"


def points(value: float | None) -> str:
    """A change in percentage points with its sign: -3.1 -> '-3.1 pts', 0 -> 'no change'."""
    if value is None:
        return "no comparison"
    if round(value, 1) == 0:
        return "no change"
    return f"{value:+.1f} pts".replace("-", "\u2212")


def change(value: float | None) -> str:
    """A relative change: 12.5 -> '+13%'; None (nothing the week before) -> 'new'."""
    if value is None:
        return "new"
    return f"{value:+.0f}%".replace("-", "\u2212")


def money(value: float | None) -> str:
    """Account potential (CRM revenue, currency not stated): 310000000 -> '310M'."""
    if value is None:
        return "n/a"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.0f}{suffix}" if abs(scaled) >= 10 else f"{scaled:.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{value:.0f}"


def short(text: str, limit: int) -> str:
    """Cut a long name for a chart label, with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
