"""The operations of the fake Graph: routing, request bodies, drafts (JSON or MIME), send, $filter, sending limits.

Split from graph_server.py (the HTTP side, state and faults); answers are raised as :class:`Answer`.
A MIME create (``Content-Type: text/plain``, body = base64 of the message) is parsed with Python's
email package and checked the way seller-digest needs it (exactly one To, a text/plain and a
text/html part, every ``cid:`` of the HTML present as an inline part); the decoded bytes stay on
the message, so a test can compare what was delivered with the .eml file. Sending enforces the
From header: the mailbox itself or an address it was granted Send As on (403 ErrorSendAsDenied).
"""

from __future__ import annotations

import binascii
import base64
import datetime as dt
import json
import math
import re
import time
import uuid
from email import policy
from email.parser import BytesParser
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from fakes.graph_server import GraphFake, Mailbox

MAX_REQUEST_BYTES = 4 * 1024 * 1024
_FILTER = re.compile(r"^internetMessageId eq '((?:[^']|'')*)'$", re.I)
_CID = re.compile(r"""cid:([^"'\s)>]+)""", re.I)
_SELECTABLE = ("id", "isDraft", "internetMessageId", "subject", "from")


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


def _too_large(body: bytes, crid: str) -> None:
    if len(body) > MAX_REQUEST_BYTES:
        raise Answer(413, graph_error("RequestBodyTooLarge", "The maximum request length supported is 4MB.", crid))


def _json_body(fake: GraphFake, body: bytes, schema: str, crid: str) -> dict:
    _too_large(body, crid)
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


def _json_message(fake: GraphFake, box: Mailbox, body: bytes, crid: str) -> dict:
    doc = _json_body(fake, body, "request.createMessage", crid)
    return {"subject": doc.get("subject"), "from": box.address, "internetMessageId": f"<{uuid.uuid4().hex}@fake.outlook>",
            "to": [r["emailAddress"]["address"].lower() for r in doc.get("toRecipients", [])],
            "cc": doc.get("ccRecipients", []), "bcc": doc.get("bccRecipients", []), "mime": None}


def mime_problems(msg) -> list[str]:
    """What the fake refuses in a MIME message: anything but one To, text + HTML parts and the inline images the HTML uses."""
    problems = []
    to, sender = msg.get("To"), msg.get("From")
    if to is None or len(to.addresses) != 1:
        problems.append("exactly one To address is required")
    if msg.get("Cc") or msg.get("Bcc"):
        problems.append("no Cc or Bcc is allowed")
    if sender is None or len(sender.addresses) != 1:
        problems.append("exactly one From address is required")
    if not str(msg.get("Message-ID", "")).strip():
        problems.append("a Message-ID is required")
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    types = [p.get_content_type() for p in leaves]
    for needed in ("text/plain", "text/html"):
        if needed not in types:
            problems.append(f"a {needed} part is required")
    html = "".join(p.get_content() for p in leaves if p.get_content_type() == "text/html")
    inline = {str(p.get("Content-ID", "")).strip().strip("<>") for p in leaves if p.get_content_maintype() == "image"}
    missing = sorted(set(_CID.findall(html)) - inline)
    if missing:
        problems.append(f"the HTML references cid:{missing[0]} but no image part has that Content-ID")
    return problems


def _mime_message(fake: GraphFake, body: bytes, crid: str) -> dict:
    _too_large(body, crid)
    try:
        raw = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Answer(400, graph_error("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.", crid)) from None
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    problems = mime_problems(msg)
    if problems:
        with fake.lock:
            fake.invalid_bodies.append("; ".join(problems))
        raise Answer(400, graph_error("ErrorMimeContentInvalid", "Invalid MIME content: " + "; ".join(problems), crid))
    return {"subject": str(msg["Subject"] or ""), "from": msg["From"].addresses[0].addr_spec.lower(),
            "internetMessageId": str(msg["Message-ID"]).strip(), "to": [a.addr_spec.lower() for a in msg["To"].addresses],
            "cc": [], "bcc": [], "mime": raw}


def message_json(msg: dict, fields: tuple[str, ...] | None = None) -> dict:
    """A stored message as Graph shows it: the given $select `fields`, or the whole (create/get) answer."""
    full = {"id": msg["id"], "isDraft": msg["isDraft"], "internetMessageId": msg["internetMessageId"], "subject": msg["subject"],
            "from": {"emailAddress": {"address": msg["from"]}},
            "toRecipients": [{"emailAddress": {"address": a}} for a in msg["to"]]}
    return full if fields is None else {k: full[k] for k in fields}


def do(fake: GraphFake, box: Mailbox, op: str, method: str, parts: list[str], query: str, body: bytes, crid: str,
       content_type: str = "") -> Answer:
    if op == "create":
        mime = content_type.split(";")[0].strip().lower() == "text/plain"
        msg = _mime_message(fake, body, crid) if mime else _json_message(fake, box, body, crid)
        msg.update(id="AAMk" + uuid.uuid4().hex, isDraft=True, visible_at=0.0)
        with fake.lock:
            box.messages[msg["id"]] = msg
        return Answer(201, message_json(msg))
    if op == "get":
        with fake.lock:
            msg = box.messages.get(parts[4])
        if msg is None:
            raise Answer(404, graph_error("ErrorItemNotFound", "The specified object was not found in the store.", crid))
        return Answer(200, message_json(msg))
    if op == "list":
        params = {k: v[0] for k, v in parse_qs(query).items()}
        m = _FILTER.match(params.get("$filter", "").strip())
        fields = tuple(f.strip() for f in params.get("$select", "id,isDraft").split(","))
        if not m or not set(fields) <= set(_SELECTABLE):
            raise Answer(400, graph_error("ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.", crid))
        wanted, now = m.group(1).replace("''", "'"), time.monotonic()
        with fake.lock:  # a sent item shows up in Sent Items only after fake.sent_items_delay
            found = [message_json(x, fields) for x in box.messages.values()
                     if x["internetMessageId"] == wanted and x["visible_at"] <= now]
        return Answer(200, {"@odata.context": "fake", "value": found})
    if op == "send":
        if body.strip():
            raise Answer(400, graph_error("BadRequest", "The send action takes no request body.", crid))
        with fake.lock:
            msg = box.messages.get(parts[4])
            if msg is None or not msg["isDraft"]:
                raise Answer(404, graph_error("ErrorItemNotFound", "The specified object was not found in the store.", crid))
            if msg["from"] != box.address and msg["from"] not in fake.send_as.get(box.address, set()):
                raise Answer(403, graph_error("ErrorSendAsDenied", "The user account which was used to submit this request does not "
                                              "have the right to send mail on behalf of the specified sending account., "
                                              "Cannot submit message.", crid))
            _take_send_slot(fake, box, len(msg["to"]) + len(msg["cc"]) + len(msg["bcc"]), crid)
            # Sending moves the draft to Sent Items: a new id, no longer a draft, visible there a little later.
            del box.messages[msg["id"]]
            sent = dict(msg, id="AAMk" + uuid.uuid4().hex, isDraft=False, visible_at=time.monotonic() + fake.sent_items_delay)
            box.messages[sent["id"]] = sent
            fake.sent.append({"mailbox": box.address, "to": ",".join(msg["to"]), "at": time.monotonic(), "message": sent,
                              "mime": msg["mime"]})
        return Answer(202, None)
    if op == "sendMail":
        doc = _json_body(fake, body, "request.sendMail", crid)
        message = doc.get("message") or doc.get("Message") or {}
        to = [r["emailAddress"]["address"].lower() for r in message.get("toRecipients", [])]
        with fake.lock:
            _take_send_slot(fake, box, len(to), crid)
            fake.sent.append({"mailbox": box.address, "to": ",".join(to), "at": time.monotonic(), "message": message, "mime": None})
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


