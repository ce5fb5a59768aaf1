"""The preview in a real browser (Debian's headless chromium): it renders, and fits a 375 px phone.

Screenshots at 600 and 375 px must not be blank. Horizontal scroll is measured on a test-only copy
of the preview with a tiny script appended (the email itself has none), loaded in an iframe of the
phone's width (headless windows are at least 500 px wide); the frame posts its scrollWidth to the
wrapper page, and --dump-dom shows it.
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def preview(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("preview")
    write_outbox(render_all([full_cards()], RenderSettings(), "2026-11-23"), folder, sender="d@example.com",
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


@pytest.mark.parametrize("width", [375, 600])
def test_no_horizontal_scroll(preview, tmp_path, width):
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
