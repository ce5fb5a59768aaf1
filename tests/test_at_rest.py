"""Nothing readable at rest on real data: sealed messages, no previews, files gone once sent, keys never shown."""

from __future__ import annotations

import json
import logging
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.audit.report import report
from digest.cli import main
from digest.config import Settings
from digest.errors import InputError
from digest.pipeline.weekly import SAMPLE_MARK, run_week
from digest.runfolder import RunFolder
from digest.sample import generate_sample
from digest.sealed import message_key, read_message, week_key, write_message
from digest.weeks import IsoWeek

W = IsoWeek.parse("2026-W47")
MASTER = "master-key-" + "k" * 40
LINK_SECRET = "link-secret-" + "s" * 40
BOOKKEEPING = {"cards.jsonl", "outcomes.jsonl", "audit.jsonl", "emails.json", "skipped.json", "deliveries.sqlite",
               "audit_gate.json", "report.json", "batches.json", "scope.json", "audit_report.csv", "audit_report.html",
               "sent_deleted.jsonl", "plan.json", "cohorts.json",
               "coverage.json", "seller_assignments_not_associated.csv"}  # hold addresses and counts (the CRM page lists uploaded values) (docs/privacy.md), never a message


def _settings(root: Path) -> Settings:
    s = Settings().replace("data", folder=str(root / "data"), store=str(root / "store"))
    s = s.replace("runs", folder=str(root / "runs")).replace("delivery", outbox_folder=str(root / "outbox"))
    s = s.replace("admin", unsubscribe_secret=LINK_SECRET)
    return s.replace("airflow", batch_size=5).replace("privacy", audit_salt="test-salt-" + "1" * 40, message_key=MASTER)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_real_data_run_leaves_nothing_readable_after_delivery(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    generate_sample(tmp_path / "data", sellers=8, weeks=4, seed=5, end_week=W)  # no sample mark: treated as real data
    s = _settings(tmp_path)
    run_week(s, W, delivery="none")  # rendered, audited, held
    run = RunFolder.for_week(s.runs.folder, str(W))
    rendered = run.rendered()
    seller, sealed = next(iter(sorted(rendered.items())))
    assert sealed.name.endswith(".eml.sealed") and all(p.name.endswith(".eml.sealed") for p in rendered.values())
    plain = read_message(sealed, message_key(s, str(W)))
    msg = BytesParser(policy=policy.default).parsebytes(plain)
    text = msg.get_body(("plain",)).get_content()
    card_line = max((line for line in text.splitlines() if seller not in line), key=len)  # a sentence of this email only
    assert len(card_line) > 30
    emails = _files(run.emails)
    assert not [p for p in emails if p.suffix in (".html", ".eml", ".png")], "a preview or a readable message on real data"
    for p in emails:
        data = p.read_bytes()
        assert card_line.encode() not in data and b"Content-Type:" not in data
        if p.name.endswith(".sealed"):
            assert seller.encode() not in data
    records = {r["subject"]: r for r in map(json.loads, run.audit.read_text().splitlines())}
    assert records[seller]["sealed"] is True and records[seller]["preview"] is False
    import hashlib

    assert records[seller]["eml_sha256"] == hashlib.sha256(plain).hexdigest()  # the audit hashes what Graph would send

    result = CliRunner().invoke(main, ["send", "--run", str(run.root), "--via", "outbox"],
                                env={"DIGEST_DATA__STORE": s.data.store, "DIGEST_DATA__FOLDER": s.data.folder,
                                     "DIGEST_RUNS__FOLDER": s.runs.folder, "DIGEST_DELIVERY__OUTBOX_FOLDER": s.delivery.outbox_folder,
                                     "DIGEST_PRIVACY__MESSAGE_KEY": MASTER, "DIGEST_ADMIN__UNSUBSCRIBE_SECRET": LINK_SECRET})
    assert result.exit_code == 0, result.output
    delivered = {p.name: p.read_bytes() for p in (tmp_path / "outbox" / str(W)).glob("*.eml")}
    assert hashlib.sha256(delivered[f"{seller}.eml"]).hexdigest() == records[seller]["eml_sha256"]
    from digest.pipeline import deliver_batch

    for batch in sorted(p.name for p in run.emails.iterdir() if p.is_dir()):  # the deliver step deletes what was sent
        deliver_batch(s, W, batch, "outbox")
    leftovers = []
    for p in _files(run.root):
        data = p.read_bytes()
        assert card_line.encode() not in data, f"{p} holds the email's text"
        assert b"<html" not in data.lower() or p.name == "audit_report.html", f"{p} is a preview"
        if seller.encode() in data or seller in p.name:
            leftovers.append(p.name)
    assert set(leftovers) <= BOOKKEEPING, f"the seller's address is in {set(leftovers) - BOOKKEEPING}"
    assert not [p for p in _files(run.emails) if ".eml" in p.name]
    audit = report(run.root, s)
    assert audit.ok and audit.counts["emails_deleted_after_delivery"] == len(rendered) and audit.counts["previews"] == 0

    shown = [result.output, caplog.text, repr(s), str(s.privacy), str(s.admin)]
    shown.append(CliRunner().invoke(main, ["config"], env={"DIGEST_PRIVACY__MESSAGE_KEY": MASTER,
                                                           "DIGEST_ADMIN__UNSUBSCRIBE_SECRET": LINK_SECRET}).output)
    with pytest.raises(InputError) as wrong:
        write_message(tmp_path / "y.eml", b"hello", week_key(b"a" * 40, str(W)))
        read_message(tmp_path / "y.eml.sealed", message_key(s, str(W)))
    shown.append(str(wrong.value))
    files = b"".join(p.read_bytes() for p in [*_files(run.root), *_files(tmp_path / "outbox")])
    for secret in (MASTER, LINK_SECRET, message_key(s, str(W)).decode()):
        assert not [text for text in shown if secret in text], "a key was shown"
        assert secret.encode() not in files


def test_the_sample_keeps_readable_messages_and_previews(tmp_path):
    generate_sample(tmp_path / "data", sellers=4, weeks=4, seed=3, end_week=W)
    (tmp_path / "data" / SAMPLE_MARK).write_text("{}\n")
    s = _settings(tmp_path)
    run_week(s, W, delivery="none")
    run = RunFolder.for_week(s.runs.folder, str(W))
    assert all(p.suffix == ".eml" for p in run.rendered().values())
    assert list(run.emails.glob("*/index.html")) and list(run.emails.glob("*/*.html"))
    assert not (Path(s.data.store) / "message_key").exists()


def test_a_changed_sealed_message_is_blocked_by_the_gate(tmp_path):
    generate_sample(tmp_path / "data", sellers=4, weeks=4, seed=3, end_week=W)
    s = _settings(tmp_path)
    run_week(s, W, delivery="none")
    from digest.pipeline import audit_gate

    run = RunFolder.for_week(s.runs.folder, str(W))
    who, path = next(iter(sorted(run.rendered().items())))
    data = bytearray(path.read_bytes())
    data[40] = ord("A") if data[40] != ord("A") else ord("B")
    path.write_bytes(bytes(data))
    audit_gate(s, W)
    gate = json.loads((run.root / "audit_gate.json").read_text())
    assert "integrity" in gate["blocked"][who]
    assert next(r for r in report(run.root, s).recipients if r.recipient == who).email == "changed"


def test_a_sealed_message_is_authenticated_and_one_sealed_the_old_way_still_opens(tmp_path):
    from cryptography.fernet import Fernet

    from digest.sealed import MAGIC

    key, other = week_key(MASTER.encode(), "2026-W47"), week_key(MASTER.encode(), "2026-W48")
    message = b"To: ana@contoso.com\r\n\r\n" + bytes(range(256)) * 400
    sealed = write_message(tmp_path / "a.eml", message, key)
    data = sealed.read_bytes()
    assert sealed.name == "a.eml.sealed" and data.startswith(MAGIC) and b"ana@contoso.com" not in data
    assert len(data) - len(message) == len(MAGIC) + 12 + 16  # nonce and tag: no base64
    assert read_message(sealed, key) == message
    assert write_message(tmp_path / "b.eml", message, key).read_bytes() != data  # a fresh nonce each time
    for changed in (data[:-1] + bytes([data[-1] ^ 1]), data[:len(MAGIC) + 5], data[:40] + b"x" + data[41:]):
        sealed.write_bytes(changed)
        with pytest.raises(InputError, match="cannot be opened"):
            read_message(sealed, key)
    sealed.write_bytes(data)
    with pytest.raises(InputError, match="cannot be opened"):
        read_message(sealed, other)  # another week's key
    old = tmp_path / "old.eml.sealed"
    old.write_bytes(Fernet(key).encrypt(message))  # as messages were sealed before 2026-12-03
    assert read_message(old, key) == message
