"""Pulling collaboration metadata from the fake Graph (HTTPS on 127.0.0.1) into a data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from datafolder import ANA, BOB, write_data_folder
from delivery_env import CLIENT, SECRET, TENANT, authority, graph, settings_for, tls_keys  # noqa: F401 - fixtures

from digest.cli import main
from digest.errors import ServiceError
from digest.sources.files import file_sha256, load_data
from digest.pipeline import pull_into
from digest.sources.pull.rows import ALLOWED_PROPERTIES
from digest.sources.pull.rows import iso as gr_iso
from digest.sources.pull.sink import COLLABORATION
from digest.weeks import IsoWeek

WEEK = IsoWeek.parse("2026-W47")
FRANK, NORA, GHOST = "frank@fabrikam.com", "nora@northwind.com", "ghost@contoso.com"
JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"
CONTENT = {"subject": "SECRET-SUBJECT", "body": {"contentType": "html", "content": "SECRET-BODY"}, "bodyPreview": "SECRET-PREVIEW"}
CONTENT_WORDS = {"subject", "body", "bodyPreview", "uniqueBody", "attachments", "topic", "summary", "lastMessagePreview"}


def _addr(email: str) -> dict:
    return {"emailAddress": {"name": email.split("@")[0].title(), "address": email}}


def _msg(mid: str, sent: str, sender: str, to=(), cc=(), sensitivity="normal", conversation: str = "AAQkconv-1") -> dict:
    return {"@odata.etag": 'W/"x"', "id": "AAMk" + mid, "internetMessageId": f"<{mid}@contoso.com>", "sentDateTime": sent,
            "conversationId": conversation, "conversationIndex": "AQHZ-SECRET-INDEX",
            "receivedDateTime": sent, "from": _addr(sender), "sender": _addr(sender), "toRecipients": [_addr(t) for t in to],
            "ccRecipients": [_addr(c) for c in cc], "bccRecipients": [], "sensitivity": sensitivity, "isDraft": False, **CONTENT}


def _event(uid: str, start: str, end: str, organizer: str, attendees: dict, own: str, cancelled=False, join: str | None = None) -> dict:
    return {"id": "AAMkev" + uid, "iCalUId": uid, "start": {"dateTime": start + ".0000000", "timeZone": "UTC"},
            "end": {"dateTime": end + ".0000000", "timeZone": "UTC"}, "organizer": _addr(organizer),
            "attendees": [{"type": "required", "status": {"response": r, "time": "0001-01-01T00:00:00Z"}, **_addr(a)}
                          for a, r in attendees.items()],
            "isCancelled": cancelled, "sensitivity": "normal", "responseStatus": {"response": own, "time": "0001-01-01T00:00:00Z"},
            "onlineMeeting": {"joinUrl": join} if join else None, "isOnlineMeeting": bool(join), **CONTENT}


def _endpoint(upn: str | None, user_id: str) -> dict:
    ident = {"@odata.type": "#microsoft.graph.callRecords.userIdentity", "id": user_id, "displayName": "x"}
    if upn:
        ident["userPrincipalName"] = upn
    return {"@odata.type": "#microsoft.graph.callRecords.participantEndpoint", "associatedIdentity": ident,
            "identity": {"user": {"id": user_id, "displayName": "x"}}}


def _session(sid: str, start: str, end: str, caller, callee) -> dict:
    return {"id": sid, "startDateTime": start, "endDateTime": end, "modalities": ["audio"], "caller": caller, "callee": callee}


def _call(cid: str, start: str, end: str, sessions: list, join: str | None = None) -> dict:
    return {"id": cid, "version": 1, "type": "groupCall" if join else "peerToPeer", "modalities": ["audio"],
            "lastModifiedDateTime": end, "startDateTime": start, "endDateTime": end, "joinWebUrl": join, "sessions": sessions}


def _chat_message(mid: str, created: str, user_id: str | None) -> dict:
    sender = {"user": {"id": user_id, "displayName": "x", "userIdentityType": "aadUser"}} if user_id else None
    return {"id": mid, "createdDateTime": created, "messageType": "message" if user_id else "systemEventMessage", "from": sender,
            "body": {"contentType": "html", "content": "SECRET-CHAT"}, "chatId": "19:abc@thread.v2"}


def fill(graph) -> None:
    """Two sellers' week: hand-counted rows are in the test below."""
    graph.add_mailbox(ANA, BOB)
    m1 = _msg("m1", "2026-11-17T09:00:00Z", ANA, to=[FRANK], cc=[BOB])
    graph.pull.messages[ANA] = [m1, _msg("m2", "2026-11-18T10:00:00Z", FRANK, to=[ANA], conversation="AAQkconv-2"),
                                _msg("m3", "2026-11-01T10:00:00Z", FRANK, to=[ANA]),  # before the pulled weeks
                                _msg("m5", "2026-11-19T08:00:00Z", "/O=EXCHANGELABS/OU=X/CN=RECIPIENTS/CN=OLD", to=[ANA])]
    graph.pull.messages[BOB] = [dict(m1, id="AAMkbob-m1"), _msg("m6", "2026-11-19T15:00:00Z", BOB, to=[NORA], sensitivity="private")]
    graph.pull.events[ANA] = [_event("ical-1", "2026-11-18T14:00:00", "2026-11-18T15:00:00", ANA,
                                     {FRANK: "accepted", BOB: "tentativelyAccepted"}, "organizer", join=JOIN),
                              # future meetings: one within relationship.lookahead_days of the week's end, one after
                              _event("ical-3", "2026-11-30T10:00:00", "2026-11-30T11:00:00", FRANK, {ANA: "accepted"}, "accepted"),
                              _event("ical-4", "2026-12-20T10:00:00", "2026-12-20T11:00:00", FRANK, {ANA: "accepted"}, "accepted")]
    graph.pull.events[BOB] = [_event("ical-1", "2026-11-18T14:00:00", "2026-11-18T15:00:00", ANA,
                                     {FRANK: "none", BOB: "none"}, "tentativelyAccepted", join=JOIN),
                              _event("ical-2", "2026-11-20T09:00:00", "2026-11-20T09:30:00", BOB, {NORA: "declined"}, "organizer",
                                     cancelled=True)]
    graph.pull.calls = [
        _call("c1", "2026-11-18T14:01:00Z", "2026-11-18T14:58:00Z", [
            _session("s1", "2026-11-18T14:01:00Z", "2026-11-18T14:58:00Z", _endpoint(ANA, "u-ana"), _endpoint(None, "guest")),
            _session("s2", "2026-11-18T14:05:00Z", "2026-11-18T14:50:00Z", _endpoint(BOB, "u-bob"), _endpoint(ANA, "u-ana"))], JOIN),
        _call("c2", "2026-11-18T16:00:00Z", "2026-11-18T16:10:00Z", [
            _session("s3", "2026-11-18T16:00:00Z", "2026-11-18T16:10:00Z", _endpoint("zed@contoso.com", "u-zed"),
                     _endpoint("yan@contoso.com", "u-yan"))]),  # no pulled mailbox took part
        _call("c3", "2026-11-19T10:00:00Z", "2026-11-19T10:30:00Z", [
            _session("s4", "2026-11-19T10:00:00Z", "2026-11-19T10:30:00Z", _endpoint(ANA, "u-ana"), _endpoint(FRANK, "u-frank"))]),
    ]
    members = [{"@odata.type": "#microsoft.graph.aadUserConversationMember", "id": f"mm-{u}", "roles": ["owner"], "displayName": "x",
                "userId": u, "email": e, "tenantId": "t"} for u, e in (("u-ana", ANA), ("u-bob", BOB), ("u-nora", NORA))]
    graph.pull.chats = {
        "19:abc@thread.v2": {"chat": {"id": "19:abc@thread.v2", "chatType": "group", "topic": "SECRET-TOPIC",
                                      "lastUpdatedDateTime": "2026-11-20T10:00:00Z"}, "members": members,
                             "messages": [_chat_message("1", "2026-11-17T09:00:00Z", "u-ana"), _chat_message("2", "2026-11-17T09:05:00Z", "u-bob"),
                                          _chat_message("3", "2026-11-18T09:00:00Z", "u-ana"), _chat_message("4", "2026-11-18T09:01:00Z", None),
                                          _chat_message("5", "2026-10-01T09:00:00Z", "u-ana")]},
        "19:old@thread.v2": {"chat": {"id": "19:old@thread.v2", "chatType": "oneOnOne", "lastUpdatedDateTime": "2026-10-01T10:00:00Z"},
                             "members": members[:2], "messages": [_chat_message("9", "2026-10-01T09:00:00Z", "u-ana")]},
    }
    graph.pull.user_chats = {ANA: ["19:abc@thread.v2", "19:old@thread.v2"], BOB: ["19:abc@thread.v2"]}


def pull_settings(tmp_path, tls_keys, authority, graph, window_weeks: int = 2, **pull):
    """One pulled week; the relationship window (which the pull always covers) is 2 weeks unless given."""
    s = settings_for(tmp_path, tls_keys, authority, graph).replace("relationship", window_weeks=window_weeks)
    return s.replace("pull", **{"weeks": 1, "page_size": 2, "max_workers": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.2,
                                "chunk_rows": 100, **pull})


def _assert_metadata_only(graph, folder: Path) -> None:
    assert graph.pull.queries
    for op, params in graph.pull.queries:
        if "$skiptoken" in params:
            continue  # a next page: the same query as the first one
        asked = {p.strip() for p in params.get("$select", "").split(",") if p.strip()}
        assert asked, f"{op} asked without $select: {params}"
        assert asked <= ALLOWED_PROPERTIES and not asked & CONTENT_WORDS, (op, asked)
    for spec in COLLABORATION:
        table = pq.read_table(folder / "collaboration" / (Path(spec.path).name + ".parquet"))
        assert table.column_names == [c.name for c in spec.columns]
        assert "SECRET" not in json.dumps(table.to_pylist(), default=str)


def test_a_pull_writes_files_the_loader_accepts(tmp_path, tls_keys, authority, graph):
    fill(graph)
    graph.inject("429", op="pull_messages", count=2, retry_after="0.05")
    graph.inject("503", op="pull_events", count=1, retry_after="0.05")
    settings = pull_settings(tmp_path, tls_keys, authority, graph)
    write_data_folder(Path(settings.data.folder))
    result = pull_into(settings, WEEK)
    assert result.mailboxes == [ANA, BOB] and not result.errors, result.errors
    assert result.throttled >= 3
    assert any("$skiptoken" in p for op, p in graph.pull.queries if op == "pull_messages")  # ana's 3 messages came in 2 pages
    data = load_data(settings.data.folder, settings, cache=False)
    assert sorted(data.mails.column("MailId").to_pylist()) == ["<m1@contoso.com>", "<m2@contoso.com>", "<m6@contoso.com>"]
    assert dict(zip(data.mails.column("MailId").to_pylist(), data.mails.column("ConversationId").to_pylist()))["<m2@contoso.com>"] \
        == "AAQkconv-2"
    assert result.counts["mails"] == 4  # m1 from both mailboxes, written once per mailbox; the loader collapses it
    assert dict(zip(data.mails.column("MailId").to_pylist(), data.mails.column("Sensitivity").to_pylist()))["<m6@contoso.com>"] == "private"
    assert sorted(zip(data.mail_recipients.column("MailId").to_pylist(), data.mail_recipients.column("Email").to_pylist(),
                      data.mail_recipients.column("Kind").to_pylist())) == [
        ("<m1@contoso.com>", BOB, "cc"), ("<m1@contoso.com>", FRANK, "to"), ("<m2@contoso.com>", ANA, "to"), ("<m6@contoso.com>", NORA, "to")]
    meetings = {r["MeetingId"]: r for r in data.meetings.to_pylist()}
    assert set(meetings) == {"ical-1", "ical-2", "ical-3"} and meetings["ical-2"]["IsCancelled"] and not meetings["ical-1"]["IsCancelled"]
    assert (meetings["ical-1"]["EndTime"] - meetings["ical-1"]["StartTime"]).seconds == 3600 and meetings["ical-1"]["Organizer"] == ANA
    assert sorted((r["MeetingId"], r["Email"]) for r in data.meeting_attendees.to_pylist()) == [
        ("ical-1", BOB), ("ical-1", FRANK), ("ical-2", NORA), ("ical-3", ANA)]
    calls = {r["CallId"]: r for r in data.calls.to_pylist()}
    assert set(calls) == {"c1", "c3"} and calls["c1"]["MeetingId"] == "ical-1" and calls["c3"]["MeetingId"] is None
    parts = sorted((r["CallId"], r["Email"], r["JoinTime"].strftime("%H:%M"), r["LeaveTime"].strftime("%H:%M"))
                   for r in data.call_participants.to_pylist())
    assert parts == [("c1", ANA, "14:01", "14:58"), ("c1", BOB, "14:05", "14:50"), ("c3", ANA, "10:00", "10:30"), ("c3", FRANK, "10:00", "10:30")]
    assert sorted((r["MessageId"], r["Sender"]) for r in data.chat_messages.to_pylist()) == [
        ("19:abc@thread.v2/1", ANA), ("19:abc@thread.v2/2", BOB), ("19:abc@thread.v2/3", ANA)]
    assert sorted(data.chat_members.column("Email").to_pylist()) == [ANA, BOB, NORA]
    assert sum(1 for op, _ in graph.pull.queries if op == "pull_chat_members") == 1  # a chat shared by two mailboxes: read once
    _assert_metadata_only(graph, Path(settings.data.folder))
    manifest = json.loads((Path(settings.data.folder) / "collaboration" / "pull.json").read_text())
    assert manifest["week"] == "2026-W47" and {k: v for k, v in manifest["per_mailbox"][ANA].items() if k != "chat"} == {
        "mail": 2, "meeting": 2}
    # the chat ana and bob share is read once, counted for whichever mailbox's worker listed it first
    assert sum(counts.get("chat", 0) for counts in manifest["per_mailbox"].values()) == 1
    assert manifest["files"]["mails"] == 4 and manifest["errors"] == []
    assert SECRET not in json.dumps(manifest)


def test_the_pull_covers_the_relationship_window_and_reads_the_calendar_ahead(tmp_path, tls_keys, authority, graph):
    fill(graph)
    settings = pull_settings(tmp_path, tls_keys, authority, graph, window_weeks=9, kinds=("mail", "meeting", "chat"))
    result = pull_into(settings, WEEK, tmp_path / "out", mailboxes=[ANA])
    assert gr_iso(result.start) == "2026-09-20T10:00:00Z" and gr_iso(result.end) == "2026-11-23T12:00:00Z"  # 9 weeks, not pull.weeks = 1
    views = [p for op, p in graph.pull.queries if op == "pull_events" and "$skiptoken" not in p]
    assert [(p["startDateTime"], p["endDateTime"]) for p in views] == [("2026-09-20T10:00:00Z", "2026-12-07T12:00:00Z")]
    mails = pq.read_table(tmp_path / "out" / "collaboration" / "mails.parquet")
    assert "<m3@contoso.com>" in mails.column("MailId").to_pylist()  # 1 November: inside the relationship window
    meetings = pq.read_table(tmp_path / "out" / "collaboration" / "meetings.parquet").column("MeetingId").to_pylist()
    assert sorted(meetings) == ["ical-1", "ical-3"]  # 30 November is within 14 days of the week's end, 20 December is not
    manifest = json.loads((tmp_path / "out" / "collaboration" / "pull.json").read_text())
    assert manifest["calendar_end"] == "2026-12-07T12:00:00Z"
    _assert_metadata_only(graph, tmp_path / "out")
    assert "SECRET-INDEX" not in json.dumps(pq.read_table(tmp_path / "out" / "collaboration" / "mails.parquet").to_pylist(), default=str)


def test_an_unknown_or_forbidden_mailbox_is_reported_and_the_rest_pulled(tmp_path, tls_keys, authority, graph):
    fill(graph)
    graph.forbidden.add(BOB)
    settings = pull_settings(tmp_path, tls_keys, authority, graph, kinds=("mail", "meeting"))
    seen = []
    result = pull_into(settings, WEEK, tmp_path / "out", mailboxes=[ANA, BOB, GHOST], progress=lambda m, c, e: seen.append((m, e)))
    by_box = {e["mailbox"]: e for e in result.errors if e["kind"] == "mail"}
    assert [e["kind"] for e in result.errors if e["mailbox"] == GHOST] == ["mail"]  # not found: its other kinds are not tried
    assert by_box[GHOST]["code"] == "ErrorInvalidUser" and "Graph knows no mailbox ghost@contoso.com" in by_box[GHOST]["fix"]
    assert by_box[BOB]["status"] == 403 and "Exchange RBAC" in by_box[BOB]["fix"] and "Mail.ReadBasic.All" in by_box[BOB]["fix"]
    assert sorted(m for m, _ in seen) == [ANA, BOB, GHOST] and dict(seen)[ANA] is None
    assert result.per_mailbox[ANA] == {"mail": 2, "meeting": 2}
    data = load_data(tmp_path / "out", settings, cache=False) if (tmp_path / "out" / "org").exists() else None
    assert data is None  # only collaboration files were written: the out folder has no org data
    mails = pq.read_table(tmp_path / "out" / "collaboration" / "mails.parquet")
    assert sorted(mails.column("MailId").to_pylist()) == ["<m1@contoso.com>", "<m2@contoso.com>"]


def test_an_interrupted_pull_leaves_the_previous_data_untouched(tmp_path, tls_keys, authority, graph):
    fill(graph)
    settings = pull_settings(tmp_path, tls_keys, authority, graph, max_workers=1)
    folder = write_data_folder(Path(settings.data.folder))
    before = {p.name: file_sha256(p) for p in (folder / "collaboration").iterdir()}

    def stop(mailbox, counts, error):
        raise KeyboardInterrupt  # Ctrl-C (or a killed task) after the first mailbox

    with pytest.raises(KeyboardInterrupt):
        pull_into(settings, WEEK, progress=stop)
    assert {p.name: file_sha256(p) for p in (folder / "collaboration").iterdir()} == before
    assert not list(folder.glob(".pull-*"))
    load_data(folder, settings, cache=False)  # still the previous good data


def test_an_auth_failure_stops_the_pull_naming_tenant_and_client_never_the_secret(tmp_path, tls_keys, authority, graph):
    fill(graph)
    settings = pull_settings(tmp_path, tls_keys, authority, graph).replace("graph", client_secret="wrong-secret-value")
    with pytest.raises(ServiceError) as err:
        pull_into(settings, WEEK, tmp_path / "out", mailboxes=[ANA])
    text = str(err.value)
    assert TENANT in text and CLIENT in text and "AADSTS" in text and "wrong-secret-value" not in text
    assert not (tmp_path / "out" / "collaboration").exists()


def test_digest_pull_then_digest_cards(tmp_path, tls_keys, authority, graph):
    fill(graph)
    out = write_data_folder(tmp_path / "pulled")
    config = tmp_path / "digest.toml"
    config.write_text(f"""[graph]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
authority_url = "{authority.url}"
graph_url = "{graph.url}"
ca_bundle = "{tls_keys.cert_path}"

[pull]
weeks = 1
page_size = 2
backoff_seconds = 0.01
""", encoding="utf-8")
    runner = CliRunner()
    env = {"DIGEST_GRAPH__CLIENT_SECRET": SECRET}
    res = runner.invoke(main, ["--config", str(config), "pull", "--week", "2026-W47", "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    assert "2 mailbox" in res.output and SECRET not in res.output
    res = runner.invoke(main, ["--config", str(config), "cards", "--data", str(out), "--week", "2026-W47"], env=env)
    assert res.exit_code == 0, res.output
    cards = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    by_seller = {c["seller"]: c for c in cards}
    assert set(by_seller) == {ANA, BOB}
    assert by_seller[ANA]["summary"]["collaboration_hours"] > 0


def test_a_run_with_pull_source_graph_pulls_before_its_snapshot(tmp_path, tls_keys, authority, graph):
    from digest.pipeline import snapshot_inputs

    fill(graph)
    settings = pull_settings(tmp_path, tls_keys, authority, graph, source="graph")
    write_data_folder(Path(settings.data.folder))
    result = snapshot_inputs(settings, WEEK)
    assert result.counts["mails"] == 3 and result.counts["calls"] == 2 and result.counts["chat_messages"] == 3
    assert (Path(settings.data.folder) / "collaboration" / "pull.json").is_file()
