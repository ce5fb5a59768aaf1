"""Microsoft Graph v1.0 metadata objects → rows of the contract's collaboration files.

Only metadata crosses this module: the ``$select`` lists below are the only properties the pull
asks for (names from Microsoft Graph's v1.0 CSDL), and the functions read nothing else. A subject,
a body, a preview or an attachment is never selected; the chat messages API returns a message
body anyway, so :func:`chat_message_row` reads ``id``, ``createdDateTime`` and ``from`` and the
caller drops the rest of the object at once. Addresses that are not email addresses (an X.500
address of a deleted user, a phone number) are skipped: the loader would reject them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from digest.sources.columns import EMAIL_PATTERN, zone_name

MESSAGE_SELECT = "internetMessageId,conversationId,sentDateTime,from,toRecipients,ccRecipients,bccRecipients,sensitivity"
EVENT_SELECT = "iCalUId,start,end,organizer,attendees,isCancelled,sensitivity,responseStatus,onlineMeeting"
CALL_SELECT = "id,startDateTime,endDateTime,joinWebUrl"
SESSION_SELECT = "id,startDateTime,endDateTime,caller,callee"
CHAT_SELECT = "id,chatType,lastUpdatedDateTime"
MEMBER_SELECT = "id,email,userId"
CHAT_MESSAGE_SELECT = "id,createdDateTime,from"
# Every property the pull may ask for; tests check each request's $select against this set.
ALLOWED_PROPERTIES = frozenset(",".join((MESSAGE_SELECT, EVENT_SELECT, CALL_SELECT, SESSION_SELECT, CHAT_SELECT,
                                         MEMBER_SELECT, CHAT_MESSAGE_SELECT)).split(","))

_EMAIL = re.compile(EMAIL_PATTERN)
_FRACTION = re.compile(r"(\.\d{1,6})\d*")
RESPONSES = {"none", "organizer", "tentativelyaccepted", "accepted", "declined", "notresponded"}
RESPONSE_CANON = {r.lower(): r for r in ("none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded")}


def email_of(address: Any) -> str | None:
    """A lower-case email address, or None when the value is not one."""
    if not isinstance(address, str):
        return None
    value = address.strip().lower()
    return value if _EMAIL.match(value) else None


def _recipient(obj: Any) -> str | None:
    return email_of(((obj or {}).get("emailAddress") or {}).get("address"))


def parse_time(value: Any) -> dt.datetime | None:
    """An Edm.DateTimeOffset (``2026-11-16T09:00:00Z``, up to 7 fraction digits) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return None
    return parsed.astimezone(dt.timezone.utc) if parsed.tzinfo else None


def parse_zoned(value: Any) -> dt.datetime | None:
    """A dateTimeTimeZone (``{"dateTime": "...", "timeZone": "UTC"}``) as an aware UTC datetime."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    try:
        local = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", value["dateTime"]))
    except ValueError:
        return None
    if local.tzinfo is None:
        name = zone_name(str(value.get("timeZone") or "UTC"))
        if name is None:
            return None
        local = local.replace(tzinfo=ZoneInfo(name))
    return local.astimezone(dt.timezone.utc)


def message_rows(msg: dict) -> tuple[dict | None, list[dict]]:
    """(mails row, mail_recipients rows) of one message; (None, []) for a draft or an unusable sender."""
    mail_id, sent, sender = msg.get("internetMessageId"), parse_time(msg.get("sentDateTime")), _recipient(msg.get("from"))
    if not mail_id or sent is None or sender is None:
        return None, []
    sensitivity = str(msg.get("sensitivity") or "").lower() or None
    conversation = msg.get("conversationId")
    row = {"MailId": mail_id, "SentTime": sent, "Sender": sender,
           "Sensitivity": sensitivity if sensitivity in ("normal", "personal", "private", "confidential") else None,
           "ConversationId": conversation.strip() or None if isinstance(conversation, str) else None}
    recipients = {}
    for key, kind in (("toRecipients", "to"), ("ccRecipients", "cc"), ("bccRecipients", "bcc")):
        for r in msg.get(key) or ():
            email = _recipient(r)
            if email:
                recipients.setdefault((email, kind), {"MailId": mail_id, "Email": email, "Kind": kind})
    return row, list(recipients.values())


def event_rows(event: dict, mailbox: str) -> tuple[dict | None, list[dict]]:
    """(meetings row, meeting_attendees rows) of one calendar event as seen from `mailbox`."""
    uid, start, end = event.get("iCalUId"), parse_zoned(event.get("start")), parse_zoned(event.get("end"))
    organizer = _recipient(event.get("organizer"))
    if not uid or start is None or end is None or organizer is None:
        return None, []
    sensitivity = str(event.get("sensitivity") or "").lower() or None
    row = {"MeetingId": uid, "StartTime": start, "EndTime": end, "Organizer": organizer,
           "IsCancelled": bool(event.get("isCancelled")),
           "Sensitivity": sensitivity if sensitivity in ("normal", "personal", "private", "confidential") else None}
    attendees: dict[str, dict] = {}
    for a in event.get("attendees") or ():
        email = _recipient(a)
        if email:
            response = RESPONSE_CANON.get(str(((a.get("status") or {}).get("response")) or "none").lower(), "none")
            attendees[email] = {"MeetingId": uid, "Email": email, "Response": response}
    own = RESPONSE_CANON.get(str((event.get("responseStatus") or {}).get("response") or "").lower())
    if own and own != "none" and mailbox != organizer:
        attendees[mailbox] = {"MeetingId": uid, "Email": mailbox, "Response": own}  # the mailbox's own answer is exact
    return row, list(attendees.values())


def join_url(event: dict) -> str | None:
    """The Teams join URL of an online meeting event (links a call record to the meeting)."""
    url = (event.get("onlineMeeting") or {}).get("joinUrl")
    return url if isinstance(url, str) and url else None


def _endpoint_email(endpoint: Any) -> str | None:
    """The UPN of a call session endpoint: associatedIdentity (a callRecords.userIdentity), else identity.user."""
    endpoint = endpoint or {}
    for identity in (endpoint.get("associatedIdentity"), (endpoint.get("identity") or {}).get("user")):
        email = email_of((identity or {}).get("userPrincipalName"))
        if email:
            return email
    return None


def call_rows(record: dict, sessions: list[dict], meeting_id: str | None) -> tuple[dict | None, list[dict]]:
    """(calls row, call_participants rows) of a call record and its sessions: each person's first join, last leave."""
    start, end = parse_time(record.get("startDateTime")), parse_time(record.get("endDateTime"))
    if not record.get("id") or start is None or end is None:
        return None, []
    spans: dict[str, list[dt.datetime]] = {}
    for s in sessions:
        s_start, s_end = parse_time(s.get("startDateTime")), parse_time(s.get("endDateTime"))
        if s_start is None or s_end is None:
            continue
        for email in {_endpoint_email(s.get("caller")), _endpoint_email(s.get("callee"))} - {None}:
            span = spans.setdefault(email, [s_start, s_end])  # type: ignore[arg-type]
            span[0], span[1] = min(span[0], s_start), max(span[1], s_end)
    row = {"CallId": record["id"], "StartTime": start, "EndTime": end, "MeetingId": meeting_id}
    people = [{"CallId": record["id"], "Email": e, "JoinTime": a, "LeaveTime": b} for e, (a, b) in sorted(spans.items())]
    return row, people


def member_rows(chat_id: str, members: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """(chat_members rows, user id → email) of a chat's aadUserConversationMember objects."""
    rows, ids = {}, {}
    for m in members:
        email = email_of(m.get("email"))
        if email:
            rows[email] = {"ChatId": chat_id, "Email": email}
            if m.get("userId"):
                ids[str(m["userId"])] = email
    return list(rows.values()), ids


def chat_message_row(chat_id: str, message: dict, user_emails: dict[str, str]) -> dict | None:
    """The chat_messages row of a message sent by a member (system events and app posts give None).

    Reads id, createdDateTime and from only; the body Graph sends along is never read.
    """
    sent = parse_time(message.get("createdDateTime"))
    user = ((message.get("from") or {}).get("user") or {})
    sender = user_emails.get(str(user.get("id") or "")) or email_of(user.get("userPrincipalName"))
    if not message.get("id") or sent is None or sender is None:
        return None
    return {"MessageId": f"{chat_id}/{message['id']}", "ChatId": chat_id, "SentTime": sent, "Sender": sender}


def in_range(when: dt.datetime | None, start: dt.datetime, end: dt.datetime) -> bool:
    return when is not None and start <= when < end


def iso(when: dt.datetime) -> str:
    """A UTC time as Graph's filters write it (``2026-11-16T00:00:00Z``)."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def selected(params: dict[str, str]) -> Iterator[str]:
    """The properties a request's $select asks for."""
    yield from (p.strip() for p in params.get("$select", "").split(",") if p.strip())
