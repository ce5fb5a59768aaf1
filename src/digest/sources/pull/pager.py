"""Requests of a Graph pull: paging with @odata.nextLink, Retry-After and backoff, mailbox errors.

The HTTP side reuses the delivery client (``digest.graph.client.GraphClient``: the token from
digest.graph.auth, Graph's error shape as :class:`GraphFailure`) and its backoff
(``digest.graph.retry.Backoff``: Retry-After when Graph sends one, else exponential with
full jitter). A mailbox Graph does not know (404) or may not be read (403) becomes a
:class:`MailboxRefused` naming the mailbox and the fix; an authentication failure stops the run.
"""

from __future__ import annotations

import random
import time
from typing import Callable, Iterator

from digest.graph.client import GraphClient, GraphFailure
from digest.graph.retry import Backoff
from digest.errors import ServiceError

UTC_PREFER = {"Prefer": 'outlook.timezone="UTC"'}
PERMISSIONS = {"mail": "Mail.ReadBasic.All", "meeting": "Calendars.ReadBasic.All", "call": "CallRecords.Read.All",
               "chat": "Chat.Read.All"}


class MailboxRefused(Exception):
    """Graph refused one mailbox (not found, forbidden, or gave up after retries): the pull goes on."""

    def __init__(self, mailbox: str, kind: str, failure: GraphFailure):
        self.mailbox, self.kind, self.failure = mailbox, kind, failure
        super().__init__(self.text())

    @property
    def fix(self) -> str:
        f = self.failure
        if f.status == 404 or f.code in ("ErrorInvalidUser", "ResourceNotFound", "MailboxNotEnabledForRESTAPI"):
            return (f"Graph knows no mailbox {self.mailbox}: check the address in org/people.csv or crm/seller_assignments.csv "
                    "(or pull.mailboxes), and that the user has an Exchange Online mailbox")
        if f.status == 403:
            return (f"the app may not read {self.mailbox}: grant the {PERMISSIONS.get(self.kind, 'needed')} application permission "
                    "with admin consent and include this mailbox in the app's Exchange RBAC scope (docs/pull.md)")
        return "Graph kept failing for this mailbox: pull again later (the other mailboxes were pulled)"

    def text(self) -> str:
        return f"{self.mailbox} ({self.kind}): {self.fix} [{self.failure}]"

    def as_dict(self) -> dict:
        f = self.failure
        return {"mailbox": self.mailbox, "kind": self.kind, "status": f.status, "code": f.code, "message": f.message, "fix": self.fix}


class Pager:
    """GET requests with retries and @odata.nextLink paging."""

    def __init__(self, client: GraphClient, backoff: Backoff, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None):
        self.client, self.backoff, self.sleep, self.rng = client, backoff, sleep, rng or random.Random()
        self.requests = 0
        self.throttled = 0

    def get(self, path: str, params: dict | None = None, headers: dict | None = None) -> dict:
        """One GET, retried on 429/503/504/500/502, timeouts, resets and one 401; raises GraphFailure otherwise."""
        tries = 0
        while True:
            tries += 1
            self.requests += 1
            try:
                return self.client.call("GET", path, params=params, extra_headers=headers) or {}
            except GraphFailure as exc:
                if exc.status == 401 and tries >= 2:
                    tokens = self.client.tokens
                    raise ServiceError(f"Graph refused the token of tenant {tokens.tenant}, client id {tokens.client_id} twice "
                                       f"({exc}). Check the app registration's permissions and admin consent (docs/pull.md).") from None
                if not exc.transient or tries >= self.backoff.max_attempts:
                    raise
                if exc.status in (429, 503):
                    self.throttled += 1
                self.sleep(self.backoff.wait(tries, exc.retry_after, self.rng))

    def items(self, path: str, params: dict | None = None, headers: dict | None = None) -> Iterator[dict]:
        """Every item of a collection, page after page (@odata.nextLink carries the query on)."""
        page = self.get(path, params, headers)
        while True:
            yield from page.get("value", [])
            link = page.get("@odata.nextLink")
            if not link:
                return
            if not link.startswith(self.client.base + "/"):
                raise ServiceError(f"Graph answered a page link outside {self.client.base}: {link.split('?')[0]}. "
                                   "Check graph.graph_url (it must be the address Graph itself uses, e.g. https://graph.microsoft.com/v1.0).")
            page = self.get(link[len(self.client.base):], None, headers)


def refused(mailbox: str, kind: str, exc: GraphFailure) -> MailboxRefused:
    return MailboxRefused(mailbox, kind, exc)
