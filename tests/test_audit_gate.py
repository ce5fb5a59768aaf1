"""The privacy gate blocks each kind of leak a broken renderer or metric could make (CONTRACT.md §7)."""

from __future__ import annotations

import json
import stat

import pytest

from audit_data import (ANA, BOB, CANARY_ACCOUNT, CANARY_EMAIL, CANARY_PERSON, WEEK, card, make_dataset, relationship, write_cards,
                        write_email)
from digest import audit
from digest.errors import InputError
from digest.config import Settings
from digest.weeks import IsoWeek

W = IsoWeek.parse(WEEK)
USED = {ANA: [("mail", "M1"), ("mail", "M3")], BOB: [("mail", "M2"), ("meeting", "T1")]}


@pytest.fixture
def settings(tmp_path):
    s = Settings().replace("runs", folder=str(tmp_path / "runs"))
    return s.replace("data", store=str(tmp_path / "store"))


@pytest.fixture
def run_root(settings, tmp_path):
    root = tmp_path / "runs" / WEEK
    write_cards(root, [card(ANA, [("A1", "Fabrikam")], ["Solution Specialist"]),
                       card(BOB, [("A2", "Northwind"), ("ZX-9", CANARY_ACCOUNT)], ["Zyxwv Lab"])])
    return root


def render(run_root, ana_html="Fabrikam: 0.1 h with Frank Fabri", ana_text="Fabrikam 0.1 h", cc=None, to=ANA, alt="Fabrikam 0.1 hours"):
    """A stand-in renderer; arguments let a test break it in one precise way."""
    write_email(run_root / "emails" / "0000" / f"{ANA}.eml", to, ana_text, ana_html, cc=cc, alt=alt)
    write_email(run_root / "emails" / "0000" / f"{BOB}.eml", BOB, f"{CANARY_ACCOUNT} 1 h",
                f"{CANARY_ACCOUNT}: 1 h with {CANARY_PERSON} and nora@northwind.com", alt="Northwind")


def run_gate(settings, dataset=None, used=USED):
    dataset = dataset or make_dataset()
    audit.record_emails(settings, W, "0000", dataset, used)
    return audit.gate(settings, W, dataset)


def test_correct_emails_pass_and_the_gate_file_says_so(settings, run_root):
    render(run_root)
    result = run_gate(settings)
    assert result.passed == (ANA, BOB) and not result.blocked and result.chain_ok
    doc = json.loads((run_root / "audit_gate.json").read_text())
    assert doc["passed"] == [ANA, BOB] and doc["chain_ok"] and doc["records"] == 2
    assert audit.send_block_reason(settings, W, ANA) is None


@pytest.mark.parametrize("broken, rule", [
    (dict(cc="mia@contoso.com"), "recipient"),  # a manager in cc
    (dict(to="mia@contoso.com"), "recipient"),  # sent to someone else
    (dict(to=f"{ANA}, {BOB}"), "recipient"),  # a second recipient
    (dict(ana_html=f"Fabrikam and {CANARY_ACCOUNT}"), "identifiers"),  # another seller's account in the HTML
    (dict(ana_text=f"Met {CANARY_PERSON.upper()}"), "identifiers"),  # a person ana never met, in the text part
    (dict(alt=f"chart with {CANARY_EMAIL}"), "identifiers"),  # an address only in an image's alt text
    (dict(ana_html="<a href='https://x.example/explore?account=ZX-9'>Explore</a>"), "identifiers"),  # an account id in a link
    (dict(ana_html="nora@northwind.com wrote"), "identifiers"),  # bob's customer
])
def test_a_broken_renderer_is_blocked(settings, run_root, broken, rule):
    render(run_root, **broken)
    result = run_gate(settings)
    assert rule in result.blocked[ANA]
    assert result.passed == (BOB,)
    assert audit.send_block_reason(settings, W, ANA).startswith(f"privacy gate: ")
    assert rule in audit.send_block_reason(settings, W, ANA)


def test_run_mode_stops_every_email(settings, run_root):
    render(run_root, cc="mia@contoso.com")
    result = run_gate(settings.replace("privacy", gate_mode="run"))
    assert result.passed == () and result.blocked[BOB] == ("run",) and "recipient" in result.blocked[ANA]


def test_an_interaction_without_the_subject_is_blocked(settings, run_root):
    render(run_root)
    result = run_gate(settings, used={ANA: [("mail", "M1"), ("meeting", "T1")], BOB: USED[BOB]})  # ana declined T1
    assert result.blocked == {ANA: ("interactions",)}


def test_an_excluded_interaction_used_anyway_is_blocked(settings, run_root):
    render(run_root)
    result = run_gate(settings.replace("privacy", excluded_addresses=("FRANK@fabrikam.com",)))
    assert result.blocked[ANA] == ("interactions", "identifiers")  # M1 dropped: Fabrikam's Frank is no longer in scope


def test_a_card_listing_an_account_out_of_scope_is_blocked(settings, run_root):
    write_cards(run_root, [card(ANA, [("A1", "Fabrikam"), ("ZX-9", "hidden")], []), card(BOB, [("A2", "Northwind")], [])])
    render(run_root)
    assert run_gate(settings).blocked == {ANA: ("identifiers",)}


def _with_relationship(run_root, accounts):
    """ana's cards with a relationship card (CONTRACT.md §8) listing `accounts`: (id, name, most contacted)."""
    write_cards(run_root, [card(ANA, [("A1", "Fabrikam")], ["Solution Specialist"], relationship(accounts)),
                           card(BOB, [("A2", "Northwind"), ("ZX-9", CANARY_ACCOUNT)], ["Zyxwv Lab"])])


@pytest.mark.parametrize("people", [["Frank Fabri"], ["frank@fabrikam.com"], ["FRANK FABRI", " Frank@Fabrikam.com "], []])
def test_a_relationship_card_naming_the_sellers_own_contacts_passes(settings, run_root, people):
    _with_relationship(run_root, [("A1", "Fabrikam", people)])
    render(run_root)
    result = run_gate(settings)
    assert result.passed == (ANA, BOB) and not result.blocked
    assert audit.read_records(run_root / "audit.jsonl")[0]["accounts"] == ["A1"]


@pytest.mark.parametrize("accounts", [
    [("A1", "Fabrikam", ["Frank Fabri"]), ("ZX-9", "hidden", [])],  # another seller's account
    [("A1", "Fabrikam", [CANARY_PERSON])],  # a contact ana never met, by CRM name
    [("A1", "Fabrikam", [CANARY_EMAIL])],  # the same, by address
    [("A1", "Fabrikam", ["Frank Fabri", "nora@northwind.com"])],  # bob's customer next to ana's own
    [("A1", "Fabrikam", ["Ivy Nobody-Known"])],  # a name the data does not know at all (the text scan cannot see it)
    [("A1", "Fabrikam", ["sam@contoso.com"]), ("A1", "Fabrikam", ["eve@contoso.com"])],  # eve was only in bob's meeting
])
def test_a_tampered_relationship_card_is_blocked(settings, run_root, accounts):
    _with_relationship(run_root, accounts)
    render(run_root)  # the email itself is clean: the card alone gives it away
    assert run_gate(settings).blocked == {ANA: ("identifiers",)}


@pytest.mark.parametrize("change", [
    dict(optouts=[{"PersonId": ANA}]),
])
def test_opted_out_seller_gets_nothing(settings, run_root, change):
    render(run_root)
    assert run_gate(settings, dataset=make_dataset(**change)).blocked == {ANA: ("opt_out",)}


def test_excluded_seller_gets_nothing(settings, run_root):
    render(run_root)
    result = run_gate(settings.replace("privacy", excluded_domains=("contoso.com",)))
    assert "opt_out" in result.blocked[ANA] and "opt_out" in result.blocked[BOB]


def test_opt_out_at_send_time_wins_over_a_passed_gate(settings, run_root):
    render(run_root)
    run_gate(settings)
    assert audit.send_block_reason(settings, W, ANA, optouts=["ANA@contoso.com"]) == "opted out"
    assert audit.send_block_reason(settings, W, "nobody@contoso.com") == "privacy gate: not audited"


def test_a_comparison_with_a_small_group_is_blocked(settings, run_root):
    small = card(ANA, [("A1", "Fabrikam")], [])
    small["summary"]["peer_median"] = {"external_pct": 40.0, "peer_group_size": 4}
    write_cards(run_root, [small, card(BOB, [], [])])
    render(run_root)
    assert run_gate(settings).blocked == {ANA: ("group_size",)}


def test_an_email_without_a_record_is_blocked(settings, run_root):
    render(run_root)
    dataset = make_dataset()
    audit.record_emails(settings, W, "0000", dataset, USED)
    write_email(run_root / "emails" / "0001" / "eve@contoso.com.eml", "eve@contoso.com", "hi", "hi")
    result = audit.gate(settings, W, dataset)
    assert result.blocked == {"eve@contoso.com": ("manifest", "recipient")}  # and eve has no cards: not a subject


def test_an_email_changed_after_recording_is_blocked(settings, run_root):
    render(run_root)
    dataset = make_dataset()
    audit.record_emails(settings, W, "0000", dataset, USED)
    path = run_root / "emails" / "0000" / f"{ANA}.eml"
    path.write_bytes(path.read_bytes().replace(b"Fabrikam", b"Fabrikan"))
    assert audit.gate(settings, W, dataset).blocked == {ANA: ("integrity",)}


def test_an_edited_record_breaks_the_chain_and_stops_everything(settings, run_root):
    render(run_root)
    dataset = make_dataset()
    audit.record_emails(settings, W, "0000", dataset, USED)
    lines = (run_root / "audit.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["interactions"] = []
    lines[0] = json.dumps(rec, sort_keys=True)
    (run_root / "audit.jsonl").write_text("\n".join(lines) + "\n")
    result = audit.gate(settings, W, dataset)
    assert not result.chain_ok and result.passed == ()
    assert all(rules[-1] == "chain" for rules in result.blocked.values())


def test_rerecording_a_batch_supersedes_and_keeps_the_chain(settings, run_root):
    render(run_root)
    dataset = make_dataset()
    assert audit.record_emails(settings, W, "0000", dataset, USED) == 2
    render(run_root, ana_html="Fabrikam: 0.2 h")
    assert audit.record_emails(settings, W, "0000", dataset, USED) == 2
    records = audit.read_records(run_root / "audit.jsonl")
    assert len(records) == 4 and audit.verify_chain(records) == []
    assert records[2]["supersedes"] == records[0]["hash"] and records[0]["supersedes"] is None
    assert len(audit.effective_records(records)) == 2
    assert audit.gate(settings, W, dataset).passed == (ANA, BOB)


def test_records_hold_hashes_not_identifiers(settings, run_root):
    render(run_root)
    run_gate(settings)
    text = (run_root / "audit.jsonl").read_text()
    for raw in ("M1", "frank@fabrikam.com", "Frank Fabri", CANARY_EMAIL, "quentin"):
        assert raw not in text
    rec = audit.read_records(run_root / "audit.jsonl")[0]
    assert rec["subject"] == ANA and rec["recipient"] == ANA and rec["accounts"] == ["A1"]
    assert len(rec["interactions"]) == 2 and len(rec["people"]) >= 2 and rec["settings"]["min_group_size"] == 5


def test_salt_is_made_once_kept_private_and_the_setting_wins(settings, tmp_path):
    first = audit.audit_salt(settings)
    path = tmp_path / "store" / "audit_salt"
    assert audit.audit_salt(settings) == first and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit.audit_salt(settings.replace("privacy", audit_salt="x" * 40)) == b"x" * 40
    assert audit.hash_value(first, "mail:M1") != audit.hash_value(b"x" * 40, "mail:M1")


def test_current_optouts_reads_the_data_folder_as_it_is_now(settings, tmp_path):
    s = settings.replace("data", folder=str(tmp_path / "data"))
    assert audit.current_optouts(s) == frozenset()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "optouts.csv").write_text("PersonId\n ANA@Contoso.com \n\n")
    assert audit.current_optouts(s) == {ANA}
    (tmp_path / "data" / "optouts.csv").write_text("Email\nana@contoso.com\n")
    with pytest.raises(InputError, match="PersonId"):
        audit.current_optouts(s)


def test_a_passed_email_is_not_checked_again_but_any_change_is_caught(settings, run_root):
    import dataclasses

    dataset = make_dataset()  # as loaded from files: every table has a content hash, so verdicts can be reused
    dataset = dataclasses.replace(dataset, origin={k: {"sha256": f"{i:064x}"} for i, k in enumerate(dataset.tables())})
    render(run_root)
    audit.record_emails(settings, W, "0000", dataset, USED)
    first = audit.gate(settings, W, dataset)
    verified = json.loads((run_root / "audit_gate.json").read_text())["verified"]
    assert first.passed == (ANA, BOB) and set(verified) == {ANA, BOB}
    assert audit.gate(settings, W, dataset).passed == (ANA, BOB)  # nothing changed: the same verdicts, the same keys
    assert json.loads((run_root / "audit_gate.json").read_text())["verified"] == verified
    path = run_root / "emails" / "0000" / f"{ANA}.eml"
    path.write_bytes(path.read_bytes().replace(b"Fabrikam", b"Fabrikan"))  # changed after it passed
    write_cards(run_root, [card(ANA, [("A1", "Fabrikam")], ["Solution Specialist"]),
                           card(BOB, [("A2", "Northwind"), ("ZX-9", CANARY_ACCOUNT), ("A1", "Fabrikam")], ["Zyxwv Lab"])])
    assert audit.gate(settings, W, dataset).blocked == {ANA: ("integrity",), BOB: ("identifiers",)}  # bob's cards changed
    refused = dataclasses.replace(dataset, optouts=make_dataset(optouts=[{"PersonId": BOB}]).optouts)
    assert "opt_out" in audit.gate(settings, W, refused).blocked[BOB]  # opt-outs are read by every gate


def test_the_gate_reads_the_chain_only_between_appends(settings, run_root):
    # Another cohort's render appends its records under audit.lock (in Airflow, side by side with
    # this gate): a gate reading meanwhile could see half a record and block the whole run as a broken chain.
    import threading

    from digest.runfolder import RunFolder

    render(run_root)
    dataset = make_dataset()
    audit.record_emails(settings, W, "0000", dataset, USED)
    run = RunFolder.for_week(settings.runs.folder, WEEK)
    done, results = threading.Event(), []
    with run.locked("audit.lock"):
        with run.audit.open("a", encoding="utf-8") as out:
            out.write('{"half": "a rec')  # an append under way
            out.flush()
            worker = threading.Thread(target=lambda: (results.append(audit.gate(settings, W, dataset)), done.set()))
            worker.start()
            assert not done.wait(1.0), "the gate read the chain while a record was half written"
            out.write('ord"}\n')
    worker.join(60)
    assert done.is_set() and results[0].chain_ok is False  # that record is no real one: the chain is broken, but whole
    problems = json.loads((run.root / "audit_gate.json").read_text())["chain_problems"]
    assert problems and not any("not valid JSON" in p for p in problems), problems
