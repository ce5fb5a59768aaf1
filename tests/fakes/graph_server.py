"""A fake Microsoft Graph mail API with Exchange Online's limits and injectable faults.

Routes (v1.0 shapes): POST /users/{id}/messages (create a draft from MIME, ``Content-Type: text/plain``
with the base64 of the message, or from JSON), POST /users/{id}/messages/{mid}/send,
GET /users/{id}/messages?$filter=internetMessageId eq '<...>', GET /users/{id}/messages/{mid},
POST /users/{id}/sendMail. Every JSON body is validated against /work/shared/graph/graph_mail.schema.json,
every MIME body checked by graph_ops.mime_problems; errors use Graph's shape {"error": {"code",
"message", "innerError"}}. A send needs the From header to be the mailbox or an address granted
with :meth:`GraphFake.grant_send_as`; a sent item shows in lookups ``sent_items_delay`` seconds
after its send (Exchange's Sent Items copy comes a little later). Per mailbox it enforces at
most ``max_in_flight`` concurrent requests (429 ApplicationThrottled) and ``per_window`` sends per
``window`` seconds plus a daily recipient cap (429 with Retry-After). Faults (429, 503, a 504 after
the work was done, connection resets before or after the work, slow answers) are scripted or random.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from jsonschema import Draft202012Validator

from fakes.authority import FakeAuthority
from fakes.graph_ops import Answer, do, graph_error, mailbox_of, retry_after, route
from fakes.graph_pull_ops import PullData, do_pull, is_pull_listing, route_pull
from fakes.tls import HTTPSServer, KeyPair, TLSHandler

SCHEMA_PATH = Path("/work/shared/graph/graph_mail.schema.json")
FAULT_KINDS = ("429", "503", "504_after", "reset_before", "reset_after", "slow")


def _validators() -> dict[str, Draft202012Validator]:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    out = {}
    for name in ("request.createMessage", "request.sendMail"):
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": f"#/$defs/{name}", "$defs": schema["$defs"]}
        out[name] = Draft202012Validator(root)
    return out


@dataclass
class Fault:
    kind: str
    op: str = "any"  # create, send, list, get, sendMail or any
    mailbox: str | None = None
    count: int = 1
    retry_after: str = "1"
    delay: float = 0.5


@dataclass
class Mailbox:
    address: str
    messages: dict[str, dict] = field(default_factory=dict)  # id -> message (drafts and sent items)
    in_flight: int = 0
    sends: deque = field(default_factory=deque)  # monotonic times of accepted sends (rate window)
    day: deque = field(default_factory=deque)  # (time, recipients) for the daily cap
    max_in_flight_seen: int = 0


@dataclass
class GraphFake:
    """State of the fake Graph service; tests read it to count what was really sent."""

    authority: FakeAuthority
    per_window: int = 30
    window: float = 60.0
    recipients_per_day: int = 10000
    day_window: float = 86400.0
    max_in_flight: int = 4
    latency: float = 0.0  # added to every answer (to make a run slow enough to kill)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)  # mailboxes outside the app's access policy (403)
    send_as: dict[str, set[str]] = field(default_factory=dict)  # mailbox -> From addresses it has Send As rights on
    sent_items_delay: float = 0.0  # seconds before a sent message shows up in a lookup
    faults: list[Fault] = field(default_factory=list)
    random_rate: float = 0.0
    random_kinds: tuple[str, ...] = ()
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    sent: list[dict] = field(default_factory=list)  # every message that really left: mailbox, to, at, message, mime bytes
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (op, mailbox, status)
    invalid_bodies: list[str] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: HTTPSServer | None = None
    validators: dict[str, Draft202012Validator] = field(default_factory=_validators)
    pull: PullData = field(default_factory=PullData)  # what a metadata pull reads (graph_pull_ops.py)
    tenant: Mailbox = field(default_factory=lambda: Mailbox("(tenant)"))  # limits of tenant-wide reads (chats, call records)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.base_url + "/v1.0"

    def add_mailbox(self, *addresses: str) -> None:
        for a in addresses:
            self.mailboxes[a.lower()] = Mailbox(a.lower())

    def grant_send_as(self, address: str, *mailboxes: str) -> None:
        """What `Add-RecipientPermission -Identity <address> -Trustee <mailbox> -AccessRights SendAs` does."""
        with self.lock:
            for m in mailboxes:
                self.send_as.setdefault(m.lower(), set()).add(address.lower())

    def inject(self, kind: str, op: str = "any", **kw: Any) -> None:
        assert kind in FAULT_KINDS, kind
        with self.lock:
            self.faults.append(Fault(kind, op, **kw))

    def sent_count(self) -> dict[str, int]:
        """How many messages each recipient really received."""
        out: dict[str, int] = {}
        with self.lock:
            for m in self.sent:
                out[m["to"]] = out.get(m["to"], 0) + 1
        return out

    def pick_fault(self, op: str, mailbox: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.count > 0 and f.op in ("any", op) and f.mailbox in (None, mailbox):
                    f.count -= 1
                    return f
            if self.random_rate and self.rng.random() < self.random_rate:
                return Fault(self.rng.choice(self.random_kinds), op, retry_after="0.2", delay=0.3)
        return None


def _handler(fake: GraphFake) -> type[TLSHandler]:
    class Handler(TLSHandler):
        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._serve("PATCH")

        def do_DELETE(self) -> None:  # noqa: N802
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            body = self.read_body()
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.split("/") if p]
            op, mailbox_id = route(method, parts)
            if op is None:
                op, mailbox_id = route_pull(method, parts)
            elif op == "list" and is_pull_listing(url.query):
                op = "pull_messages"
            crid = self.headers.get("client-request-id", "")
            auth = self.headers.get("Authorization", "")
            with fake.lock:
                fake.auth_headers.append(auth)
            try:
                if op is None:
                    raise Answer(400, graph_error("BadRequest", f"Resource not found for the segment '{'/'.join(parts[1:])}'.", crid))
                token = auth[7:] if auth.startswith("Bearer ") else ""
                if not token or not fake.authority.token_valid(token):
                    raise Answer(401, graph_error("InvalidAuthenticationToken", "Access token is empty or invalid.", crid))
                box = mailbox_of(fake, mailbox_id, crid) if mailbox_id is not None else fake.tenant
                self._with_limits(box, op, method, parts, url.query, body, crid, self.headers.get("Content-Type", ""))
            except Answer as a:
                self._answer(op or "?", mailbox_id, a)

        def _with_limits(self, box: Mailbox, op: str, method: str, parts: list[str], query: str, body: bytes, crid: str,
                         content_type: str) -> None:
            with fake.lock:
                box.in_flight += 1
                box.max_in_flight_seen = max(box.max_in_flight_seen, box.in_flight)
                over = box.in_flight > fake.max_in_flight
            try:
                if over:
                    raise Answer(429, graph_error("ApplicationThrottled", "Application is over its MailboxConcurrency limit.", crid),
                                  {"Retry-After": retry_after(fake.window / 30, fake.window)})
                fault = fake.pick_fault(op, box.address)
                if fault and fault.kind == "slow":
                    time.sleep(fault.delay)
                if fault and fault.kind == "reset_before":
                    self._record(op, box.address, 0)
                    self.reset_connection()
                    return
                if fault and fault.kind in ("429", "503"):
                    code = "TooManyRequests" if fault.kind == "429" else "ServiceUnavailable"
                    raise Answer(int(fault.kind), graph_error(code, "Injected fault.", crid), {"Retry-After": fault.retry_after})
                if fake.latency:
                    time.sleep(fake.latency)
                if op.startswith("pull_"):
                    answer = do_pull(fake, op, None if box is fake.tenant else box.address, parts, query, crid)
                else:
                    answer = do(fake, box, op, method, parts, query, body, crid, content_type)
                if fault and fault.kind == "504_after":
                    answer = Answer(504, graph_error("GatewayTimeout", "The gateway did not receive a response in time.", crid))
                if fault and fault.kind == "reset_after":
                    self._record(op, box.address, 0)
                    self.reset_connection()
                    return
                raise answer
            finally:
                with fake.lock:
                    box.in_flight -= 1

        def _answer(self, op: str, mailbox: str | None, a: Answer) -> None:
            self._record(op, mailbox or "", a.status)
            self.send_json(a.status, a.doc, a.headers)

        def _record(self, op: str, mailbox: str, status: int) -> None:
            with fake.lock:
                fake.requests.append((op, mailbox, status))

    return Handler


def start_graph(keys: KeyPair, authority: FakeAuthority, mailboxes: tuple[str, ...] = (), **limits: Any) -> GraphFake:
    """Start a fake Graph on 127.0.0.1 (stop it with ``fake.server.stop()``)."""
    fake = GraphFake(authority, **limits)
    fake.add_mailbox(*mailboxes)
    fake.server = HTTPSServer(_handler(fake), keys).start()
    return fake
