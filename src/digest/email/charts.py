"""Card -> PNG chart (matplotlib, Agg), drawn for a ~536 px email column at 2x.

Speed matters (a run renders four charts per seller): each chart kind keeps one figure whose
artists are made once and only updated per seller, axes are off (no tick machinery), text is
drawn from cached glyph bitmaps (:mod:`digest.email.canvas`), and PNGs are mapped onto one fixed
palette (the chart colours and their antialiasing shades), which keeps them small and quick to
encode. A :class:`ChartMaker` is not thread-safe: use one per process or thread.
"""

from __future__ import annotations

import functools
import io
import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot; the library never opens a window

from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle, Wedge  # noqa: E402
from matplotlib.transforms import Affine2D  # noqa: E402
from PIL import Image  # noqa: E402

from digest.cards import DepthOfEngagement, InternalNetworks, Leadership, TimeWithCustomers  # noqa: E402
from digest.email.canvas import GlyphCache, GlyphCachingCanvas  # noqa: E402
from digest.email.formatting import hours, money, pct, short  # noqa: E402

COLUMN_PX = 536  # CSS width of the email's content column
SCALE = 2  # PNG pixels per CSS pixel
DPI = 100 * SCALE  # 1 inch of figure = 100 CSS px
WIDTH_IN = COLUMN_PX / 100

# Okabe & Ito's colour-blind-safe palette; grey is kept for "Others".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C564B")
OTHERS = "#BDBDBD"
INK, MUTED, LIGHT = "#1F2933", "#52606D", "#A9C6E0"
LEADERSHIP_COLOURS = {"own": "#0072B2", "manager": "#E69F00", "leadership": "#009E73"}

FONT = 12  # points; 12 pt = 16.7 CSS px in the 536 px column, ~10 px on a 375 px phone
ROW_IN = 0.44  # height of one bar row
HEAD_IN = 0.42  # space above the rows for a legend
LABEL_X, BAR_X, BAR_END = 0.30, 0.315, 0.86  # x positions as fractions of the width
LABEL_CHARS = 15  # what fits left of the bars at FONT
SHADES = 16  # palette steps from each chart colour to white: antialiased edges and text


@dataclass(frozen=True)
class Chart:
    """One rendered chart: PNG bytes plus the CSS size and the alt text stating its numbers."""

    kind: str
    png: bytes
    width: int
    height: int
    alt: str


class _Board:
    """One reusable figure: a full-size axes in inches from the top-left, artists made on demand."""

    def __init__(self, glyphs: GlyphCache) -> None:
        self.fig = Figure(figsize=(WIDTH_IN, 2.0), dpi=DPI, facecolor="white")
        GlyphCachingCanvas(self.fig, glyphs)  # Agg, with text drawn from cached glyphs
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self.texts: list = []
        self.rects: list[Rectangle] = []
        self.wedges: list[Wedge] = []
        self.height = 2.0
        self._used = {"t": 0, "r": 0, "w": 0}

    def start(self, height_in: float) -> None:
        """Size the figure and hide every artist; drawing calls below show the ones they use."""
        self.height = height_in
        self.fig.set_size_inches(WIDTH_IN, height_in)
        self.ax.set_xlim(0, 1)
        self.ax.set_ylim(height_in, 0)
        for artist in (*self.texts, *self.rects, *self.wedges):
            artist.set_visible(False)
        self._used = {"t": 0, "r": 0, "w": 0}

    def text(self, x: float, y: float, s: str, *, size: float = FONT, color: str = INK, ha: str = "left",
             weight: str = "normal") -> None:
        i = self._used["t"]
        if i == len(self.texts):
            # parse_math off: a "$" in an account name is data, not the start of mathtext.
            self.texts.append(self.ax.text(0, 0, "", va="center", parse_math=False))
        t = self.texts[i]
        t.set(x=x, y=y, text=s, fontsize=size, color=color, ha=ha, fontweight=weight, visible=True)
        self._used["t"] = i + 1

    def rect(self, x: float, y: float, w: float, h: float, color: str) -> None:
        i = self._used["r"]
        if i == len(self.rects):
            self.rects.append(self.ax.add_patch(Rectangle((0, 0), 0, 0, linewidth=0)))
        r = self.rects[i]
        r.set(xy=(x, y), width=w, height=h, facecolor=color, visible=True)
        self._used["r"] = i + 1

    def wedge(self, center: tuple[float, float], radius: float, theta1: float, theta2: float, color: str) -> None:
        i = self._used["w"]
        if i == len(self.wedges):
            wedge = Wedge((0, 0), 1, 0, 1, linewidth=1.5, edgecolor="white")
            # x runs 0..1 over the width but y in inches: draw wedges in inches so they stay round.
            wedge.set_transform(Affine2D().scale(1 / WIDTH_IN, 1.0) + self.ax.transData)
            self.wedges.append(self.ax.add_patch(wedge))
        w = self.wedges[i]
        w.set(center=center, radius=radius, theta1=theta1, theta2=theta2, width=radius * 0.42, facecolor=color, visible=True)
        self._used["w"] = i + 1

    def png(self) -> bytes:
        """Draw and encode: opaque, mapped onto the fixed chart palette."""
        # Only this key changes: rc_context would copy and re-validate every rcParam per chart.
        rc = matplotlib.rcParams
        hinting, rc["text.hinting"] = rc["text.hinting"], "no_hinting"
        try:
            self.fig.canvas.draw()
        finally:
            rc["text.hinting"] = hinting
        # The background is opaque, so the alpha byte is dropped while reading the buffer.
        image = Image.frombytes("RGB", self.fig.canvas.get_width_height(), self.fig.canvas.buffer_rgba(), "raw", "RGBX")
        paletted = image.quantize(palette=_png_palette(), dither=Image.Dither.NONE)
        out = io.BytesIO()
        # Run-length deflate suits flat chart areas: quicker than levels 1-3 and ~9 % smaller than level 3.
        paletted.save(out, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
        return out.getvalue()


class ChartMaker:
    """Makes the four card charts; keeps one figure per kind between sellers."""

    def __init__(self) -> None:
        self._boards: dict[str, _Board] = {}
        self._glyphs = GlyphCache()

    def _board(self, kind: str) -> _Board:
        if kind not in self._boards:
            self._boards[kind] = _Board(self._glyphs)
        return self._boards[kind]

    def _finish(self, kind: str, board: _Board, alt: str) -> Chart:
        return Chart(kind, board.png(), COLUMN_PX, round(board.height * 100), alt)

    def time_with_customers(self, card: TimeWithCustomers, top: int = 5) -> Chart | None:
        """Donut of last week's customer time: the top accounts (with potential) and "Others"."""
        slices = _customer_slices(card, top)
        total = sum(h for _, _, h in slices)
        if total <= 0:
            return None
        board = self._board("time_with_customers")
        rows = len(slices)
        height = max(2.3, 0.5 + rows * 0.36)
        board.start(height)
        cx, cy, radius = 1.05, height / 2, 1.0  # wedges are placed in inches
        angle = -90.0  # y points down: -90 degrees is 12 o'clock and angles run clockwise
        legend_y = height / 2 - (rows - 1) * 0.36 / 2
        for i, ((label, _, h), colour) in enumerate(zip(slices, _colours(slices))):
            sweep = 360.0 * h / total
            board.wedge((cx, cy), radius, angle, angle + sweep, colour)
            angle += sweep
            y = legend_y + i * 0.36
            board.rect(0.43, y - 0.09, 0.035, 0.18, colour)
            board.text(0.48, y, label)
            board.text(0.985, y, pct(100 * h / total), ha="right", weight="bold")
        alt = "Share of your customer time last week: " + ", ".join(
            f"{full} {pct(100 * h / total)}" for _, full, h in slices) + "."
        return self._finish("time_with_customers", board, alt)

    def depth_of_engagement(self, card: DepthOfEngagement, max_rows: int = 6) -> Chart | None:
        """Per account: people engaged in 28 days (dark bar) next to known CRM contacts (light bar)."""
        rows = list(card.accounts[:max_rows])
        if not any(a.engaged_people > 0 or a.known_contacts > 0 for a in rows):
            return None
        board = self._board("depth_of_engagement")
        board.start(HEAD_IN + len(rows) * ROW_IN + 0.1)
        _legend(board, (("Engaged people", PALETTE[0]), ("Known contacts", LIGHT)))
        top = max(max(a.engaged_people, a.known_contacts) for a in rows) or 1
        for i, a in enumerate(rows):
            y = HEAD_IN + i * ROW_IN
            board.text(LABEL_X, y + ROW_IN / 2, short(a.account_name, LABEL_CHARS), ha="right")
            for j, (value, colour) in enumerate(((a.engaged_people, PALETTE[0]), (a.known_contacts, LIGHT))):
                by = y + 0.06 + j * 0.16
                board.rect(BAR_X, by, max((BAR_END - BAR_X) * value / top, 0.002), 0.15, colour)
                board.text(BAR_X + (BAR_END - BAR_X) * value / top + 0.01, by + 0.075, str(value), size=FONT - 2, color=MUTED)
        alt = "People you engaged in the last 28 days versus known contacts: " + ", ".join(
            f"{a.account_name} {a.engaged_people} of {a.known_contacts}" for a in rows) + "."
        return self._finish("depth_of_engagement", board, alt)

    def internal_networks(self, card: InternalNetworks, max_rows: int = 6) -> Chart | None:
        """Hours with each internal group last week, as bars."""
        rows = [g for g in card.groups if g.hours > 0][:max_rows]
        if not rows:
            return None
        board = self._board("internal_networks")
        board.start(0.15 + len(rows) * ROW_IN + 0.1)
        top = max(g.hours for g in rows)
        for i, g in enumerate(rows):
            y = 0.15 + i * ROW_IN
            board.text(LABEL_X, y + ROW_IN / 2, short(g.group, LABEL_CHARS), ha="right")
            width = (BAR_END - BAR_X) * g.hours / top
            board.rect(BAR_X, y + 0.08, width, ROW_IN - 0.16, PALETTE[2])
            board.text(BAR_X + width + 0.01, y + ROW_IN / 2, hours(g.hours), size=FONT - 1, color=MUTED)
        alt = "Your hours with internal groups last week: " + ", ".join(f"{g.group} {hours(g.hours)}" for g in rows) + "."
        return self._finish("internal_networks", board, alt)

    def leadership(self, card: Leadership, max_rows: int = 6) -> Chart | None:
        """Per account, 100 % of customer meeting time split: your time / manager / leadership included."""
        rows = [a for a in card.accounts if a.customer_meeting_hours > 0][:max_rows]
        if not rows:
            return None
        board = self._board("leadership")
        board.start(HEAD_IN + len(rows) * ROW_IN + 0.1)
        parts = (("Your time", "own"), ("Manager included", "manager"), ("Leadership included", "leadership"))
        _legend(board, tuple((label, LEADERSHIP_COLOURS[key]) for label, key in parts))
        described = []
        for i, a in enumerate(rows):
            y = HEAD_IN + i * ROW_IN
            board.text(LABEL_X, y + ROW_IN / 2, short(a.account_name, LABEL_CHARS), ha="right")
            x = BAR_X
            shares = _leadership_shares(a)
            for (label, key), share in zip(parts, shares):
                width = (0.985 - BAR_X) * share / 100
                board.rect(x, y + 0.07, width, ROW_IN - 0.14, LEADERSHIP_COLOURS[key])
                if share >= 14:  # the label only fits inside a wide enough segment
                    board.text(x + width / 2, y + ROW_IN / 2, pct(share), size=FONT - 2, color="white", ha="center", weight="bold")
                x += width
            described.append(f"{a.account_name}: your time {pct(shares[0])}, manager included {pct(shares[1])}, "
                             f"leadership included {pct(shares[2])} of {hours(a.customer_meeting_hours)}")
        alt = "Customer meetings in the last 28 days. " + "; ".join(described) + "."
        return self._finish("leadership", board, alt)

    def all_charts(self, cards, top_accounts: int = 5, max_rows: int = 6) -> dict[str, Chart | None]:
        """The four charts of one seller's cards, by card key (None where a card has nothing to draw)."""
        makers: dict[str, Callable[[], Chart | None]] = {
            "time_with_customers": lambda: self.time_with_customers(cards.time_with_customers, top_accounts),
            "depth_of_engagement": lambda: self.depth_of_engagement(cards.depth_of_engagement, max_rows),
            "internal_networks": lambda: self.internal_networks(cards.internal_networks, max_rows),
            "leadership": lambda: self.leadership(cards.leadership, max_rows),
        }
        return {key: make() for key, make in makers.items()}


@functools.cache
def _png_palette() -> Image.Image:
    """White, each chart colour fading to white, and blends of touching leadership segments.

    Chart pixels are a colour or its antialiased mix with white (or with the next leadership
    segment): flat areas map exactly, edges within a few levels, far quicker than an adaptive
    quantizer. No shade within 16 levels of white: Pillow looks colours up in 4-level cells,
    and such a shade would take the white background."""
    colours = [(255, 255, 255)]

    def add(rgb_a, rgb_b, t: float) -> None:
        c = tuple(round(a * (1 - t) + b * t) for a, b in zip(rgb_a, rgb_b))
        if min(c) < 240 and c not in colours:
            colours.append(c)

    rgb = {c: tuple(round(255 * v) for v in to_rgb(c)) for c in (*PALETTE, OTHERS, INK, MUTED, LIGHT)}
    for c in rgb.values():
        for k in range(SHADES):
            add(c, (255, 255, 255), k / SHADES)
    own, manager, leader = (rgb[LEADERSHIP_COLOURS[k]] for k in ("own", "manager", "leadership"))
    for a, b in ((own, manager), (manager, leader), (own, leader)):
        for k in range(1, 5):
            add(a, b, k / 5)
    flat = [v for c in colours for v in c]
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat + flat[:3] * (256 - len(colours)))  # unused entries repeat white
    return palette


def _customer_slices(card: TimeWithCustomers, top: int) -> list[tuple[str, str, float]]:
    """(chart label, full label for the alt text, hours): the top accounts by hours, then Others."""
    named = [a for a in card.accounts if a.hours > 0]
    shown = named[:top]
    others = sum(a.hours for a in named[top:]) + max(card.other_external_hours, 0.0)
    slices = [(f"{short(a.account_name, 14)} ({money(a.potential)})" if a.potential else short(a.account_name, 21),
               f"{a.account_name} (potential {money(a.potential)})" if a.potential else a.account_name, a.hours)
              for a in shown]
    if others > 0:
        slices.append(("Others", "Others", others))
    return slices


def _colours(slices: Sequence[tuple[str, str, float]]) -> list[str]:
    return [OTHERS if label == "Others" and i == len(slices) - 1 else PALETTE[i % len(PALETTE)]
            for i, (label, _, _) in enumerate(slices)]


def _legend(board: _Board, items: Sequence[tuple[str, str]]) -> None:
    x = 0.02
    for label, colour in items:
        board.rect(x, 0.13, 0.025, 0.16, colour)
        board.text(x + 0.035, 0.21, label, size=FONT - 1, color=MUTED)
        x += 0.06 + 0.0155 * len(label)


def _leadership_shares(a) -> tuple[float, float, float]:
    total = a.own_hours + a.manager_hours + a.leadership_hours
    if total <= 0:
        return (100.0, 0.0, 0.0)
    return (100 * a.own_hours / total, 100 * a.manager_hours / total, 100 * a.leadership_hours / total)
