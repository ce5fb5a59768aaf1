"""Chart labels that fit without cutting a word: wrapped onto a second line, then set smaller.

Widths are counted in characters at the chart's base font size (a label column holds about
``chars`` average characters); a smaller size holds proportionally more.
"""

from __future__ import annotations

from dataclasses import dataclass

SIZES = (12.0, 11.0, 10.0)  # points, tried in turn
LINE_SPACING = 1.2


@dataclass(frozen=True)
class Label:
    """A label's lines and the font size that makes them fit."""

    lines: tuple[str, ...]
    size: float

    def line_height_in(self) -> float:
        """Height of one line in figure inches (a point is 1/72 inch)."""
        return self.size * LINE_SPACING / 72


def wrap(text: str, chars: int) -> list[str]:
    """Greedy word wrap at spaces; a word longer than a line stays whole on its own line."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def fit(text: str, chars: int, max_lines: int = 2, base: float = SIZES[0]) -> Label:
    """The largest size (from SIZES, up to ``base``) at which ``text`` wraps into ``max_lines``
    lines no wider than the column; at the smallest size a label may take one more line."""
    sizes = [s for s in SIZES if s <= base] or [base]
    for size in sizes:
        width = int(chars * base / size)
        lines = wrap(text, width)
        if len(lines) <= max_lines and all(len(line) <= width for line in lines):
            return Label(tuple(lines), size)
    size = sizes[-1]
    return Label(tuple(wrap(text, int(chars * base / size))), size)
