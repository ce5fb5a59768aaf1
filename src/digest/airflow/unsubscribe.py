"""The one-click unsubscribe pages (RFC 8058), served by the plugin's app without an Airflow login.

``POST /unsubscribe?t=TOKEN`` opts the seller out (what a mail client's one-click button sends, with
the body ``List-Unsubscribe=One-Click``; the confirmation page's button posts the same).
``GET /unsubscribe?t=TOKEN`` only shows a page with that button: mail scanners follow links, so a
GET never changes anything. ``POST /resubscribe?t=TOKEN`` opts back in. The token alone says who
(digest.sources.optouts); a forged or cut token gets 400 and changes nothing. Every route is rate
limited per client address. Pages name no one and show no card.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from digest.airflow.pages import render_page
from digest.config import Settings, load_settings
from digest.sources.optouts import read_token, record_event

WINDOW_SECONDS = 60.0


class RateLimit:
    """At most `per_window` requests per client address in any window of `window` seconds (in this process)."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.window, self.clock = window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, per_window: int) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:  # forget idle clients: memory stays bounded
                self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window}
            hits = self._seen.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= per_window:
                return False
            hits.append(now)
            return True


def unsubscribe_router(settings_of: Callable[[], Settings] = load_settings, limit: RateLimit | None = None) -> APIRouter:
    """The routes of the unsubscribe pages (mounted under the plugin's /seller-digest prefix)."""
    router = APIRouter()
    limit = limit or RateLimit()

    def checked(request: Request, t: str) -> tuple[Settings, str]:
        settings = settings_of()
        client = request.client.host if request.client else "unknown"
        if not limit.allow(client, settings.admin.unsubscribe_per_minute):
            raise HTTPException(status_code=429, detail="Too many requests: try again in a minute.",
                                headers={"Retry-After": str(int(WINDOW_SECONDS))})
        seller = read_token(settings, t)
        if seller is None:
            raise HTTPException(status_code=400, detail="This unsubscribe link is not valid: use the link of a recent email.")
        return settings, seller

    @router.get("/unsubscribe", response_class=HTMLResponse)
    def confirm(request: Request, t: str = "") -> str:
        checked(request, t)
        return render_page("unsubscribe.html.j2", state="confirm", token=t)

    @router.post("/unsubscribe", response_class=HTMLResponse)
    def unsubscribe(request: Request, t: str = "") -> str:
        settings, seller = checked(request, t)
        record_event(settings, seller, "opt_out")
        return render_page("unsubscribe.html.j2", state="unsubscribed", token=t)

    @router.post("/resubscribe", response_class=HTMLResponse)
    def resubscribe(request: Request, t: str = "") -> str:
        settings, seller = checked(request, t)
        record_event(settings, seller, "opt_in")
        return render_page("unsubscribe.html.j2", state="resubscribed", token=t)

    return router
