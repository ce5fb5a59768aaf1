"""Graph sends the audited .eml byte for byte (MIME create), finds it again by internetMessageId, checks Send As."""

from __future__ import annotations

import base64
import datetime as dt
import re
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import requests
from delivery_env import (FROM, SENDERS, WEEK, authority, email_for, eml_for, graph, recipients,  # noqa: F401 - fixtures
                          settings_for, tls_keys, write_run)

from digest.delivery.graph import SETTLE_LOOKUPS, graph_mailer, message_id_filter
from digest.delivery.ledger import Ledger, ledger_url
from digest.delivery.mailer import Attempt
from digest.delivery.outbox import build_message
from digest.delivery.send import send_run

START = dt.datetime(2026, 11, 22, 20, 0, tzinfo=dt.timezone.utc)
SEND_AS_FIX = (f"grant {SENDERS[0]} Send As on {FROM}, or set render.sender_address to the sending mailbox "
               "(docs/delivery.md)")


def _send(settings):
    return send_run(settings, WEEK, via="graph", start=START, clock=time.time)


def _rows(settings):
    ledger = Ledger(ledger_url("", Path(settings.runs.folder) / WEEK), time.time)
    try:
        return {r.recipient: r for r in ledger.rows(WEEK)}
    finally:
        ledger.close()


def _ops(graph, op: str) -> int:
    return sum(1 for o, _, _ in graph.requests if o == op)


def test_the_delivered_message_is_the_audited_eml_with_its_text_part_images_and_one_to(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    people = recipients(3)
    run = write_run(settings, people)
    assert _send(settings).counts == {"sent": 3}
    files = {f.stem: f.read_bytes() for f in run.emails.glob("*/*.eml")}
    assert sorted(item["to"] for item in graph.sent) == people
    for item in graph.sent:
        assert item["mime"] == files[item["to"]]
        msg = BytesParser(policy=policy.default).parsebytes(item["mime"])
        assert [a.addr_spec for a in msg["To"].addresses] == [item["to"]] and msg["Cc"] is None and msg["Bcc"] is None
        parts = {p.get_content_type(): p for p in msg.walk() if not p.is_multipart() and p.get_content_maintype() == "text"}
        assert parts["text/plain"].get_content().strip() == "Hello"  # the plain-text alternative survived
        html = parts["text/html"].get_content()
        images = {str(p["Content-ID"]).strip("<>"): p.get_content() for p in msg.walk() if p.get_content_maintype() == "image"}
        assert set(re.findall(r'src="cid:([^"]+)"', html)) == set(images) and len(images) == 2
        assert all(data.startswith(b"\x89PNG") for data in images.values())
        assert item["message"]["internetMessageId"] == str(msg["Message-ID"])


def test_a_lost_send_answer_is_found_by_internet_message_id_and_not_sent_twice(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    mailer = graph_mailer(settings, [SENDERS[0]], sleep=lambda s: None)
    email, raw = eml_for("ana@contoso.com")
    graph.inject("reset_after", op="send")  # the message left; the answer never came
    drafted: list[str] = []
    outcome = mailer.deliver(email, raw, Attempt(SENDERS[0]), drafted.append)
    assert outcome.state == "sent" and outcome.reason == "already sent (found by its Message-ID)"
    assert [op for op, _, _ in graph.requests] == ["create", "send", "list"]
    assert graph.sent_count() == {"ana@contoso.com": 1} and len(drafted) == 1
    # A later run (the ledger says drafted) looks it up again and sends nothing.
    again = mailer.deliver(email, raw, Attempt(SENDERS[0], draft_id=drafted[0], retry=True), lambda d: None)
    assert again.state == "sent" and graph.sent_count() == {"ana@contoso.com": 1}
    assert graph.sent[0]["mime"] == raw


def test_a_sent_item_that_shows_up_late_is_waited_for_and_not_sent_again(tmp_path, tls_keys, authority, graph):
    graph.sent_items_delay = 0.3  # Exchange's Sent Items copy lags behind the send
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    mailer = graph_mailer(settings, [SENDERS[0]], sleep=sleep)
    graph.inject("504_after", op="send")
    outcome = mailer.deliver(*eml_for("ben@contoso.com"), Attempt(SENDERS[0]), lambda d: None)
    assert outcome.state == "sent" and outcome.reason == "already sent (found by its Message-ID)"
    assert graph.sent_count() == {"ben@contoso.com": 1}
    assert _ops(graph, "create") == 1 and _ops(graph, "send") == 1 and 2 <= _ops(graph, "list") <= SETTLE_LOOKUPS + 1
    assert waits[1:] == [0.05 * 2 ** i for i in range(len(waits) - 1)]  # settle waits: backoff ceilings, no jitter


def test_the_wait_for_a_late_sent_item_is_bounded_then_a_new_draft_goes(tmp_path, tls_keys, authority, graph):
    graph.sent_items_delay = 30.0  # longer than the mailer waits: the documented limit of the lookup
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    waits: list[float] = []
    mailer = graph_mailer(settings, [SENDERS[0]], sleep=waits.append)
    graph.inject("504_after", op="send")
    outcome = mailer.deliver(*eml_for("cara@contoso.com"), Attempt(SENDERS[0]), lambda d: None)
    assert outcome.state == "sent" and outcome.reason == ""
    assert [op for op, _, _ in graph.requests] == ["create", "send"] + ["list"] * (SETTLE_LOOKUPS + 1) + ["create", "send"]
    assert waits[1:] == [0.05, 0.1, 0.2, 0.4]
    assert graph.sent_count() == {"cara@contoso.com": 2}


def test_send_as_denied_fails_clearly_marks_the_mailbox_unusable_and_the_grant_fixes_it(tmp_path, tls_keys, authority, graph):
    graph.send_as.clear()  # the admin has not run Add-RecipientPermission yet
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    direct = graph_mailer(settings, [SENDERS[0]], sleep=lambda s: None)
    outcome = direct.deliver(*eml_for("dan@contoso.com"), Attempt(SENDERS[0]), lambda d: None)
    assert outcome.state == "failed" and outcome.mailbox_unusable and outcome.error_code == "ErrorSendAsDenied"
    assert outcome.reason.startswith(SEND_AS_FIX) and "403 ErrorSendAsDenied" in outcome.reason
    people = recipients(20)
    write_run(settings, people)
    summary = _send(settings)
    assert summary.counts == {"failed": 20} and graph.sent == []
    assert all(SEND_AS_FIX in reason for reason in summary.reasons)
    rows = _rows(settings)
    assert {r.error_code for r in rows.values()} == {"sender:ErrorSendAsDenied"}  # drafted: they keep their mailbox
    drafted = sum(1 for r in rows.values() if r.draft_id)
    assert 1 <= drafted <= 2 * settings.delivery.max_in_flight  # later rows were not tried once the mailbox was known to be refused
    creates = _ops(graph, "create")
    graph.grant_send_as(FROM, SENDERS[0])
    assert _send(settings).counts == {"sent": 20}
    assert graph.sent_count() == {p: 1 for p in people}
    assert _ops(graph, "create") - creates == 20 - drafted  # the drafts left by the refusal were found and sent


def test_setting_the_from_to_the_sending_mailbox_leaves_the_refused_drafts_unsent(tmp_path, tls_keys, authority, graph):
    graph.send_as.clear()
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    people = recipients(3)
    write_run(settings, people)
    assert _send(settings).counts == {"failed": 3}
    settings = settings.replace("render", sender_address=SENDERS[0])
    run = write_run(settings, people)  # rendered again, now From the sending mailbox
    t0 = time.monotonic()
    assert _send(settings).counts == {"sent": 3}
    assert time.monotonic() - t0 < 5  # an old draft (another From) is proof enough: no waiting for Sent Items
    files = {f.stem: f.read_bytes() for f in run.emails.glob("*/*.eml")}
    assert graph.sent_count() == {p: 1 for p in people}
    assert all(item["mime"] == files[item["to"]] and item["message"]["from"] == SENDERS[0] for item in graph.sent)
    leftovers = [m for m in graph.mailboxes[SENDERS[0]].messages.values() if m["isDraft"]]
    assert leftovers and all(m["from"] == FROM for m in leftovers)


def test_a_message_graph_refuses_fails_that_recipient_only(tmp_path, tls_keys, authority, graph):
    settings = settings_for(tmp_path, tls_keys, authority, graph)
    mailer = graph_mailer(settings, [SENDERS[0]], sleep=lambda s: None)
    email = email_for("eve@contoso.com")
    msg = build_message(email, FROM)
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            part.set_content("Hello", subtype="csv")  # the plain-text alternative is gone
    outcome = mailer.deliver(email, msg.as_bytes(), Attempt(SENDERS[0]), lambda d: None)
    assert outcome.state == "failed" and outcome.error_code == "ErrorMimeContentInvalid" and not outcome.mailbox_unusable
    assert "text/plain part is required" in outcome.reason
    headerless = mailer.deliver(email, b"Subject: x\r\n\r\nno ids here\r\n", Attempt(SENDERS[0]), lambda d: None)
    assert headerless.state == "failed" and headerless.error_code == "BadEml" and "Message-ID" in headerless.reason
    assert graph.sent == []


def test_message_id_filter_doubles_single_quotes():
    assert message_id_filter("<o'brien@seller-digest>") == "internetMessageId eq '<o''brien@seller-digest>'"


def test_the_fake_takes_mime_as_graph_documents_it(tls_keys, authority, graph):
    s = requests.Session()
    s.verify, s.trust_env = str(tls_keys.cert_path), False
    headers = {"Authorization": f"Bearer {authority.issue()}", "Content-Type": "text/plain"}
    box = f"{graph.url}/users/{SENDERS[0]}/messages"

    def create(msg: EmailMessage | bytes) -> requests.Response:
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        return s.post(box, data=base64.b64encode(raw), headers=headers)

    email = email_for("ana@contoso.com")
    good = build_message(email, FROM)
    del good["Message-ID"]
    good["Message-ID"] = "<o'brien@seller-digest>"
    made = create(good)
    assert made.status_code == 201
    doc = made.json()
    assert doc["isDraft"] is True and doc["internetMessageId"] == "<o'brien@seller-digest>" and doc["id"]
    assert doc["subject"] == email.subject and doc["toRecipients"] == [{"emailAddress": {"address": "ana@contoso.com"}}]
    found = s.get(box, params={"$filter": message_id_filter("<o'brien@seller-digest>"), "$select": "id,isDraft"}, headers=headers)
    assert found.status_code == 200 and found.json()["value"] == [{"id": doc["id"], "isDraft": True}]

    bad = s.post(box, data=b"not base64 at all!", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ErrorMimeContentInvalidBase64String"
    two_to = build_message(email, FROM)
    two_to.replace_header("To", "ana@contoso.com, ben@contoso.com")
    no_html = build_message(email_for("ana@contoso.com", images=0), FROM)
    for part in no_html.walk():
        if part.get_content_type() == "text/html":
            part.set_content("<p>x</p>", subtype="xml")
    no_image = build_message(email_for("ana@contoso.com", html_extra='<img src="cid:missing@digest">'), FROM)
    for msg, problem in ((two_to, "exactly one To"), (no_html, "text/html part is required"), (no_image, "cid:missing@digest")):
        answer = create(msg)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "ErrorMimeContentInvalid", problem
        assert problem in answer.json()["error"]["message"]
