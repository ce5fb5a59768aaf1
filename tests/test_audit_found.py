"""The audit reads a message once per process: the record step's reading serves the gate, for those very bytes only."""

from __future__ import annotations

import hashlib
import json

import pytest

from audit_data import ANA, CANARY_EMAIL, WEEK, make_dataset, write_email
from digest.audit import found as found_module
from digest.audit import reading
from digest.audit.derive import derive_scopes
from digest.audit.found import found
from digest.audit.scope import find_identifiers, read_email
from digest.config import Settings
from digest.weeks import IsoWeek


@pytest.fixture()
def parses(monkeypatch):
    """How many times the audit's MIME parser ran."""
    found_module.forget()
    calls = []
    real = reading.read_email

    def counted(path, data=None):
        calls.append(path)
        return real(path, data)

    monkeypatch.setattr(found_module, "read_email", counted)
    yield calls
    found_module.forget()


def test_found_is_what_reading_and_finding_give(tmp_path, parses):
    universe, _ = derive_scopes(make_dataset(), Settings(), IsoWeek.parse(WEEK), [ANA])
    path = write_email(tmp_path / "a.eml", ANA, "Fabrikam: 3 meetings", "write to frank@fabrikam.com", cc=CANARY_EMAIL)
    data = path.read_bytes()
    content = read_email(path)
    addresses, names = find_identifiers(content, universe)
    got = found(path, data, universe)
    assert (got.to, got.cc, got.bcc) == (content.to, content.cc, content.bcc) == ((ANA,), (CANARY_EMAIL,), ())
    assert (got.addresses, got.names) == (addresses, names) and "fabrikam" in names and CANARY_EMAIL in addresses
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert got.html_sha256 == hashlib.sha256(content.html.encode()).hexdigest()
    assert got.text_sha256 == hashlib.sha256(content.text.encode()).hexdigest()


def test_the_same_bytes_are_parsed_once_other_bytes_or_another_universe_again(tmp_path, parses):
    settings, week = Settings(), IsoWeek.parse(WEEK)
    universe, _ = derive_scopes(make_dataset(), settings, week, [ANA])
    path = write_email(tmp_path / "a.eml", ANA, "Fabrikam", "hello")
    data = path.read_bytes()
    first = found(path, data, universe)
    assert found(path, bytes(data), universe) is first and len(parses) == 1  # equal bytes: the kept reading
    changed = data.replace(b"hello", b"frank@fabrikam.com")
    assert "frank@fabrikam.com" in found(path, changed, universe).addresses and len(parses) == 2
    other, _ = derive_scopes(make_dataset(), settings, week, [ANA])  # an equal but different universe: read again
    assert found(path, data, other) == first and len(parses) == 3


def test_only_the_last_messages_are_kept(tmp_path, parses, monkeypatch):
    monkeypatch.setattr(found_module, "KEPT", 2)
    universe, _ = derive_scopes(make_dataset(), Settings(), IsoWeek.parse(WEEK), [ANA])
    messages = [write_email(tmp_path / f"{i}.eml", ANA, f"week {i}", f"body {i}").read_bytes() for i in range(3)]
    for data in messages:
        found(tmp_path / "x.eml", data, universe)
    found(tmp_path / "x.eml", messages[2], universe)
    assert len(parses) == 3  # the newest is kept
    found(tmp_path / "x.eml", messages[0], universe)
    assert len(parses) == 4  # the oldest was dropped


def _run(tmp_path, sample: bool):
    from digest.pipeline.weekly import SAMPLE_MARK, run_week
    from digest.runfolder import RunFolder
    from digest.sample import generate_sample

    generate_sample(tmp_path / "data", sellers=6, weeks=4, seed=4, end_week=IsoWeek.parse(WEEK))
    if sample:
        (tmp_path / "data" / SAMPLE_MARK).write_text("{}\n")
    s = Settings().replace("data", folder=str(tmp_path / "data"), store=str(tmp_path / "store"))
    s = s.replace("runs", folder=str(tmp_path / "runs")).replace("delivery", outbox_folder=str(tmp_path / "outbox"))
    s = s.replace("privacy", audit_salt="test-salt-" + "2" * 40, message_key="master-key-" + "m" * 40)
    s = s.replace("admin", unsubscribe_secret="link-secret-" + "l" * 40)
    run_week(s, IsoWeek.parse(WEEK), delivery="none")
    return s, RunFolder.for_week(s.runs.folder, WEEK)


def test_a_run_in_one_process_reads_each_message_once(tmp_path, parses):
    _, run = _run(tmp_path, sample=False)
    rendered = run.rendered()
    assert len(rendered) >= 4
    assert len(parses) == len(rendered)  # read as rendered; the record step and the gate use that reading
    gate = json.loads((run.root / "audit_gate.json").read_text())
    assert sorted(gate["passed"]) == sorted(rendered) and not gate["blocked"]


def test_a_message_changed_after_its_record_is_read_again_and_blocked(tmp_path, parses):
    from digest.pipeline import audit_gate

    s, run = _run(tmp_path, sample=True)  # readable .eml files
    who, path = next(iter(sorted(run.rendered().items())))
    before = len(parses)
    path.write_bytes(path.read_bytes().replace(b"Subject: ", b"Subject: Re: ", 1))
    audit_gate(s, IsoWeek.parse(WEEK))
    gate = json.loads((run.root / "audit_gate.json").read_text())
    assert "integrity" in gate["blocked"][who] and len(parses) == before + 1
