"""The preview in a real browser (Debian's headless chromium): it renders, fits a 375 px phone,
and stays legible in dark mode (``--force-dark-mode`` makes prefers-color-scheme: dark match).

Screenshots at 600 and 375 px must not be blank. Horizontal scroll is measured on a test-only copy
of the preview with a tiny script appended (the email itself has none), loaded in an iframe of the
phone's width (headless windows are at least 500 px wide); the frame posts its scrollWidth to the
wrapper page, and --dump-dom shows it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from digest.config import RenderSettings
from digest.delivery.outbox import write_outbox
from digest.email.render import render_all
from render_cards import full_cards
from test_email_numbers import many_accounts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed: run `make system-deps` (scripts/system-deps.sh)")]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--disable-extensions", "--mute-audio")
MEASURE = ("<script>window.addEventListener('load', function () {"
           " parent.postMessage(document.documentElement.scrollWidth + 'x' + window.innerWidth, '*'); });</script></body>")
WRAPPER = ("<!DOCTYPE html><html><body style='margin:0'><iframe src='{src}' width='{width}' height='900' style='border:0'></iframe>"
           "<script>window.addEventListener('message', function (m) {{ var e = document.createElement('output');"
           " e.id = 'measure'; e.textContent = m.data; document.body.appendChild(e); }});</script></body></html>")


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


# Every element with its own text: its colour against the first opaque background up its ancestors (WCAG ratio).
CONTRAST = """<script>window.addEventListener('load', function () {
  function rgb(s) { var m = s.match(/[\\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
  function lum(c) { return [c.r, c.g, c.b].map(function (v) { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce(function (s, v, i) { return s + v * [0.2126, 0.7152, 0.0722][i]; }, 0); }
  function bg(e) { for (; e; e = e.parentElement) { var c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0.5) return c; } return rgb('rgb(255,255,255)'); }
  var worst = 99, what = '', n = 0;
  document.querySelectorAll('body *').forEach(function (e) {
    var own = Array.prototype.some.call(e.childNodes, function (t) { return t.nodeType === 3 && t.textContent.trim().length > 1; });
    var st = getComputedStyle(e);
    if (!own || st.display === 'none' || e.closest('.preheader')) return;
    var a = lum(rgb(st.color)), b = lum(bg(e)), r = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); n++;
    if (r < worst) { worst = r; what = e.tagName + ' ' + e.textContent.trim().slice(0, 40); }
  });
  var imgs = Array.prototype.map.call(document.images, function (i) { return getComputedStyle(i).backgroundColor; }).join('|');
  var o = document.createElement('output'); o.id = 'contrast';
  o.textContent = worst.toFixed(2) + ';' + n + ';' + getComputedStyle(document.body).backgroundColor + ';' + imgs + ';' + what;
  document.body.appendChild(o); });</script></body>"""


@pytest.fixture(scope="module")
def preview(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("preview")
    write_outbox(render_all([full_cards()], RenderSettings(), "2026-11-23"), folder, sender="d@example.com",
                 title="Outbox", data_as_of="2026-11-23")
    return folder / "ana.lopez@contoso.com.html"


@pytest.fixture(scope="module")
def preview_de(tmp_path_factory) -> Path:
    """German (longer words), twelve accounts and a tiny prior week: the widest table cells."""
    folder = tmp_path_factory.mktemp("preview_de")
    cards = dataclasses.replace(full_cards(), locale="de_DE", time_with_customers=many_accounts())
    write_outbox(render_all([cards], RenderSettings(currency="EUR"), "2026-11-23"), folder, sender="d@example.com",
                 title="Outbox", data_as_of="2026-11-23")
    return folder / "ana.lopez@contoso.com.html"


@pytest.mark.parametrize("width", [600, 375])
def test_screenshot_is_not_blank(preview, tmp_path, width):
    shot = tmp_path / f"shot-{width}.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},1400", preview.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.width == width
    colours = image.getcolors(1 << 16) or []
    assert len(colours) > 50, "the page looks blank"
    # The header's accent colour and the first chart are on screen: something real rendered.
    assert any(c == (11, 110, 121) for _, c in colours), "the accent colour of the header is missing"
    keep = Path(preview.parent) / f"screenshot-{width}.png"
    shutil.copy(shot, keep)  # left next to the preview for a human look when debugging


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("width", [375, 600])
def test_no_horizontal_scroll(preview, preview_de, tmp_path, width, language):
    preview = preview if language == "en" else preview_de
    html = preview.read_text(encoding="utf-8")
    assert "<script" not in html  # the email itself never carries a script
    probe = preview.parent / f"probe-{width}.html"
    probe.write_text(html.replace("</body>", MEASURE, 1), encoding="utf-8")
    wrapper = preview.parent / f"wrapper-{width}.html"
    wrapper.write_text(WRAPPER.format(src=probe.name, width=width), encoding="utf-8")
    result = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", "--window-size=800,1000", wrapper.as_uri())
    found = re.search(r'<output id="measure">(\d+)x(\d+)</output>', result.stdout)
    assert found, f"no measurement in the page; chromium said: {result.stderr[-2000:]}"
    scroll, viewport = int(found.group(1)), int(found.group(2))
    assert viewport == width
    assert scroll <= viewport, f"{scroll} px of content in a {viewport} px window: horizontal scroll"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_stays_legible_in_light_and_dark_mode_and_charts_keep_a_white_background(preview, tmp_path, scheme):
    probe = preview.parent / f"contrast-{scheme}.html"
    probe.write_text(preview.read_text(encoding="utf-8").replace("</body>", CONTRAST, 1), encoding="utf-8")
    dark = ("--force-dark-mode",) if scheme == "dark" else ()
    result = _chromium(tmp_path, *dark, "--dump-dom", "--virtual-time-budget=5000", "--window-size=700,1000", probe.as_uri())
    found = re.search(r'<output id="contrast">([\d.]+);(\d+);([^;]+);([^;]*);(.*?)</output>', result.stdout)
    assert found, f"no measurement; chromium said: {result.stderr[-2000:]}"
    worst, count, body, images, what = float(found.group(1)), int(found.group(2)), found.group(3), found.group(4), found.group(5)
    assert count > 50
    assert worst >= 4.5, f"{scheme}: contrast {worst}:1 at {what}"
    assert body == ("rgb(17, 24, 32)" if scheme == "dark" else "rgb(238, 242, 245)"), body  # the scheme was applied
    assert images and all(c == "rgb(255, 255, 255)" for c in images.split("|")), images
    shot = tmp_path / f"{scheme}.png"
    _chromium(tmp_path, *dark, f"--screenshot={shot}", "--window-size=700,1400", preview.as_uri())
    shutil.copy(shot, preview.parent / f"screenshot-{scheme}-700.png")


# The relationship card alone (the other panels hidden in a test-only copy), measured inside a frame of the phone's width.
CARD_ONLY = "<style>.panel:not(#relationship), .closer, .topbar, .footer { display: none !important; }</style></head>"
CARD_MEASURE = ("<script>window.addEventListener('load', function () { var p = document.getElementById('relationship');"
                " var img = p.querySelector('img'); var over = 0; var tables = p.querySelectorAll('table.numbers');"
                " tables.forEach(function (t) { over = Math.max(over, t.getBoundingClientRect().right - p.getBoundingClientRect().right); });"
                " var r = p.getBoundingClientRect(); parent.postMessage([Math.round(r.width), Math.round(r.height), img.naturalWidth,"
                " Math.round(img.getBoundingClientRect().width), Math.ceil(over), document.documentElement.scrollWidth, tables.length]"
                ".join('x'), '*'); });</script></body>")


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("width", [600, 375])
def test_the_relationship_card_renders_and_fits(preview, preview_de, tmp_path, width, language):
    preview = preview if language == "en" else preview_de
    html = preview.read_text(encoding="utf-8")
    assert 'id="relationship"' in html
    probe = preview.parent / f"card-probe-{width}.html"
    probe.write_text(html.replace("</body>", CARD_MEASURE, 1), encoding="utf-8")
    wrapper = preview.parent / f"card-wrapper-{width}.html"
    wrapper.write_text(WRAPPER.format(src=probe.name, width=width), encoding="utf-8")
    result = _chromium(tmp_path, "--dump-dom", "--virtual-time-budget=5000", "--window-size=800,1000", wrapper.as_uri())
    found = re.search(r'<output id="measure">([\d-]+(?:x[\d-]+){6})</output>', result.stdout)
    assert found, f"no measurement in the page; chromium said: {result.stderr[-2000:]}"
    panel_w, panel_h, natural, shown, over, scroll, tables = (int(v) for v in found.group(1).split("x"))
    assert natural == 1072 and tables == 2  # the chart loaded (2x PNG) and both data tables are there
    assert panel_w <= width and scroll <= width, (panel_w, scroll)
    assert width * 0.8 <= shown + 64 and shown <= panel_w  # the chart fills the column and never overflows it
    assert over <= 0, f"a table of the card sticks out {over} px at {width} px"
    assert panel_h > 500
    # A screenshot of the card alone: the chart's grade colours and the accent of its title are on screen.
    alone = preview.parent / f"card-alone-{width}.html"
    alone.write_text(html.replace("</head>", CARD_ONLY, 1), encoding="utf-8")
    shot = tmp_path / f"card-{width}.png"
    _chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},1400", alone.as_uri())
    colours = {c for _, c in Image.open(shot).convert("RGB").getcolors(1 << 16) or []}
    assert {(0, 158, 115), (213, 94, 0), (11, 110, 121)} <= colours, "the card's chart or title is not on screen"
    shutil.copy(shot, preview.parent / f"screenshot-card-{language}-{width}.png")
