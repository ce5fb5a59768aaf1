"""The privacy canary (issue 7's definition of done), on the real steps of a run.

Distinctive people, accounts and a group are planted in interactions only bob took part in. Every
email of the run is rendered by the real renderer; no canary may appear in anyone else's email
(HTML, text or image alt). Then a record and an email are tampered with, and a broken renderer
adds a Cc or another seller's account: the audit must report each of them.
"""

from __future__ import annotations

import json
import shutil
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

for module in ("digest.sources.files", "digest.metrics", "digest.email.render"):
    pytest.importorskip(module, reason=f"{module} has not landed yet")

from audit_data import relationship  # noqa: E402
from audit_datafolder import ANA, BOB, CANARIES, CAT, OTHER_SELLERS_ACCOUNTS, WEEK, write_data_folder  # noqa: E402
from digest import audit, pipeline  # noqa: E402
from digest.audit.report import report  # noqa: E402
from digest.audit.scope import read_email  # noqa: E402
from digest.config import Settings  # noqa: E402
from digest.runfolder import RunFolder  # noqa: E402
from digest.sealed import message_key, read_message, write_message  # noqa: E402
from digest.weeks import IsoWeek  # noqa: E402

if not hasattr(pipeline, "render_batch"):
    pytest.skip("digest.pipeline.render_batch has not landed yet", allow_module_level=True)

W = IsoWeek.parse(WEEK)


def _settings(root: Path) -> Settings:
    s = Settings().replace("data", folder=str(root / "data"), store=str(root / "store"))
    return s.replace("runs", folder=str(root / "runs")).replace("privacy", audit_salt="canary-salt-" + "0" * 40)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real run of the three sellers: snapshot, cards, batches, render (which writes the audit records)."""
    root = tmp_path_factory.mktemp("canary")
    write_data_folder(root / "data")
    settings = _settings(root)
    pipeline.snapshot_inputs(settings, W)
    pipeline.compute_cards(settings, W)
    pipeline.plan_batches(settings, W, batch_size=2)
    for batch in pipeline.batch_ids(settings, W):
        pipeline.render_batch(settings, W, batch)  # renders and writes the batch's audit records
    return root


@pytest.fixture
def copy(run, tmp_path):
    """A private copy of the run (tests that tamper must not disturb the others)."""
    shutil.copytree(run, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _emails(root: Path) -> dict[str, Path]:
    """Seller -> rendered message (sealed at rest: this is real data, not the demo's sample)."""
    return RunFolder.for_week(root / "runs", WEEK).rendered()


def _open(root: Path, path: Path) -> bytes:
    return read_message(path, message_key(_settings(root), WEEK))


def _seal(root: Path, path: Path, data: bytes) -> None:
    """What a broken renderer would write: the changed message, sealed like any other."""
    write_message(path.with_name(path.name.removesuffix(".sealed")), data, message_key(_settings(root), WEEK))


def test_the_canaries_are_really_in_bobs_data(run):
    cards = {json.loads(line)["seller"]: line for line in (run / "runs" / WEEK / "cards.jsonl").read_text().splitlines()}
    assert set(_emails(run)) == {ANA, BOB, CAT}
    assert "Zyxwv Canary Holdings" in cards[BOB]  # otherwise the test below would prove nothing


def test_no_canary_reaches_another_sellers_email(run):
    for seller, path in _emails(run).items():
        if seller == BOB:
            continue
        content = read_email(path, _open(run, path))
        for canary in CANARIES:
            for where, text in (("html", content.html), ("text", content.text), ("visible text and alt", content.visible)):
                assert canary.lower() not in text.lower(), f"{canary!r} leaked into {seller}'s email ({where})"


def test_the_real_renderer_passes_the_gate(copy):
    settings = _settings(copy)
    result = audit.gate(settings, W, pipeline.load_snapshot(settings, W))
    assert result.passed == (ANA, BOB, CAT) and not result.blocked and result.chain_ok
    assert report(copy / "runs" / WEEK, settings).ok


def test_a_tampered_record_and_a_tampered_email_are_both_reported(copy):
    settings = _settings(copy)
    audit.gate(settings, W, pipeline.load_snapshot(settings, W))
    run_dir = copy / "runs" / WEEK
    lines = (run_dir / "audit.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["interactions"] = record["interactions"][1:]
    lines[0] = json.dumps(record, sort_keys=True, ensure_ascii=False)
    (run_dir / "audit.jsonl").write_text("\n".join(lines) + "\n")
    eml = _emails(copy)[CAT]
    _seal(copy, eml, _open(copy, eml).replace(b"Litware", b"Litwere"))
    result = report(run_dir, settings)
    assert not result.ok and not result.chain_ok
    by = {r.recipient: r for r in result.recipients}
    assert by[record["subject"]].record == "edited"
    assert by[CAT].email == "changed"


def _break(root: Path, path: Path, cc: str | None = None, inject: str | None = None) -> None:
    """A broken renderer's output: the real email plus a Cc header or another seller's account name."""
    msg = BytesParser(policy=policy.default).parsebytes(_open(root, path))
    if cc:
        msg["Cc"] = cc
    if inject:
        for part in msg.walk():
            if part.get_content_type() in ("text/html", "text/plain") and part.get_content_disposition() != "attachment":
                body = part.get_content()
                body = body.replace("</body>", f"<p>{inject}</p></body>") if part.get_content_type() == "text/html" else body + inject
                part.set_content(body, subtype=part.get_content_subtype())
    _seal(root, path, msg.as_bytes())


@pytest.mark.parametrize("broken, rule", [
    (dict(cc="mia@contoso.com"), "recipient"),
    (dict(inject=OTHER_SELLERS_ACCOUNTS[ANA]), "identifiers"),
])
def test_the_gate_blocks_a_broken_renderer(copy, broken, rule):
    settings = _settings(copy)
    dataset = pipeline.load_snapshot(settings, W)
    path = _emails(copy)[ANA]
    _break(copy, path, **broken)
    pipeline.record_audit(settings, W, path.parent.name, dataset)  # the broken renderer's batch is recorded as usual
    result = audit.gate(settings, W, dataset)
    assert rule in result.blocked[ANA] and result.passed == (BOB, CAT)
    assert audit.send_block_reason(settings, W, ANA).startswith("privacy gate:")


def _cards(root: Path) -> dict[str, dict]:
    return {(d := json.loads(line))["seller"]: d for line in (root / "runs" / WEEK / "cards.jsonl").read_text().splitlines() if line}


def test_the_relationship_card_names_only_what_each_seller_met(run):
    cards = _cards(run)
    if not any("relationship" in c for c in cards.values()):
        pytest.skip("the cards carry no relationship section yet (the metrics of CONTRACT.md §8 have not landed)")
    bob = cards[BOB]["relationship"]
    assert "Zyxwv Canary Holdings" in {a["account_name"] for a in bob["accounts"]}  # otherwise this proves nothing
    for seller, card in cards.items():
        if seller == BOB:
            continue
        text = json.dumps(card.get("relationship"), ensure_ascii=False).lower()
        for canary in CANARIES:
            assert canary.lower() not in text, f"{canary!r} is in {seller}'s relationship card"


def _tamper_relationship(root: Path, seller: str, accounts: list[tuple[str, str, list[str]]]) -> None:
    """What a broken metric would write: `seller`'s cards with a relationship card listing `accounts`."""
    cards = _cards(root)
    cards[seller]["relationship"] = relationship(accounts)
    path = root / "runs" / WEEK / "cards.jsonl"
    path.write_text("".join(json.dumps(cards[s], ensure_ascii=False) + "\n" for s in sorted(cards)), encoding="utf-8")


@pytest.mark.parametrize("accounts", [
    [("A1", "Fabrikam", ["Quentin Canaryperson"])],  # bob's canary contact, by CRM name
    [("A1", "Fabrikam", ["quentin@canaryzyx.example"])],  # the same, by address
    [("A1", "Fabrikam", ["Frank Fabri"]), ("ZX-9", "Zyxwv Canary Holdings", [])],  # bob's canary account
])
def test_a_relationship_card_with_a_canary_rendered_by_the_real_renderer_is_blocked(copy, accounts):
    settings = _settings(copy)
    _tamper_relationship(copy, ANA, accounts)
    batch = _emails(copy)[ANA].parent.name
    pipeline.render_batch(settings, W, batch)  # the real renderer draws the tampered card (and records it)
    content = read_email(_emails(copy)[ANA], _open(copy, _emails(copy)[ANA]))
    assert "Relationship health" in content.text and "Fabrikam" in content.text
    result = audit.gate(settings, W, pipeline.load_snapshot(settings, W))
    assert result.blocked[ANA] == ("identifiers",) and result.passed == (BOB, CAT)


def test_a_relationship_card_of_the_sellers_own_contacts_passes(copy):
    settings = _settings(copy)
    _tamper_relationship(copy, ANA, [("A1", "Fabrikam", ["Frank Fabri", "frank@fabrikam.com"])])
    pipeline.render_batch(settings, W, _emails(copy)[ANA].parent.name)
    result = audit.gate(settings, W, pipeline.load_snapshot(settings, W))
    assert result.passed == (ANA, BOB, CAT) and not result.blocked
