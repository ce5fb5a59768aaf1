"""Excluded domains and addresses drop the whole interaction, for everyone in it (CONTRACT.md §7)."""

from __future__ import annotations

import datetime as dt

from audit_data import ANA, BOB, CANARY_EMAIL, ROWS, T, make_dataset
from digest.config import Settings
from digest.sources.exclusions import apply_exclusions


def _ids(table, column):
    return sorted(table.column(column).to_pylist())


def test_no_rules_changes_nothing():
    dataset = make_dataset()
    cleaned, dropped = apply_exclusions(dataset, Settings())
    assert cleaned is dataset and dropped.total == 0


def test_an_excluded_domain_drops_every_interaction_it_is_in():
    dataset = make_dataset()
    cleaned, dropped = apply_exclusions(dataset, Settings().replace("privacy", excluded_domains=("CanaryZyx.example",)))
    assert _ids(cleaned.mails, "MailId") == ["M1", "M3"]  # M2 had the canary in cc: gone for bob and nora too
    assert _ids(cleaned.mail_recipients, "MailId") == ["M1", "M3"]
    assert cleaned.meetings.num_rows == 0 and cleaned.meeting_attendees.num_rows == 0
    assert dropped.to_dict() == {"excluded_domain": {"mail": 1, "meeting": 1}, "excluded_address": {}}
    assert cleaned.people.equals(dataset.people) and cleaned.contacts.equals(dataset.contacts)
    assert cleaned.mails.schema == dataset.mails.schema


def test_an_excluded_address_matches_case_insensitively_and_only_counts_participants():
    # ana declined T1: a declined attendee is not a participant, so excluding ana keeps T1
    cleaned, dropped = apply_exclusions(make_dataset(), Settings().replace("privacy", excluded_addresses=(" ANA@contoso.com ",)))
    assert _ids(cleaned.mails, "MailId") == ["M2"] and _ids(cleaned.meetings, "MeetingId") == ["T1"]
    assert dropped.by_address == {"mail": 2} and dropped.total == 2


def test_calls_chats_and_a_meetings_call_go_with_it():
    end = T + dt.timedelta(minutes=30)
    dataset = make_dataset(
        calls=[{"CallId": "K1", "StartTime": T, "EndTime": end, "MeetingId": "T1"},
               {"CallId": "K2", "StartTime": T, "EndTime": end}],
        call_participants=[{"CallId": "K1", "Email": BOB, "JoinTime": T, "LeaveTime": end},
                           {"CallId": "K2", "Email": ANA, "JoinTime": T, "LeaveTime": end},
                           {"CallId": "K2", "Email": "sam@contoso.com", "JoinTime": T, "LeaveTime": end}],
        chat_messages=[{"MessageId": "X1", "ChatId": "H1", "SentTime": T, "Sender": ANA}],
        chat_members=[{"ChatId": "H1", "Email": ANA}, {"ChatId": "H1", "Email": CANARY_EMAIL}],
    )
    cleaned, dropped = apply_exclusions(dataset, Settings().replace("privacy", excluded_domains=("canaryzyx.example",)))
    assert _ids(cleaned.calls, "CallId") == ["K2"]  # K1 was meeting T1's call
    assert _ids(cleaned.call_participants, "CallId") == ["K2", "K2"]
    assert cleaned.chat_messages.num_rows == 0 and cleaned.chat_members.num_rows == 0
    assert dropped.by_domain == {"chat": 1, "mail": 1, "meeting": 1}
    assert len(ROWS["mails"]) == 3  # the shared fixture rows are not mutated
