"""An Agg canvas that draws text from cached glyph bitmaps: the same pixels, a third less time.

Text is most of a chart's drawing time, and matplotlib's Agg renderer shapes every string and
rasterizes every glyph on each draw. The charts repeat the same few strings and glyphs from
seller to seller, so :class:`GlyphCachingCanvas` keeps (a) each string's shaped layout and (b)
each glyph's bitmap per 1/64-pixel sub-position. FreeType rasterizes an outline moved by whole
pixels into the same bitmap moved by those pixels, so a glyph rendered at the sub-position alone
and blitted at the integer position gives exactly matplotlib's pixels (tests/test_charts.py
compares both canvases byte for byte).

This reuses the renderer's private glyph calls (`_layout`, `_render_glyph`, `_set_transform`) as
matplotlib 3.11's own ``RendererAgg.draw_text`` does; matplotlib is pinned in requirements.txt.
Anything else (mathtext, rotated or aliased text, font features or languages) goes to matplotlib.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.ft2font import RenderMode

_UPRIGHT = np.array([[0x10000, 0], [0, 0x10000]])  # FreeType 16.16 matrix of an unrotated glyph
MAX_ENTRIES = 20_000  # per cache; both start over when one is full (~10 MB at most)


class GlyphCache:
    """Shaped strings and glyph bitmaps, shared by the canvases of one ChartMaker (one thread)."""

    def __init__(self) -> None:
        self.layouts: dict[tuple, list[tuple]] = {}
        self.glyphs: dict[tuple, tuple[np.ndarray, int, int]] = {}

    def trim(self) -> None:
        """Start over when a cache is full; only a long run with many distinct names gets here."""
        if len(self.layouts) > MAX_ENTRIES or len(self.glyphs) > MAX_ENTRIES:
            self.layouts.clear()
            self.glyphs.clear()


class _GlyphCachingRenderer(RendererAgg):
    def __init__(self, width: int, height: int, dpi: float, cache: GlyphCache) -> None:
        super().__init__(width, height, dpi)
        self._cache = cache

    def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        if ismath or angle or features or language or not gc.get_antialiased():
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        self._cache.trim()
        flags = get_hinting_flag()
        size = prop.get_size_in_points()
        font_key = (tuple(prop.get_family()), prop.get_style(), prop.get_variant(), prop.get_weight(),
                    prop.get_stretch(), prop.get_file(), size)
        layout_key = (s, font_key, self.dpi, flags)
        items = self._cache.layouts.get(layout_key)
        if items is None:
            font = self._prepare_font(prop)
            # The layout keeps the font objects alive, so their ids stay unique in the glyph keys.
            items = [(i.ft_object, i.glyph_index, i.x, i.y) for i in font._layout(s, flags=flags)]
            self._cache.layouts[layout_key] = items
        glyphs = self._cache.glyphs
        height = int(self.height)
        for font, index, dx, dy in items:
            # 26.6 fixed point as matplotlib computes it; y counts up from the bottom.
            px, py = round(0x40 * (x + dx)), round(0x40 * (self.height - y + dy))
            key = (id(font), size, self.dpi, index, flags, px & 63, py & 63)
            glyph = glyphs.get(key)
            if glyph is None:
                font.set_size(size, self.dpi)
                font._set_transform(_UPRIGHT, [px & 63, py & 63])
                bitmap = font._render_glyph(index, flags, RenderMode.NORMAL)
                glyph = glyphs[key] = (bitmap.buffer, bitmap.left, bitmap.top)
            buffer, left, top = glyph
            self._renderer.draw_text_image(buffer, left + (px >> 6), height - top - (py >> 6) + buffer.shape[0], 0, gc)


def _private_api_present() -> bool:
    """Whether this matplotlib still has the private glyph calls the fast path uses."""
    from matplotlib.ft2font import FT2Font

    return all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform")) and \
        hasattr(RendererAgg, "_prepare_font")


# With another matplotlib than the pinned one, charts are drawn by matplotlib alone: slower, never broken.
FAST_TEXT = _private_api_present()


class GlyphCachingCanvas(FigureCanvasAgg):
    """FigureCanvasAgg whose renderer draws text through a :class:`GlyphCache` (plain Agg without FAST_TEXT)."""

    def __init__(self, figure, cache: GlyphCache) -> None:
        super().__init__(figure)
        self._glyph_cache = cache

    def get_renderer(self):
        """A renderer of the figure's size (made again only when the size changes, as Agg does)."""
        w, h = self.get_width_height(physical=True)
        key = (w, h, self.figure.dpi)
        if not FAST_TEXT:
            return super().get_renderer()
        if self._lastKey != key:
            self.renderer = _GlyphCachingRenderer(w, h, self.figure.dpi, self._glyph_cache)
            self._lastKey = key
        return self.renderer
