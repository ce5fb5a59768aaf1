"""Card -> PNG chart (matplotlib, Agg), drawn for a ~536 px email column at 2x.

Speed matters (a run renders five charts per seller): each chart kind keeps one figure whose
artists are made once and only updated per seller, axes are off (no tick machinery), a chart's
strings are one artist (:class:`_Texts`: laid out once per distinct string, drawn as matplotlib's
Text draws each), text is drawn from cached glyph bitmaps (:mod:`digest.email.canvas`), and PNGs
are mapped onto one fixed palette (the chart colours and their antialiasing shades), which keeps
them small and quick to encode. A :class:`ChartMaker` is not thread-safe: use one per process or thread.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot; the library never opens a window

from matplotlib import colors as mcolors  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.backends.backend_agg import get_hinting_flag  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import PathPatch, Rectangle, Wedge  # noqa: E402
from matplotlib.path import Path  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Affine2D  # noqa: E402
from PIL import Image  # noqa: E402

from digest.cards import (AccountRelationship, DepthOfEngagement, InternalNetworks, Leadership, Relationship,  # noqa: E402
                          TimeWithCustomers)
from digest.email import labels  # noqa: E402
from digest.email.canvas import GlyphCache, GlyphCachingCanvas  # noqa: E402
from digest.email.i18n import Language, english  # noqa: E402
from digest.email.numbers import WINDOW_WEEKS, customer_time, leadership_shares, relationship_figures  # noqa: E402
from digest.email.palette import INK, LEADERSHIP_COLOURS, LIGHT, MUTED, OTHERS, PALETTE, png_palette  # noqa: E402

COLUMN_PX = 536  # CSS width of the email's content column
SCALE = 2  # PNG pixels per CSS pixel
DPI = 100 * SCALE  # 1 inch of figure = 100 CSS px
WIDTH_IN = COLUMN_PX / 100

FONT = 12  # points; 12 pt = 16.7 CSS px in the 536 px column, ~10 px on a 375 px phone
ROW_IN = 0.44  # height of one bar row
HEAD_IN = 0.42  # space above the rows for a legend
LABEL_X, BAR_X, BAR_END = 0.30, 0.315, 0.86  # x positions as fractions of the width
LABEL_CHARS = 16  # what fits left of the bars at FONT (longer names wrap, never cut)
LEGEND_CHARS = 21  # what fits between a donut legend's swatch and its share at FONT
HEALTH_END, WEEKS_X = 0.56, 0.71  # relationship rows: health bar from BAR_X to HEALTH_END, weekly columns from WEEKS_X
LAYOUTS_KEPT = 50_000  # string layouts a chart keeps between sellers (a 20,000-seller run has ~1 M distinct strings)
GRADE_COLOURS = {"good": PALETTE[2], "fair": PALETTE[1], "poor": PALETTE[5]}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: PNG bytes plus the CSS size and the alt text stating its numbers."""

    kind: str
    png: bytes
    width: int
    height: int
    alt: str


class _Texts(Artist):
    """Every string of a chart as one artist, drawn exactly as matplotlib's ``Text.draw`` draws one
    unrotated, single-line text (the same layout, graphics context and renderer call; tests compare
    the PNGs with one Text artist per string byte for byte). A Text artist per string cost more
    than the drawing itself: updating ~120 of them per seller, and laying each out on every draw.
    Layouts are kept per distinct (string, size, weight, alignment)."""

    zorder = 3  # Text's: drawn after the patches

    def __init__(self, ax) -> None:
        super().__init__()
        self.set_figure(ax.figure)
        self._transform = ax.transData
        self._probe = Text(0, 0, "", va="center", parse_math=False)  # lays strings out; never drawn
        self._probe.set_figure(ax.figure)
        self.items: list[tuple[float, float, str, float, str, str, str]] = []
        self._layouts: dict[tuple, tuple[float, float]] = {}
        self._fonts: dict[tuple, object] = {}

    def add(self, x: float, y: float, s: str, size: float, color: str, ha: str, weight: str) -> None:
        if s:  # Text draws nothing for an empty string
            self.items.append((x, y, s, size, color, ha, weight))

    def _layout(self, renderer, s: str, size: float, ha: str, weight: str) -> tuple[tuple[float, float], object]:
        key = (s, size, ha, weight, renderer.dpi, get_hinting_flag())
        offset = self._layouts.get(key)
        font_key = (size, weight)
        if offset is None:
            probe = self._probe
            probe.set(text=s, fontsize=size, ha=ha, fontweight=weight)
            _, info, _ = probe._get_layout(renderer)
            (_, _, offset), = info  # one line: labels are wrapped into one text per line
            if len(self._layouts) >= LAYOUTS_KEPT:  # a long run's many distinct names: start over, never grow without end
                self._layouts.clear()
            self._layouts[key] = offset
            if font_key not in self._fonts:
                self._fonts[font_key] = probe.get_fontproperties().copy()
        return offset, self._fonts[font_key]

    def draw(self, renderer) -> None:
        if not self.get_visible() or not self.items:
            return
        anchors = self._transform.transform([(x, y) for x, y, *_ in self.items])
        _, canvas_height = renderer.get_canvas_width_height()
        gcs: dict[str, object] = {}
        for (_, _, s, size, color, ha, weight), (px, py) in zip(self.items, anchors):
            (dx, dy), font = self._layout(renderer, s, size, ha, weight)
            gc = gcs.get(color)
            if gc is None:
                gc = gcs[color] = renderer.new_gc()
                gc.set_foreground(mcolors.to_rgba(color), isRGBA=True)
                gc.set_alpha(None)
                gc.set_antialiased(matplotlib.rcParams["text.antialiased"])
            y = py + dy
            if renderer.flipy():
                y = canvas_height - y
            renderer.draw_text(gc, px + dx, y, s, font, 0.0, ismath=False, mtext=None)
        for gc in gcs.values():
            gc.restore()
        self.stale = False


class _Board:
    """One reusable figure: a full-size axes in inches from the top-left, artists made on demand.

    `text_artists`: one matplotlib Text per string instead of :class:`_Texts` (slower; what the
    batched drawing is tested against)."""

    def __init__(self, glyphs: GlyphCache, text_artists: bool = False) -> None:
        self.fig = Figure(figsize=(WIDTH_IN, 2.0), dpi=DPI, facecolor="white")
        GlyphCachingCanvas(self.fig, glyphs)  # Agg, with text drawn from cached glyphs
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_axis_off()
        self._batch = None if text_artists else self.ax.add_artist(_Texts(self.ax))
        self.texts: list = []
        self.rects: list[Rectangle] = []
        self.wedges: list[Wedge] = []
        self.paths: list[PathPatch] = []
        self.height = 2.0
        self._used = {"t": 0, "r": 0, "w": 0, "p": 0}

    def start(self, height_in: float) -> None:
        """Size the figure and hide every artist; drawing calls below show the ones they use."""
        self.height = height_in
        self.fig.set_size_inches(WIDTH_IN, height_in)
        self.ax.set_xlim(0, 1)
        self.ax.set_ylim(height_in, 0)
        for artist in (*self.texts, *self.rects, *self.wedges, *self.paths):
            artist.set_visible(False)
        if self._batch is not None:
            self._batch.items.clear()
        self._used = {"t": 0, "r": 0, "w": 0, "p": 0}

    def drawn_texts(self) -> list[str]:
        """The strings of the chart drawn last, in drawing order."""
        if self._batch is not None:
            return [item[2] for item in self._batch.items]
        return [t.get_text() for t in self.texts if t.get_visible()]

    def text(self, x: float, y: float, s: str, *, size: float = FONT, color: str = INK, ha: str = "left",
             weight: str = "normal") -> None:
        if self._batch is not None:
            self._batch.add(x, y, s, size, color, ha, weight)
            return
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

    def boxes(self, boxes: Sequence[tuple[float, float, float, float]], color: str) -> None:
        """Many rectangles (x, y, w, h) of one colour as one path: one artist to draw, not one per box."""
        if not boxes:
            return
        i = self._used["p"]
        if i == len(self.paths):
            self.paths.append(self.ax.add_patch(PathPatch(Path([(0, 0)]), linewidth=0)))
        vertices = [v for x, y, w, h in boxes for v in ((x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y))]
        codes = [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY] * len(boxes)
        self.paths[i].set(path=Path(vertices, codes), facecolor=color, visible=True)
        self._used["p"] = i + 1

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
        paletted = image.quantize(palette=png_palette(), dither=Image.Dither.NONE)
        out = io.BytesIO()
        # Run-length deflate suits flat chart areas: quicker than levels 1-3 and ~9 % smaller than level 3.
        paletted.save(out, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
        return out.getvalue()


class ChartMaker:
    """Makes the four card charts; keeps one figure per kind between sellers."""

    def __init__(self, text_artists: bool = False) -> None:
        self._boards: dict[str, _Board] = {}
        self._glyphs = GlyphCache()
        self._text_artists = text_artists  # see _Board

    def _board(self, kind: str) -> _Board:
        if kind not in self._boards:
            self._boards[kind] = _Board(self._glyphs, self._text_artists)
        return self._boards[kind]

    def _finish(self, kind: str, board: _Board, alt: str) -> Chart:
        return Chart(kind, board.png(), COLUMN_PX, round(board.height * 100), alt)

    def time_with_customers(self, card: TimeWithCustomers, top: int = 5, lang: Language | None = None) -> Chart | None:
        """Donut of last week's time with accounts: the top accounts and 'N more', shares as in the table."""
        lang = lang or english()
        slices = _customer_slices(card, top, lang)
        if not slices:
            return None
        board = self._board("time_with_customers")
        blocks = [labels.fit(s.name, LEGEND_CHARS) for s in slices]
        heights = [len(b.lines) * b.line_height_in() + (0.16 if s.potential else 0) + 0.14 for b, s in zip(blocks, slices)]
        height = max(2.3, sum(heights) + 0.3)
        board.start(height)
        cx, cy, radius = 1.05, height / 2, 1.0  # wedges are placed in inches
        angle = -90.0  # y points down: -90 degrees is 12 o'clock and angles run clockwise
        y = (height - sum(heights)) / 2
        for (_, potential, share, _, _), colour, block, h in zip(slices, _colours(slices), blocks, heights):
            sweep = 360.0 * share / 100
            if sweep > 0:
                board.wedge((cx, cy), radius, angle, angle + sweep, colour)
            angle += sweep
            line_y = y + 0.07 + block.line_height_in() / 2
            board.rect(0.43, line_y - 0.09, 0.035, 0.18, colour)
            board.text(0.985, line_y, lang.fmt.pct(share), ha="right", weight="bold")
            for line in block.lines:
                board.text(0.48, line_y, line, size=block.size)
                line_y += block.line_height_in()
            if potential:
                board.text(0.48, line_y - block.line_height_in() / 2 + 0.08, potential, size=FONT - 2, color=MUTED)
            y += h
        alt = lang.gettext("Share of your time with accounts last week: %(shares)s.") % {
            "shares": ", ".join(f"{s.full} {lang.fmt.pct(s.share)}" for s in slices)}
        return self._finish("time_with_customers", board, alt)

    def depth_of_engagement(self, card: DepthOfEngagement, max_rows: int = 6, lang: Language | None = None) -> Chart | None:
        """Per account: people engaged in 28 days (dark bar) next to known CRM contacts (light bar)."""
        lang = lang or english()
        rows = list(card.accounts[:max_rows])
        if not any(a.engaged_people > 0 or a.known_contacts > 0 for a in rows):
            return None
        board = self._board("depth_of_engagement")
        board.start(HEAD_IN + len(rows) * ROW_IN + 0.1)
        _legend(board, ((lang.gettext("Engaged people"), PALETTE[0]), (lang.gettext("Known contacts"), LIGHT)))
        top = max(max(a.engaged_people, a.known_contacts) for a in rows) or 1
        for i, a in enumerate(rows):
            y = HEAD_IN + i * ROW_IN
            _row_label(board, y, a.account_name)
            for j, (value, colour) in enumerate(((a.engaged_people, PALETTE[0]), (a.known_contacts, LIGHT))):
                by = y + 0.06 + j * 0.16
                board.rect(BAR_X, by, max((BAR_END - BAR_X) * value / top, 0.002), 0.15, colour)
                board.text(BAR_X + (BAR_END - BAR_X) * value / top + 0.01, by + 0.075, lang.fmt.number(value),
                           size=FONT - 2, color=MUTED)
        each = lang.gettext("%(account)s %(engaged)s of %(known)s")
        alt = lang.gettext("People you engaged in the last 28 days versus known contacts: %(rows)s.") % {"rows": ", ".join(
            each % {"account": a.account_name, "engaged": lang.fmt.number(a.engaged_people),
                    "known": lang.fmt.number(a.known_contacts)} for a in rows)}
        return self._finish("depth_of_engagement", board, alt)

    def internal_networks(self, card: InternalNetworks, max_rows: int = 6, lang: Language | None = None) -> Chart | None:
        """Hours with each internal group last week, as bars."""
        lang = lang or english()
        rows = [g for g in card.groups if g.hours > 0][:max_rows]
        if not rows:
            return None
        board = self._board("internal_networks")
        board.start(0.15 + len(rows) * ROW_IN + 0.1)
        top = max(g.hours for g in rows)
        for i, g in enumerate(rows):
            y = 0.15 + i * ROW_IN
            _row_label(board, y, g.group)
            width = (BAR_END - BAR_X) * g.hours / top
            board.rect(BAR_X, y + 0.08, width, ROW_IN - 0.16, PALETTE[2])
            board.text(BAR_X + width + 0.01, y + ROW_IN / 2, lang.fmt.hours(g.hours), size=FONT - 1, color=MUTED)
        alt = lang.gettext("Your hours with internal groups last week: %(rows)s.") % {
            "rows": ", ".join(f"{g.group} {lang.fmt.hours(g.hours)}" for g in rows)}
        return self._finish("internal_networks", board, alt)

    def leadership(self, card: Leadership, max_rows: int = 6, lang: Language | None = None) -> Chart | None:
        """Per account, 100 % of customer meeting time split: your time / manager / leadership included."""
        lang = lang or english()
        rows = [a for a in card.accounts if a.customer_meeting_hours > 0][:max_rows]
        if not rows:
            return None
        board = self._board("leadership")
        board.start(HEAD_IN + len(rows) * ROW_IN + 0.1)
        keys = ("own", "manager", "leadership")
        names = (lang.gettext("Your time"), lang.gettext("Manager included"), lang.gettext("Leadership included"))
        _legend(board, tuple((name, LEADERSHIP_COLOURS[key]) for name, key in zip(names, keys)))
        described = []
        each = lang.gettext("%(account)s: your time %(own)s, manager included %(manager)s, leadership included "
                            "%(leadership)s of %(hours)s")
        for i, a in enumerate(rows):
            y = HEAD_IN + i * ROW_IN
            _row_label(board, y, a.account_name)
            x = BAR_X
            shares = leadership_shares(a)
            for key, share in zip(keys, shares):
                width = (0.985 - BAR_X) * share / 100
                board.rect(x, y + 0.07, width, ROW_IN - 0.14, LEADERSHIP_COLOURS[key])
                if share >= 14:  # the label only fits inside a wide enough segment
                    board.text(x + width / 2, y + ROW_IN / 2, lang.fmt.pct(share), size=FONT - 2, color="white",
                               ha="center", weight="bold")
                x += width
            described.append(each % {"account": a.account_name, "own": lang.fmt.pct(shares[0]),
                                     "manager": lang.fmt.pct(shares[1]), "leadership": lang.fmt.pct(shares[2]),
                                     "hours": lang.fmt.hours(a.customer_meeting_hours)})
        alt = lang.gettext("Customer meetings in the last 28 days. %(rows)s.") % {"rows": "; ".join(described)}
        return self._finish("leadership", board, alt)

    def relationship(self, card: Relationship, max_rows: int = 6, lang: Language | None = None, window_weeks: int = WINDOW_WEEKS,
                     zone: str = "UTC") -> Chart | None:
        """Per account: the health score as a bar in its grade's colour, and small multiples of the
        mails, meetings and calls of each week of the window (one scale for every row)."""
        lang = lang or english()
        fmt = lang.fmt
        figures = relationship_figures(card, max_rows, window_weeks)
        rows = figures.shown
        if not any(any(figures.activity(a)) or a.next_interaction or a.health for a in rows):
            return None
        board = self._board("relationship")
        board.start(HEAD_IN + len(rows) * ROW_IN + 0.1)
        board.text(0.02, 0.21, lang.gettext("Health score (0 to 100)"), size=FONT - 1, color=MUTED)
        board.text(0.985, 0.21, lang.gettext("Mails, meetings and calls per week"), size=FONT - 1, color=MUTED, ha="right")
        top = max((n for a in rows for n in figures.activity(a)), default=0) or 1
        columns, ticks = [], []
        for i, a in enumerate(rows):
            y = HEAD_IN + i * ROW_IN
            _row_label(board, y, a.account_name)
            width = max((HEALTH_END - BAR_X) * a.health / 100, 0.002)
            board.rect(BAR_X, y + 0.1, width, ROW_IN - 0.2, GRADE_COLOURS.get(a.health_grade, OTHERS))
            score = lang.gettext("%(health)s %(grade)s") % {"health": fmt.number(a.health), "grade": fmt.grade(a.health_grade)}
            board.text(BAR_X + width + 0.01, y + ROW_IN / 2, score, size=FONT - 1, color=INK)
            weeks = figures.activity(a)
            step = (0.985 - WEEKS_X) / max(len(weeks), 1)
            for k, n in enumerate(weeks):
                h = (ROW_IN - 0.12) * n / top
                if n:
                    columns.append((WEEKS_X + k * step, y + ROW_IN - 0.06 - h, step * 0.7, h))
                else:  # an empty week still shows, as a tick on the baseline
                    ticks.append((WEEKS_X + k * step, y + ROW_IN - 0.08, step * 0.7, 0.02))
        board.boxes(columns, PALETTE[0])
        board.boxes(ticks, OTHERS)
        alt = lang.gettext("Relationship health of your accounts %(period)s. %(rows)s.") % {
            "period": fmt.period(figures.weeks, figures.since),
            "rows": "; ".join(_described_health(a, figures.activity(a), lang, zone) for a in rows)}
        return self._finish("relationship", board, alt)

    def all_charts(self, cards, top_accounts: int = 5, max_rows: int = 6,
                   lang: Language | None = None, window_weeks: int = WINDOW_WEEKS) -> dict[str, Chart | None]:
        """The charts of one seller's cards, by card key (None where a card has nothing to draw or is absent)."""
        makers: dict[str, Callable[[], Chart | None]] = {
            "time_with_customers": lambda: self.time_with_customers(cards.time_with_customers, top_accounts, lang),
            "depth_of_engagement": lambda: self.depth_of_engagement(cards.depth_of_engagement, max_rows, lang),
            "internal_networks": lambda: self.internal_networks(cards.internal_networks, max_rows, lang),
            "leadership": lambda: self.leadership(cards.leadership, max_rows, lang),
            "relationship": lambda: (None if cards.relationship is None else self.relationship(
                cards.relationship, max_rows, lang, window_weeks, cards.time_zone)),
        }
        return {key: make() for key, make in makers.items()}


class _Slice(NamedTuple):
    name: str  # legend text
    potential: str  # second legend line ('' for none)
    share: int
    full: str  # for the alt text
    grouped: bool = False  # 'N more' or unmatched time, drawn grey


def _customer_slices(card: TimeWithCustomers, top: int, lang: Language) -> list[_Slice]:
    """(legend name, potential line, share, full text for the alt text): the shown accounts, then
    the hidden ones as 'N more'; unmatched time alone is drawn as one slice."""
    figures = customer_time(card, top)
    out = []
    for a in figures.shown:
        potential = (lang.gettext("potential %(money)s") % {"money": lang.fmt.money(a.potential)}) if a.potential else ""
        out.append(_Slice(a.name, potential, a.share, f"{a.name} ({potential})" if potential else a.name))
    if figures.more_count:
        more = lang.ngettext("%(count)s more account", "%(count)s more accounts", figures.more_count) % {
            "count": lang.fmt.number(figures.more_count)}
        out.append(_Slice(more, "", figures.more_share, more, True))
    if not out and figures.unmatched_hours > 0:
        unmatched = lang.gettext("Not matched to an account")
        out.append(_Slice(unmatched, "", 100, unmatched, True))
    return out


def _colours(slices: Sequence[_Slice]) -> list[str]:
    # 'N more' (or unmatched time) is grey; each account gets the next palette colour.
    return [OTHERS if s.grouped else PALETTE[i % len(PALETTE)] for i, s in enumerate(slices)]


def _described_health(a: AccountRelationship, weeks: tuple[int, ...], lang: Language, zone: str) -> str:
    """One account of the relationship chart in words, for the alt text."""
    fmt, total = lang.fmt, sum(weeks)
    text = lang.ngettext("%(account)s: health %(health)s of 100 (%(grade)s), %(total)s interaction (per week %(weeks)s)",
                         "%(account)s: health %(health)s of 100 (%(grade)s), %(total)s interactions (per week %(weeks)s)",
                         total) % {"account": a.account_name, "health": fmt.number(a.health), "grade": fmt.grade(a.health_grade),
                                   "total": fmt.number(total), "weeks": ", ".join(fmt.number(n) for n in weeks)}
    if a.last_interaction:
        text += lang.gettext(", the last on %(date)s") % {"date": fmt.day(a.last_interaction, zone)}
    return text


def _legend(board: _Board, items: Sequence[tuple[str, str]]) -> None:
    x = 0.02
    for label, colour in items:
        board.rect(x, 0.13, 0.025, 0.16, colour)
        board.text(x + 0.035, 0.21, label, size=FONT - 1, color=MUTED)
        x += 0.06 + 0.0155 * len(label)


def _row_label(board: _Board, y: float, name: str) -> None:
    """A bar row's name right-aligned left of the bars, wrapped onto a second line rather than cut."""
    label = labels.fit(name, LABEL_CHARS)
    step = label.line_height_in()
    first = y + ROW_IN / 2 - step * (len(label.lines) - 1) / 2
    for k, line in enumerate(label.lines):
        board.text(LABEL_X, first + k * step, line, size=label.size, ha="right")
