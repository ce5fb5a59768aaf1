"""Delivery through Microsoft Graph: draft → record its id → send, never twice.

``POST /users/{sender}/sendMail`` answers 202 without an id, so a lost answer leaves no way to know
whether the mail left. Instead each digest becomes a draft in the sender mailbox, tagged with a
single-value extended property holding its idempotency key (week + recipient). The ledger records
the draft id, then the draft is sent. After any doubt (a retry, a 5xx, a timeout, a reset) the
mailer first asks Graph for messages carrying that key: a sent item means done, a draft means send
that draft, nothing means create one. Plain ``requests``; the token comes from digest.graph.auth.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from typing import Callable

import requests

from digest.graph.auth import TokenProvider
from digest.delivery.mailer import Attempt, Outcome
from digest.delivery.throttle import MailboxPace
from digest.graph.client import GraphClient, GraphFailure
from digest.graph.retry import Backoff
from digest.email.message import RenderedEmail

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # Graph refuses request bodies over 4 MB
KEY_PROPERTY = "String {6B1E2A43-4C5D-4E0A-9B7C-5E11E4D16E57} Name SellerDigestKey"
MAILBOX_CODES = {"ErrorInvalidUser", "ErrorAccessDenied", "MailboxNotEnabledForRESTAPI", "ErrorMailboxNotEnabledForRESTAPI",
                 "ResourceNotFound", "ErrorSendAsDenied", "Authorization_RequestDenied"}


def message_payload(email: RenderedEmail) -> bytes:
    """The createMessage body: HTML, the seller as the only To, PNGs inline by Content-ID, the key property."""
    doc = {
        "subject": email.subject,
        "body": {"contentType": "HTML", "content": email.html},
        "toRecipients": [{"emailAddress": {"address": email.recipient, **({"name": email.recipient_name} if email.recipient_name else {})}}],
        "attachments": [{"@odata.type": "#microsoft.graph.fileAttachment", "name": i.filename, "contentType": i.mime_type,
                         "contentBytes": base64.b64encode(i.data).decode("ascii"), "contentId": i.content_id, "isInline": True}
                        for i in email.images],
        "singleValueExtendedProperties": [{"id": KEY_PROPERTY, "value": email.idempotency_key}],
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def key_filter(key: str) -> str:
    """The $filter finding messages tagged with `key` (OData doubles single quotes)."""
    quoted = key.replace("'", "''")
    return f"singleValueExtendedProperties/any(ep: ep/id eq '{KEY_PROPERTY}' and ep/value eq '{quoted}')"


class GraphMailer:
    """Sends each digest from its sender mailbox through Graph, at most once, paced per mailbox."""

    via = "graph"

    def __init__(self, client: GraphClient, paces: dict[str, MailboxPace], backoff: Backoff,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.client, self.paces, self.backoff = client, paces, backoff
        self.sleep, self.rng = sleep, rng or random.Random()
        # Exchange allows max_in_flight concurrent requests per mailbox; workers may outnumber them
        # (reading .eml files and writing the ledger need no request), so requests take a slot.
        self.slots = {m: threading.BoundedSemaphore(p.limits.max_in_flight) for m, p in paces.items()}

    def _call(self, sender: str, method: str, path: str, **kw) -> dict | None:
        with self.slots[sender.lower()]:
            return self.client.call(method, path, **kw)

    def deliver(self, email: RenderedEmail, raw: bytes, attempt: Attempt, on_drafted: Callable[[str], None]) -> Outcome:
        """Create the draft (unless one exists), record it, send it; look up the key after any doubt."""
        payload = message_payload(email)
        if len(payload) > MAX_REQUEST_BYTES:
            return Outcome("failed", f"the message is {len(payload) / 1048576:.1f} MB, over Graph's 4 MB request limit: "
                                     "it was not sent. Render fewer or smaller charts (render.max_rows, render.top_accounts).",
                           "RequestTooLarge")
        sender, draft_id, check = attempt.sender, attempt.draft_id, attempt.retry or bool(attempt.draft_id)
        user = f"/users/{requests.utils.quote(sender)}"
        tries = 0
        while True:
            tries += 1
            try:
                if check:
                    found = self._call(sender, "GET", f"{user}/messages", params={
                        "$filter": key_filter(email.idempotency_key), "$select": "id,isDraft", "$top": "10"}) or {}
                    items = found.get("value", [])
                    sent = [m["id"] for m in items if not m.get("isDraft")]
                    if sent:
                        return Outcome("sent", "already sent (found by its key)", draft_id=draft_id, message_id=sent[0])
                    drafts = [m["id"] for m in items]
                    draft_id = draft_id if draft_id in drafts else (drafts[0] if drafts else "")
                if not draft_id:
                    created = self._call(sender, "POST", f"{user}/messages", body=payload) or {}
                    draft_id = created["id"]
                    on_drafted(draft_id)
                self._send(user, sender, draft_id)
                return Outcome("sent", draft_id=draft_id)
            except GraphFailure as exc:
                if exc.status == 404 and exc.code == "ErrorItemNotFound":
                    exc = GraphFailure(404, exc.code, exc.message + " (the draft is gone: looking it up by key)")
                elif not exc.transient:
                    return self._refused(exc, sender)
                if tries >= self.backoff.max_attempts:
                    return Outcome("failed", f"gave up after {tries} attempts; last answer: {exc}", exc.code, draft_id=draft_id)
                check = check or exc.maybe_done or exc.status == 404
                self.sleep(self.backoff.wait(tries, exc.retry_after, self.rng))

    def _send(self, user: str, sender: str, draft_id: str) -> None:
        pace = self.paces[sender.lower()]
        pace.acquire()
        counted = False
        try:
            self._call(sender, "POST", f"{user}/messages/{requests.utils.quote(draft_id)}/send")
            counted = True
        except GraphFailure as exc:
            counted = exc.maybe_done
            raise
        finally:
            pace.done(counted=counted)

    def _refused(self, exc: GraphFailure, sender: str) -> Outcome:
        unusable = exc.code in MAILBOX_CODES or exc.status == 403
        if exc.code == "ErrorInvalidUser" or (exc.status == 404 and unusable):
            fix = f"the sender mailbox {sender} does not exist: fix delivery.sender_mailboxes"
        elif exc.status == 403:
            fix = (f"the app may not send as {sender}: grant the Mail.Send application permission with admin consent and "
                   "include this mailbox in its Exchange RBAC scope / application access policy (docs/delivery.md)")
        else:
            fix = "Graph refused the message; this recipient was not sent"
        return Outcome("failed", f"{fix} ({exc})", exc.code or str(exc.status), mailbox_unusable=unusable)


def graph_mailer(settings, pool: list[str], sleep: Callable[[float], None] = time.sleep, paces: dict | None = None) -> GraphMailer:
    """A GraphMailer for the sender `pool`, with its own connection pool; checks the credentials first."""
    from requests.adapters import HTTPAdapter

    from digest.graph.auth import make_session
    from digest.delivery.throttle import Limits

    d = settings.delivery
    tokens = TokenProvider(settings.graph, make_session(settings.graph))
    tokens.token()  # a wrong secret or tenant ends the run here, before any ledger row is claimed
    session = make_session(settings.graph)
    size = max(10, len(pool) * d.max_in_flight)
    session.mount("https://", HTTPAdapter(pool_connections=size, pool_maxsize=size))
    session.mount("http://", HTTPAdapter(pool_connections=size, pool_maxsize=size))
    limits = Limits.from_settings(d)
    paces = paces or {m.lower(): MailboxPace(limits) for m in pool}
    return GraphMailer(GraphClient(session, tokens, settings.graph.graph_url), paces, Backoff.from_settings(d), sleep=sleep)
