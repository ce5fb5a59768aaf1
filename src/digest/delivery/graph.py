"""Delivery through Microsoft Graph: the audited .eml, byte for byte, as draft → record its id → send, never twice.

The privacy gate checked (and hashed) the .eml file, so that file is what Graph gets: the draft is
created from the base64 of its exact bytes (``POST /users/{sender}/messages``, ``Content-Type:
text/plain``), which keeps its plain-text part, its inline images and its From header. The 4 MB
request limit applies to that base64 text (about 1.37 × the file); larger files are refused first.

``sendMail`` answers 202 without an id, so a lost answer would leave no way to know whether the
mail left. Instead the ledger records the draft id, then the draft is sent. Idempotency comes
from the .eml's Message-ID, which rendering derives from week + recipient (every render of the
same digest has the same one) and which Graph reports as ``internetMessageId``: after any doubt
(a retry, a 5xx, a timeout, a reset, a draft that vanished) the mailer first lists the messages
with that internetMessageId. A sent item means done, a draft (with this .eml's From) means send
that draft, nothing means create one. Not an extended-property tag: Graph allows none in a MIME
create, and a PATCH adding one afterwards would cost one more request per email and leave a
window in which the draft is untagged; the internetMessageId lookup is documented by Graph and
needs nothing but the file.

Exchange shows the Sent Items copy a little after a send, and a sent draft leaves Drafts (it changes
id), so right after a send that may have gone through, a lookup can find nothing at all. Then the
mailer looks again up to SETTLE_LOOKUPS times, waiting backoff.ceiling(1, 2, …) between lookups
(1 + 2 + 4 + 8 s with the default delivery.backoff_seconds), before it creates a new draft.

The From header is render.sender_address, fixed at render time: Graph refuses to send it (403
ErrorSendAsDenied) unless the sender mailbox is that address or has Send As rights on it; that
mailbox is then unusable for the run. Plain ``requests``; the token comes from digest.graph.auth.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from email import policy
from email.parser import BytesParser
from typing import Callable

import requests

from digest.graph.auth import TokenProvider
from digest.delivery.mailer import Attempt, Outcome
from digest.delivery.throttle import MailboxPace
from digest.graph.client import GraphClient, GraphFailure
from digest.graph.retry import Backoff
from digest.email.message import Envelope, RenderedEmail

MAX_REQUEST_BYTES = 4 * 1024 * 1024  # Graph refuses request bodies over 4 MB (for MIME: the base64 text)
SETTLE_LOOKUPS = 4  # extra lookups while a possibly sent message is in neither Drafts nor Sent Items yet
MAILBOX_CODES = {"ErrorInvalidUser", "ErrorAccessDenied", "MailboxNotEnabledForRESTAPI", "ErrorMailboxNotEnabledForRESTAPI",
                 "ResourceNotFound", "ErrorSendAsDenied", "Authorization_RequestDenied"}


def eml_identity(raw: bytes) -> tuple[str, str]:
    """The .eml's Message-ID (angle brackets included) and its From address (lower case), from the header block."""
    head = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    message_id = str(head.get("Message-ID", "") or "").strip()
    sender = head["From"]
    address = sender.addresses[0].addr_spec.lower() if sender is not None and len(sender.addresses) == 1 else ""
    return message_id, address


def message_id_filter(message_id: str) -> str:
    """The $filter finding the messages (drafts and sent items) with this internetMessageId (OData doubles quotes)."""
    quoted = message_id.replace("'", "''")
    return f"internetMessageId eq '{quoted}'"


def _from_address(item: dict) -> str:
    return str(((item.get("from") or {}).get("emailAddress") or {}).get("address") or "").lower()


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

    def deliver(self, email: Envelope | RenderedEmail, raw: bytes, attempt: Attempt, on_drafted: Callable[[str], None]) -> Outcome:
        """Create the draft from the .eml bytes (unless one exists), record it, send it; look it up after any doubt."""
        payload = base64.b64encode(raw)
        if len(payload) > MAX_REQUEST_BYTES:
            return Outcome("failed", f"the message is {len(raw) / 1048576:.1f} MB ({len(payload) / 1048576:.1f} MB as base64), "
                                     "over Graph's 4 MB request limit: it was not sent. "
                                     "Render fewer or smaller charts (render.max_rows, render.top_accounts).", "RequestTooLarge")
        message_id, from_address = eml_identity(raw)
        if not message_id or not from_address:
            return Outcome("failed", f"the .eml of {email.recipient} has no Message-ID or no single From address: "
                                     "render it again (digest render)", "BadEml")
        sender, draft_id, check = attempt.sender, attempt.draft_id, attempt.retry or bool(attempt.draft_id)
        maybe_sent = bool(attempt.draft_id)  # an earlier try recorded a draft: its send may have gone through
        user = f"/users/{requests.utils.quote(sender)}"
        tries = settles = 0
        while True:
            stage = "lookup"
            try:
                if check:
                    items = self._lookup(user, sender, message_id)
                    sent = [m["id"] for m in items if not m.get("isDraft")]
                    if sent:
                        return Outcome("sent", "already sent (found by its Message-ID)", draft_id=draft_id, message_id=sent[0])
                    if not items and maybe_sent and settles < SETTLE_LOOKUPS:
                        settles += 1  # neither the draft nor its Sent Items copy yet: give Exchange time
                        self.sleep(self.backoff.ceiling(settles))
                        continue
                    # Only a draft of this very file: one with another From (render.sender_address changed) is never sent.
                    drafts = [m["id"] for m in items if m.get("isDraft") and _from_address(m) == from_address]
                    draft_id = draft_id if draft_id in drafts else (drafts[0] if drafts else "")
                if not draft_id:
                    stage = "create"
                    created = self._call(sender, "POST", f"{user}/messages", body=payload, content_type="text/plain") or {}
                    draft_id = created["id"]
                    on_drafted(draft_id)
                stage = "send"
                self._send(user, sender, draft_id)
                return Outcome("sent", draft_id=draft_id)
            except GraphFailure as exc:
                tries += 1
                gone = exc.status == 404 and exc.code == "ErrorItemNotFound"
                if gone:
                    exc = GraphFailure(404, exc.code, exc.message + " (the draft is gone: looking it up by its Message-ID)")
                elif not exc.transient:
                    return self._refused(exc, sender, from_address, draft_id)
                if tries >= self.backoff.max_attempts:
                    return Outcome("failed", f"gave up after {tries} attempts; last answer: {exc}", exc.code, draft_id=draft_id)
                maybe_sent = maybe_sent or (stage == "send" and (exc.maybe_done or gone))
                check = check or exc.maybe_done or gone
                self.sleep(self.backoff.wait(tries, exc.retry_after, self.rng))

    def _lookup(self, user: str, sender: str, message_id: str) -> list[dict]:
        found = self._call(sender, "GET", f"{user}/messages", params={
            "$filter": message_id_filter(message_id), "$select": "id,isDraft,from", "$top": "10"}) or {}
        return list(found.get("value", []))

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

    def _refused(self, exc: GraphFailure, sender: str, from_address: str, draft_id: str) -> Outcome:
        unusable = exc.code in MAILBOX_CODES or exc.status == 403
        if exc.code == "ErrorSendAsDenied":
            fix = (f"grant {sender} Send As on {from_address}, or set render.sender_address to the sending mailbox "
                   "(docs/delivery.md)")
        elif exc.code == "ErrorInvalidUser" or (exc.status == 404 and unusable):
            fix = f"the sender mailbox {sender} does not exist: fix delivery.sender_mailboxes"
        elif exc.status == 403:
            fix = (f"the app may not send as {sender}: grant the Mail.Send application permission with admin consent and "
                   "include this mailbox in its Exchange RBAC scope / application access policy (docs/delivery.md)")
        else:
            fix = "Graph refused the message; this recipient was not sent"
        return Outcome("failed", f"{fix} ({exc})", exc.code or str(exc.status), draft_id=draft_id, mailbox_unusable=unusable)


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
