"""Charts: PNG at 2x for the 536 px column, opaque white, alt text with the numbers, empty cards."""

from __future__ import annotations

import dataclasses
import io

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image, ImageChops

from digest.cards import DepthOfEngagement, InternalNetworks, Leadership, TimeWithCustomers
from digest.config import RenderSettings
from digest.email.charts import COLUMN_PX, ChartMaker
from digest.email.render import Renderer
from render_cards import HOSTILE, full_cards


@pytest.fixture(scope="module")
def maker():
    return ChartMaker()


@pytest.fixture(scope="module")
def charts(maker):
    return maker.all_charts(full_cards())


def test_every_card_gets_a_png_twice_the_column_width_with_an_opaque_white_background(charts):
    assert set(charts) == {"time_with_customers", "depth_of_engagement", "internal_networks", "leadership", "relationship"}
    for kind, chart in charts.items():
        image = Image.open(io.BytesIO(chart.png))
        assert image.format == "PNG"
        assert image.size == (COLUMN_PX * 2, chart.height * 2), kind
        assert "transparency" not in image.info and image.mode in ("P", "RGB"), kind
        rgb = image.convert("RGB")
        assert rgb.getpixel((1, 1)) == (255, 255, 255) and rgb.getpixel((image.width - 2, image.height - 2)) == (255, 255, 255)
        assert len(rgb.getcolors(4096) or ()) > 4, f"{kind} looks blank"
        assert len(chart.png) < 60_000, f"{kind} is {len(chart.png)} bytes"


def test_alt_texts_state_the_numbers_and_full_names(charts):
    # The same shares as the table (of the time with accounts, adding up to 100), with the currency.
    assert "Contoso (potential $310M) 60%" in charts["time_with_customers"].alt
    assert "Lucerne Publishing (potential $130M) 13%" in charts["time_with_customers"].alt
    assert f"{HOSTILE} 1 of 8" in charts["depth_of_engagement"].alt
    assert "Solution Specialist 3.5 h" in charts["internal_networks"].alt
    assert "Contoso: your time 58%, manager included 25%, leadership included 17% of 6.0 h" in charts["leadership"].alt


def test_the_same_cards_give_the_same_bytes_and_reused_figures_do_not_leak_between_sellers(maker, charts):
    other = full_cards("bo@contoso.com", second="Tailspin Toys")
    second = maker.all_charts(other)
    assert second["depth_of_engagement"].png != charts["depth_of_engagement"].png
    again = maker.all_charts(full_cards())
    assert {k: c.png for k, c in again.items()} == {k: c.png for k, c in charts.items()}


def test_cards_with_nothing_to_draw_give_no_chart(maker):
    assert maker.time_with_customers(TimeWithCustomers((), 0.0)) is None
    assert maker.depth_of_engagement(DepthOfEngagement(())) is None
    assert maker.internal_networks(InternalNetworks("FunctionType", ())) is None
    assert maker.leadership(Leadership(())) is None


def test_other_external_time_alone_is_drawn_as_unmatched(maker):
    chart = maker.time_with_customers(TimeWithCustomers((), 2.0))
    assert chart is not None and chart.alt == "Share of your time with accounts last week: Not matched to an account 100%."


def test_the_png_palette_keeps_every_pixel_close_to_what_matplotlib_drew(maker):
    # The PNG maps each pixel onto a fixed palette of the chart colours: a colour missing from it
    # (say a new one in PALETTE used without its shades) would show up here as a large difference.
    for kind, chart in maker.all_charts(full_cards("cy@contoso.com", second="Tailspin Toys")).items():
        canvas = maker._boards[kind].fig.canvas  # still holds this chart's drawing
        drawn = Image.frombytes("RGB", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBX")
        png = Image.open(io.BytesIO(chart.png)).convert("RGB")
        worst = max(hi for _, hi in ImageChops.difference(drawn, png).getextrema())
        assert worst <= 16, f"{kind}: a pixel is {worst} levels away from the drawing"


def test_text_from_cached_glyphs_gives_exactly_matplotlibs_pixels():
    # digest.email.canvas re-implements the drawing of text with cached glyph bitmaps: every chart
    # of several sellers (the later ones drawn from the cache) must match matplotlib's own canvas.
    maker = ChartMaker()
    for cards in (full_cards(), full_cards("bo@contoso.com", second="Tailspin Toys"), full_cards()):
        for kind in maker.all_charts(cards):
            fig = maker._boards[kind].fig
            cached = bytes(fig.canvas.buffer_rgba())
            own = fig.canvas
            try:
                stock = FigureCanvasAgg(fig)
                with matplotlib.rc_context({"text.hinting": "no_hinting"}):
                    stock.draw()
                assert bytes(stock.buffer_rgba()) == cached, f"{kind} of {cards.seller} differs from matplotlib"
            finally:
                fig.set_canvas(own)


def test_a_charts_strings_drawn_as_one_artist_give_the_pixels_of_one_text_artist_each():
    # digest.email.charts draws every string of a chart through one artist (_Texts); the same
    # charts with one matplotlib Text per string must come out byte for byte the same, for several
    # sellers in a row (later ones from the kept layouts) and in German (other strings, wider labels).
    batched, reference = ChartMaker(), ChartMaker(text_artists=True)
    language_for = Renderer(RenderSettings()).language
    de = dataclasses.replace(full_cards("di@contoso.com", second="Tailspin Toys"), locale="de_DE")
    for cards in (full_cards(), full_cards("bo@contoso.com", second="Tailspin Toys"), de, full_cards()):
        lang = language_for(cards)
        ours, theirs = batched.all_charts(cards, lang=lang), reference.all_charts(cards, lang=lang)
        assert set(ours) == set(theirs)
        for kind in ours:
            assert (ours[kind] is None) == (theirs[kind] is None), kind
            if ours[kind] is not None:
                assert ours[kind] == theirs[kind], f"{kind} of {cards.seller} differs from one Text per string"
                assert batched._boards[kind].drawn_texts() == reference._boards[kind].drawn_texts(), kind


def test_kept_layouts_are_bounded_and_starting_over_changes_no_pixel(monkeypatch):
    from digest.email import charts as charts_module

    monkeypatch.setattr(charts_module, "LAYOUTS_KEPT", 5)
    bounded, fresh = ChartMaker(), ChartMaker()
    sellers = [full_cards(f"s{i}@contoso.com", second=f"Account {i}") for i in range(3)]
    for cards in sellers:
        bounded.all_charts(cards)
    assert all(len(b._batch._layouts) <= 5 for b in bounded._boards.values())
    assert bounded.all_charts(sellers[0]) == fresh.all_charts(sellers[0])
