"""The one fixed PNG palette of every chart: white, each chart colour fading to white, and blends
of touching leadership segments (mapping onto it is far quicker than an adaptive quantizer)."""

from __future__ import annotations

import functools

from matplotlib.colors import to_rgb
from PIL import Image

# Okabe & Ito's colour-blind-safe palette; grey is kept for "Others".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#8C564B")
OTHERS = "#BDBDBD"
INK, MUTED, LIGHT = "#1F2933", "#52606D", "#A9C6E0"
LEADERSHIP_COLOURS = {"own": "#0072B2", "manager": "#E69F00", "leadership": "#009E73"}
SHADES = 16  # palette steps from each chart colour to white: antialiased edges and text


@functools.cache
def png_palette() -> Image.Image:
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
