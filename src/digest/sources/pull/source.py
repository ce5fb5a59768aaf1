"""GraphSource: pull the weeks' collaboration metadata from Microsoft Graph v1.0 into a data folder.

Per mailbox: messages (``/users/{m}/messages``, $filter on receivedDateTime), calendar events
(``/users/{m}/calendarView``, times in UTC, up to ``relationship.lookahead_days`` past the week's end
for the next meeting with each account), chats (``/users/{m}/chats``, then each chat's members
and messages once, however many mailboxes share it). Tenant-wide: call records
(``/communications/callRecords`` and their sessions), kept when a pulled mailbox took part; a call
whose joinWebUrl is the join URL of a pulled online meeting carries that MeetingId. Only metadata
is asked for (``$select``, see digest.sources.pull.rows). The files land in
``<data>/collaboration/`` as Parquet with ``pull.json`` (what was pulled, counts, errors) next to
them, swapped in only when the pull finished (digest.sources.pull.sink). The weeks pulled are
``pull.weeks``, and at least ``relationship.window_weeks`` (the relationship card's window, CONTRACT.md §8).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import quote

from digest.config import Settings
from digest.graph.client import GraphFailure
from digest.errors import ConfigError
from digest.sources.pull import rows as gr
from digest.sources.pull.pager import UTC_PREFER, MailboxRefused, Pager
from digest.sources.pull.sink import MANIFEST, PullSink
from digest.weeks import IsoWeek

KINDS = ("mail", "meeting", "call", "chat")
EARLIEST_OFFSET = dt.timedelta(hours=14)  # UTC+14 starts its Monday 14 h before UTC does
LATEST_OFFSET = dt.timedelta(hours=12)  # UTC-12 ends its Sunday 12 h after UTC does


@dataclass
class PullResult:
    """What a pull did: the folder, counts per file and per mailbox, refused mailboxes."""

    folder: Path
    week: str
    start: dt.datetime
    end: dt.datetime
    mailboxes: list[str]
    counts: dict[str, int]
    per_mailbox: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    requests: int = 0
    throttled: int = 0
    seconds: float = 0.0
    calendar_end: dt.datetime | None = None  # the calendar is read this far (future meetings); None = end

    def manifest(self) -> dict:
        return {"week": self.week, "start": gr.iso(self.start), "end": gr.iso(self.end),
                "calendar_end": gr.iso(self.calendar_end or self.end), "mailboxes": len(self.mailboxes),
                "files": self.counts, "per_mailbox": self.per_mailbox, "errors": self.errors, "requests": self.requests,
                "throttled": self.throttled, "seconds": round(self.seconds, 3)}


def pulled_weeks(settings: Settings) -> int:
    """ISO weeks a pull covers: pull.weeks, and at least the relationship window (CONTRACT.md §8)."""
    return max(settings.pull.weeks, settings.relationship.window_weeks)


def pull_range(week: IsoWeek, weeks: int) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds covering `weeks` ISO weeks ending with `week` in every time zone on Earth."""
    first = week.shift(-(weeks - 1)).monday
    start = dt.datetime.combine(first, dt.time(0), tzinfo=dt.timezone.utc) - EARLIEST_OFFSET
    end = dt.datetime.combine(week.monday + dt.timedelta(days=7), dt.time(0), tzinfo=dt.timezone.utc) + LATEST_OFFSET
    return start, end


class GraphSource:
    """Pulls collaboration metadata for a list of mailboxes through a :class:`Pager`."""

    def __init__(self, pager: Pager, settings: Settings):
        self.pager, self.settings, self.pull = pager, settings, settings.pull
        unknown = sorted(set(self.pull.kinds) - set(KINDS))
        if unknown:
            raise ConfigError(f"pull.kinds: {', '.join(unknown)} unknown. Use any of {', '.join(KINDS)}.")
        self._lock = threading.Lock()
        self._chats: set[str] = set()
        self._joins: dict[bytes, str] = {}  # digest of an online meeting's join URL → its iCalUId
        self._calendar_end: dt.datetime | None = None  # set per pull: the week's end + relationship.lookahead_days

    def pull_week(self, week: IsoWeek, mailboxes: Sequence[str], folder: Path,
                  progress: Callable[[str, dict[str, int] | None, str | None], None] | None = None) -> PullResult:
        """Pull every mailbox, then call records; publish into `folder` only if the whole pull finished."""
        began = time.monotonic()
        start, end = pull_range(week, pulled_weeks(self.settings))
        self._calendar_end = end + dt.timedelta(days=self.settings.relationship.lookahead_days)
        boxes = sorted({m.strip().lower() for m in mailboxes if m.strip()})
        result = PullResult(Path(folder), str(week), start, end, boxes, {}, calendar_end=self._calendar_end)
        sink = PullSink(Path(folder), self.pull.chunk_rows)
        try:
            with ThreadPoolExecutor(max_workers=self.pull.max_workers, thread_name_prefix="pull") as pool:
                futures = {pool.submit(self._mailbox, m, start, end, sink): m for m in boxes}
                try:
                    for fut in as_completed(futures):
                        counts, errors = fut.result()  # an auth failure or a bug raises here and stops the run
                        result.per_mailbox[futures[fut]] = counts
                        result.errors += [e.as_dict() for e in errors]
                        if progress:
                            progress(futures[fut], counts, "; ".join(e.text() for e in errors) or None)
                except BaseException:
                    for other in futures:
                        other.cancel()
                    raise
            if "call" in self.pull.kinds:
                self._calls(set(boxes), start, end, sink, result)
            sink.close()
            result.counts = dict(sink.counts)
            result.requests, result.throttled = self.pager.requests, self.pager.throttled
            result.seconds = time.monotonic() - began
            sink.publish(result.manifest())
        except BaseException:
            sink.discard()
            raise
        return result

    def _mailbox(self, mailbox: str, start: dt.datetime, end: dt.datetime, sink: PullSink) -> tuple[dict[str, int], list[MailboxRefused]]:
        counts: dict[str, int] = {}
        errors: list[MailboxRefused] = []
        user = f"/users/{quote(mailbox)}"
        steps = [("mail", self._mail), ("meeting", self._events), ("chat", self._chats_of)]
        for kind, step in steps:
            if kind not in self.pull.kinds:
                continue
            try:
                counts[kind] = step(mailbox, user, start, end, sink)
            except GraphFailure as exc:
                errors.append(MailboxRefused(mailbox, kind, exc))
                if exc.status == 404:
                    break  # no such mailbox: its other kinds would only fail the same way
        return counts, errors

    def _mail(self, mailbox: str, user: str, start: dt.datetime, end: dt.datetime, sink: PullSink) -> int:
        params = {"$filter": f"receivedDateTime ge {gr.iso(start)} and receivedDateTime lt {gr.iso(end)}",
                  "$select": gr.MESSAGE_SELECT, "$top": str(self.pull.page_size)}
        n = 0
        mails, recipients = [], []
        for msg in self.pager.items(f"{user}/messages", params):
            row, rcpts = gr.message_rows(msg)
            if row is not None:
                mails.append(row)
                recipients += rcpts
                n += 1
            if len(mails) >= 1000:
                sink.add("mails", mails), sink.add("mail_recipients", recipients)
                mails, recipients = [], []
        sink.add("mails", mails), sink.add("mail_recipients", recipients)
        return n

    def _events(self, mailbox: str, user: str, start: dt.datetime, end: dt.datetime, sink: PullSink) -> int:
        # Future meetings too (the relationship card's next interaction): the week's end + lookahead.
        params = {"startDateTime": gr.iso(start), "endDateTime": gr.iso(self._calendar_end or end), "$select": gr.EVENT_SELECT,
                  "$top": str(self.pull.page_size)}
        n = 0
        for event in self.pager.items(f"{user}/calendarView", params, UTC_PREFER):
            row, attendees = gr.event_rows(event, mailbox)
            if row is None:
                continue
            sink.add("meetings", [row]), sink.add("meeting_attendees", attendees)
            n += 1
            url = gr.join_url(event)
            if url:
                with self._lock:
                    self._joins[_key(url)] = row["MeetingId"]
        return n

    def _chats_of(self, mailbox: str, user: str, start: dt.datetime, end: dt.datetime, sink: PullSink) -> int:
        n = 0
        params = {"$select": gr.CHAT_SELECT, "$top": str(min(self.pull.page_size, 50))}
        for chat in self.pager.items(f"{user}/chats", params):
            chat_id = chat.get("id")
            updated = gr.parse_time(chat.get("lastUpdatedDateTime"))
            if not chat_id or (updated is not None and updated < start):
                continue  # nothing said in the window
            with self._lock:
                if chat_id in self._chats:
                    continue
                self._chats.add(chat_id)
            path = f"/chats/{quote(chat_id, safe='')}"
            members, ids = gr.member_rows(chat_id, list(self.pager.items(f"{path}/members", {"$select": gr.MEMBER_SELECT})))
            rows = []
            mparams = {"$select": gr.CHAT_MESSAGE_SELECT, "$top": "50", "$orderby": "createdDateTime desc",
                       "$filter": f"createdDateTime gt {gr.iso(start)} and createdDateTime lt {gr.iso(end)}"}
            for message in self.pager.items(f"{path}/messages", mparams):
                row = gr.chat_message_row(chat_id, message, ids)  # the body Graph sends along is dropped here
                if row is not None and gr.in_range(row["SentTime"], start, end):
                    rows.append(row)
            if rows:
                sink.add("chat_members", members), sink.add("chat_messages", rows)
                n += 1
        return n

    def _calls(self, boxes: set[str], start: dt.datetime, end: dt.datetime, sink: PullSink, result: PullResult) -> None:
        params = {"$filter": f"startDateTime ge {gr.iso(start)} and startDateTime lt {gr.iso(end)}",
                  "$select": gr.CALL_SELECT, "$top": str(self.pull.page_size)}
        n = 0
        try:
            for record in self.pager.items("/communications/callRecords", params):
                sessions = list(self.pager.items(f"/communications/callRecords/{quote(str(record.get('id')), safe='')}/sessions",
                                                 {"$select": gr.SESSION_SELECT}))
                url = record.get("joinWebUrl")
                meeting = self._joins.get(_key(url)) if isinstance(url, str) and url else None
                row, people = gr.call_rows(record, sessions, meeting)
                if row is None or not boxes & {p["Email"] for p in people}:
                    continue  # no pulled mailbox took part
                sink.add("calls", [row]), sink.add("call_participants", people)
                n += 1
        except GraphFailure as exc:
            result.errors.append(MailboxRefused("(tenant call records)", "call", exc).as_dict())
        result.per_mailbox.setdefault("(tenant)", {})["call"] = n


def _key(url: str) -> bytes:
    return hashlib.blake2b(url.strip().encode("utf-8"), digest_size=16).digest()


def graph_source(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> GraphSource:
    """A GraphSource on the settings' app registration; checks the credentials before any mailbox."""
    from requests.adapters import HTTPAdapter

    from digest.graph.auth import TokenProvider, make_session
    from digest.graph.client import GraphClient
    from digest.graph.retry import Backoff

    p = settings.pull
    tokens = TokenProvider(settings.graph, make_session(settings.graph))
    tokens.token()  # a wrong secret or tenant ends the run here (tenant, client id and AAD error; never the secret)
    session = make_session(settings.graph)
    size = max(10, p.max_workers * 2)
    session.mount("https://", HTTPAdapter(pool_connections=size, pool_maxsize=size))
    session.mount("http://", HTTPAdapter(pool_connections=size, pool_maxsize=size))
    pager = Pager(GraphClient(session, tokens, settings.graph.graph_url), Backoff(p.backoff_seconds, p.max_backoff_seconds, p.max_attempts),
                  sleep=sleep)
    return GraphSource(pager, settings)


__all__ = ["GraphSource", "PullResult", "MANIFEST", "graph_source", "pull_range", "pulled_weeks"]
