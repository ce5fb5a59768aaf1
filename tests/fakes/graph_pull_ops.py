"""The read side of the fake Graph: what a metadata pull lists, shaped like Graph v1.0.

Routes: GET /users/{id}/messages and /users/{id}/mailFolders/{f}/messages ($filter on
receivedDateTime or sentDateTime), /users/{id}/calendarView (startDateTime, endDateTime),
/users/{id}/chats, /chats/{id}/members, /chats/{id}/messages, /communications/callRecords and
/communications/callRecords/{id}/sessions. ``$select`` is honoured (``id`` always comes back, as in
Graph) except on chat messages, which carry their body whatever is selected, like the real API.
``$top`` pages, with ``@odata.nextLink`` holding the whole query and a ``$skiptoken``. Every query
is recorded in ``PullData.queries`` so tests can check that no content was ever asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from fakes.graph_ops import Answer, graph_error

if TYPE_CHECKING:
    from fakes.graph_server import GraphFake

_RANGE = re.compile(r"^(\w+) (ge|gt) (\S+) and \1 lt (\S+)$")


@dataclass
class PullData:
    """Items the fake serves: messages and events per mailbox, chats, call records with sessions."""

    messages: dict[str, list[dict]] = field(default_factory=dict)  # mailbox -> message objects (all properties)
    events: dict[str, list[dict]] = field(default_factory=dict)  # mailbox -> event objects, times in UTC
    chats: dict[str, dict] = field(default_factory=dict)  # chat id -> {"chat": {...}, "members": [...], "messages": [...]}
    user_chats: dict[str, list[str]] = field(default_factory=dict)  # mailbox -> chat ids
    calls: list[dict] = field(default_factory=list)  # callRecord objects with a "sessions" list
    queries: list[tuple[str, dict]] = field(default_factory=list)  # (op, query parameters) of every pull request


def route_pull(method: str, parts: list[str]) -> tuple[str | None, str | None]:
    """(op, mailbox) of a read request of the pull, (None, None) when it is not one."""
    if method != "GET" or len(parts) < 3 or parts[0] != "v1.0":
        return None, None
    rest = parts[1:]
    if rest[0] == "users" and len(rest) >= 3:
        tail = rest[2:]
        if tail == ["calendarView"]:
            return "pull_events", rest[1]
        if tail == ["chats"]:
            return "pull_chats", rest[1]
        if len(tail) == 3 and tail[0] == "mailFolders" and tail[2] == "messages":
            return "pull_messages", rest[1]
    if rest[0] == "chats" and len(rest) == 3 and rest[2] in ("members", "messages"):
        return f"pull_chat_{rest[2]}", None
    if rest[:2] == ["communications", "callRecords"] and len(rest) in (2, 4):
        return ("pull_calls" if len(rest) == 2 else "pull_sessions"), None
    return None, None


def is_pull_listing(query: str) -> bool:
    """A GET /users/{id}/messages of the pull (a date range), not the mailer's look-up by key."""
    return bool(_RANGE.match((parse_qs(query).get("$filter") or [""])[0].strip()))


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _in_filter(item: dict, flt: str, crid: str) -> bool:
    m = _RANGE.match(flt.strip())
    if not m:
        raise Answer(400, graph_error("ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.", crid))
    prop, op, low, high = m.groups()
    value = item.get(prop)
    if not value:
        return False
    when = _time(value)
    return (when >= _time(low) if op == "ge" else when > _time(low)) and when < _time(high)


def _select(item: dict, params: dict, always: tuple[str, ...] = ("id",)) -> dict:
    wanted = [p.strip() for p in params.get("$select", "").split(",") if p.strip()]
    if not wanted:
        return dict(item)
    return {k: v for k, v in item.items() if k in wanted or k in always or k.startswith("@odata")}


def _page(fake: GraphFake, parts: list[str], params: dict, items: list[dict], default_top: int = 10) -> Answer:
    top = int(params.get("$top", default_top))
    skip = int(params.get("$skiptoken", "0"))
    doc: dict = {"@odata.context": f"{fake.url}/$metadata#{parts[-1]}", "value": items[skip: skip + top]}
    if skip + top < len(items):
        nxt = {k: v for k, v in params.items() if k != "$skiptoken"} | {"$skiptoken": str(skip + top)}
        doc["@odata.nextLink"] = f"{fake.url}/{'/'.join(parts[1:])}?{urlencode(nxt)}"
    return Answer(200, doc)


def do_pull(fake: GraphFake, op: str, who: str | None, parts: list[str], query: str, crid: str) -> Answer:
    params = {k: v[0] for k, v in parse_qs(query).items()}
    data: PullData = fake.pull
    with fake.lock:
        data.queries.append((op, params))
    who = (who or "").lower()
    if op == "pull_messages":
        found = [m for m in data.messages.get(who, []) if _in_filter(m, params.get("$filter", ""), crid)]
        return _page(fake, parts, params, [_select(m, params) for m in found])
    if op == "pull_events":
        if "startDateTime" not in params or "endDateTime" not in params:
            raise Answer(400, graph_error("ErrorInvalidParameter", "This request requires a time window specified by the query "
                                          "string parameters StartDateTime and EndDateTime.", crid))
        low, high = _time(params["startDateTime"]), _time(params["endDateTime"])
        found = [e for e in data.events.get(who, [])
                 if _time(e["start"]["dateTime"] + "Z") < high and _time(e["end"]["dateTime"] + "Z") > low]
        return _page(fake, parts, params, [_select(e, params) for e in found])
    if op == "pull_chats":
        chats = [data.chats[c]["chat"] for c in data.user_chats.get(who, [])]
        return _page(fake, parts, params, [_select(c, params) for c in chats])
    if op in ("pull_chat_members", "pull_chat_messages"):
        chat = data.chats.get(parts[2])
        if chat is None:
            raise Answer(404, graph_error("NotFound", "Chat not found.", crid))
        if op == "pull_chat_members":
            return _page(fake, parts, params, [_select(m, params) for m in chat["members"]], 100)
        found = [m for m in chat["messages"] if not params.get("$filter") or _in_filter(m, params["$filter"], crid)]
        found.sort(key=lambda m: m["createdDateTime"], reverse=True)
        return _page(fake, parts, params, [_select(m, params, ("id", "body")) for m in found], 50)  # the body always comes
    if op == "pull_calls":
        found = [c for c in data.calls if _in_filter(c, params.get("$filter", ""), crid)]
        return _page(fake, parts, params, [_select({k: v for k, v in c.items() if k != "sessions"}, params) for c in found])
    if op == "pull_sessions":
        record = next((c for c in data.calls if c["id"] == parts[3]), None)
        if record is None:
            raise Answer(404, graph_error("NotFound", "Call record not found.", crid))
        return _page(fake, parts, params, [_select(s, params) for s in record["sessions"]], 60)
    raise AssertionError(op)
