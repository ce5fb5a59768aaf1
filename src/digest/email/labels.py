"""Chart labels that fit without cutting a word: wrapped onto a second line, then set smaller.

Widths are counted in characters at the chart's base font size (a label column holds about
``chars`` average characters); a smaller size holds proportionally more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SIZES = (12.0, 11.0, 10.0, 9.0)  # points, tried in turn
BREAK_AFTER = re.compile(r"(?<=[-/>)_.,&+])")  # where a word too long for a line may break
LINE_SPACING = 1.2


@dataclass(frozen=True)
class Label:
    """A label's lines and the font size that makes them fit."""

    lines: tuple[str, ...]
    size: float

    def line_height_in(self) -> float:
        """Height of one line in figure inches (a point is 1/72 inch)."""
        return self.size * LINE_SPACING / 72


def wrap(text: str, chars: int, split_words: bool = False) -> list[str]:
    """Greedy word wrap at spaces. A word longer than a line stays whole, or with ``split_words``
    breaks after a hyphen, slash or bracket (and, with none, is hyphenated at the line's width: every letter stays)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= chars:
            lines[-1] += " " + word
        elif len(word) <= chars or not split_words:
            lines.append(word)
        else:
            lines.extend(_pieces(word, chars))
    return lines or [""]


def _pieces(word: str, chars: int) -> list[str]:
    parts = [p for part in BREAK_AFTER.split(word) for p in _hyphenated(part, chars)]
    out = [""]
    for part in parts:
        if out[-1] and len(out[-1]) + len(part) > chars:
            out.append(part)
        else:
            out[-1] += part
    return out


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
    return Label(tuple(wrap(text, int(chars * base / size), split_words=True)), size)


def _hyphenated(part: str, chars: int) -> list[str]:
    if len(part) <= chars:
        return [part]
    step = chars - 1  # room for the hyphen
    chunks = [part[i:i + step] for i in range(0, len(part), step)]
    return [c + "-" for c in chunks[:-1]] + chunks[-1:]
