"""The operations of the fake Graph: routing, request bodies, drafts, send, $filter, sending limits.

Split from graph_server.py (the HTTP side, state and faults); answers are raised as :class:`Answer`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from fakes.graph_server import GraphFake, Mailbox

MAX_REQUEST_BYTES = 4 * 1024 * 1024
_FILTER = re.compile(r"^singleValueExtendedProperties/any\((\w+):\s*\1/id eq '((?:[^']|'')*)' and \1/value eq '((?:[^']|'')*)'\)$", re.I)


def graph_error(code: str, message: str, client_request_id: str = "") -> dict:
    return {"error": {"code": code, "message": message, "innerError": {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()), "client-request-id": client_request_id}}}


def retry_after(seconds: float, window: float) -> str:
    # Graph sends whole seconds; with a shrunk window (tests, bench) whole seconds would be far too coarse.
    return str(max(1, math.ceil(seconds))) if window >= 60 else f"{max(0.01, seconds):.2f}"


class Answer(Exception):
    def __init__(self, status: int, doc: dict | None, headers: dict[str, str] | None = None):
        self.status, self.doc, self.headers = status, doc, headers or {}


def route(method: str, parts: list[str]) -> tuple[str | None, str | None]:
    if len(parts) < 4 or parts[0] != "v1.0" or parts[1] != "users":
        return None, None
    who, rest = parts[2], parts[3:]
    if method == "POST" and rest == ["messages"]:
        return "create", who
    if method == "GET" and rest == ["messages"]:
        return "list", who
    if method == "GET" and len(rest) == 2 and rest[0] == "messages":
        return "get", who
    if method == "POST" and len(rest) == 3 and rest[0] == "messages" and rest[2] == "send":
        return "send", who
    if method == "POST" and rest == ["sendMail"]:
        return "sendMail", who
    return None, who


def mailbox_of(fake: GraphFake, who: str | None, crid: str) -> Mailbox:
    key = (who or "").lower()
    if key in fake.forbidden:
        raise Answer(403, graph_error("ErrorAccessDenied", "Access is denied. Check credentials and try again.", crid))
    if key not in fake.mailboxes:
        raise Answer(404, graph_error("ErrorInvalidUser", f"The requested user '{who}' is invalid.", crid))
    return fake.mailboxes[key]


def _json_body(fake: GraphFake, body: bytes, schema: str, crid: str) -> dict:
    if len(body) > MAX_REQUEST_BYTES:
        raise Answer(413, graph_error("RequestBodyTooLarge", "The maximum request length supported is 4MB.", crid))
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        raise Answer(400, graph_error("BadRequest", "Unable to read JSON request payload.", crid)) from None
    errors = sorted(fake.validators[schema].iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        with fake.lock:
            fake.invalid_bodies.append(errors[0].message)
        where = "/".join(str(p) for p in errors[0].path)
        raise Answer(400, graph_error("RequestBodyRead", f"Invalid request body at '{where}': {errors[0].message[:200]}", crid))
    return doc


def do(fake: GraphFake, box: Mailbox, op: str, method: str, parts: list[str], query: str, body: bytes, crid: str) -> Answer:
    if op == "create":
        doc = _json_body(fake, body, "request.createMessage", crid)
        mid = "AAMk" + uuid.uuid4().hex
        props = {p["id"].lower(): p.get("value") for p in doc.get("singleValueExtendedProperties", [])}
        msg = {"id": mid, "isDraft": True, "subject": doc.get("subject"), "props": props,
               "to": [r["emailAddress"]["address"].lower() for r in doc.get("toRecipients", [])],
               "cc": doc.get("ccRecipients", []), "bcc": doc.get("bccRecipients", []),
               "body": doc.get("body", {}), "attachments": doc.get("attachments", [])}
        with fake.lock:
            box.messages[mid] = msg
        return Answer(201, {"id": mid, "isDraft": True, "subject": msg["subject"]})
    if op == "get":
        with fake.lock:
            msg = box.messages.get(parts[4])
        if msg is None:
            raise Answer(404, graph_error("ErrorItemNotFound", "The specified object was not found in the store.", crid))
        return Answer(200, {"id": msg["id"], "isDraft": msg["isDraft"], "subject": msg["subject"]})
    if op == "list":
        params = {k: v[0] for k, v in parse_qs(query).items()}
        m = _FILTER.match(params.get("$filter", "").strip())
        if not m:
            raise Answer(400, graph_error("ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.", crid))
        prop, value = m.group(2).replace("''", "'").lower(), m.group(3).replace("''", "'")
        with fake.lock:
            found = [{"id": x["id"], "isDraft": x["isDraft"]} for x in box.messages.values() if x["props"].get(prop) == value]
        return Answer(200, {"@odata.context": "fake", "value": found})
    if op == "send":
        if body.strip():
            raise Answer(400, graph_error("BadRequest", "The send action takes no request body.", crid))
        with fake.lock:
            msg = box.messages.get(parts[4])
            if msg is None or not msg["isDraft"]:
                raise Answer(404, graph_error("ErrorItemNotFound", "The specified object was not found in the store.", crid))
            _take_send_slot(fake, box, len(msg["to"]) + len(msg["cc"]) + len(msg["bcc"]), crid)
            # Sending moves the draft to Sent Items: a new id, no longer a draft, the same extended properties.
            del box.messages[msg["id"]]
            sent = dict(msg, id="AAMk" + uuid.uuid4().hex, isDraft=False)
            box.messages[sent["id"]] = sent
            fake.sent.append({"mailbox": box.address, "to": ",".join(msg["to"]), "props": msg["props"], "at": time.monotonic(),
                              "message": sent})
        return Answer(202, None)
    if op == "sendMail":
        doc = _json_body(fake, body, "request.sendMail", crid)
        message = doc.get("message") or doc.get("Message") or {}
        to = [r["emailAddress"]["address"].lower() for r in message.get("toRecipients", [])]
        with fake.lock:
            _take_send_slot(fake, box, len(to), crid)
            fake.sent.append({"mailbox": box.address, "to": ",".join(to), "props": {}, "at": time.monotonic(), "message": message})
        return Answer(202, None)
    raise AssertionError(op)


def _take_send_slot(fake: GraphFake, box: Mailbox, recipients: int, crid: str) -> None:
    """Exchange's sending limits (call with fake.lock held): messages per window, recipients per day."""
    now = time.monotonic()
    while box.sends and box.sends[0] <= now - fake.window:
        box.sends.popleft()
    while box.day and box.day[0][0] <= now - fake.day_window:
        box.day.popleft()
    if len(box.sends) >= fake.per_window:
        wait = box.sends[0] + fake.window - now
        raise Answer(429, graph_error("ErrorExceededMessageLimit", "Message rate limit exceeded for this mailbox.", crid),
                      {"Retry-After": retry_after(wait, fake.window)})
    if sum(n for _, n in box.day) + recipients > fake.recipients_per_day:
        wait = box.day[0][0] + fake.day_window - now
        raise Answer(429, graph_error("ErrorExceededMessageLimit", "Recipient rate limit exceeded for this mailbox.", crid),
                      {"Retry-After": retry_after(wait, fake.window)})
    box.sends.append(now)
    box.day.append((now, recipients))


