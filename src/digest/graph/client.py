"""The one Graph HTTP client: authenticated calls, Graph's errors as :class:`GraphFailure`, never a secret.

Used by the pull (``digest.sources.pull``) and the mailer (``digest.delivery.graph``); paging is the
pull's ``Pager``, waits between attempts are :mod:`digest.graph.retry`.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from digest.graph.auth import TokenProvider

TRANSIENT = (429, 503, 504, 500, 502)


@dataclass
class GraphFailure(Exception):
    """A Graph answer that is not a success: status, Graph's error code and message, Retry-After."""

    status: int  # 0 = no answer (timeout, reset)
    code: str
    message: str
    retry_after: str | None = None

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status in TRANSIENT or self.status == 401

    @property
    def maybe_done(self) -> bool:
        """Could the service have done the work although we got this? Only a 429 or a 401 says surely not."""
        return self.status not in (429, 401)

    def __str__(self) -> str:
        return f"{self.status or 'no answer'} {self.code}: {self.message}"


class GraphClient:
    """Authenticated calls to Graph (JSON bodies by default); failures come back as :class:`GraphFailure`, secrets never."""

    def __init__(self, session: requests.Session, tokens: TokenProvider, base_url: str):
        self.session, self.tokens, self.base = session, tokens, base_url.rstrip("/")

    def call(self, method: str, path: str, *, body: bytes | None = None, params: dict | None = None,
             extra_headers: dict[str, str] | None = None, content_type: str = "application/json") -> dict | None:
        """One request (`body` sent as `content_type`); returns the JSON answer (None for 202/204) or raises GraphFailure."""
        token = self.tokens.token()
        headers = {**(extra_headers or {}), "Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            r = self.session.request(method, self.base + path, data=body, params=params, headers=headers)
        except requests.Timeout:
            raise GraphFailure(0, "Timeout", "no answer within graph.read_timeout_seconds") from None
        except requests.ConnectionError as exc:
            raise GraphFailure(0, "ConnectionError", type(exc).__name__ + " (connection reset or refused)") from None
        if r.status_code < 300:
            return r.json() if r.content else None
        try:
            err = r.json().get("error", {})
            code, message = str(err.get("code", "")), str(err.get("message", ""))[:300]
        except ValueError:
            code, message = "", r.text[:200]
        if r.status_code == 401:
            self.tokens.invalidate(token)  # expired or revoked: the next call asks the authority again
        raise GraphFailure(r.status_code, code or r.reason or "Error", message, r.headers.get("Retry-After"))
