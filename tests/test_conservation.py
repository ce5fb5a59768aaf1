"""Every seller accounted for: adversarial (valid) addresses are rendered, gated, sent, and every seller in scope
ends in exactly one state with a reason (outcomes.jsonl, report.json, the CLI), the counts adding up.

A generated sample org has some of its sellers renamed to addresses the contract accepts but that
a file name cannot hold as they are: an apostrophe, plus, ampersand, equals, pipe, '!', upper case,
and two addresses that differ only in such a character (sean.o'neil@ and sean.o_neil@).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import Settings
from digest.delivery.outbox import read_eml
from digest.pipeline import STATES, seller_outcomes
from digest.pipeline.weekly import run_week
from digest.runfolder import RunFolder
from digest.sample import generate_sample
from digest.weeks import IsoWeek

W = IsoWeek.parse("2026-W47")
DOMAIN = "contoso-sales.com"
ADVERSARIAL = ["conor.o'brien", "a+b", "r&d.team", "x=y", "pipe|line", "wow!", "Mixed.Case", "sean.o'neil", "sean.o_neil"]


def _settings(root: Path) -> Settings:
    s = Settings().replace("data", folder=str(root / "data"), store=str(root / "store"))
    s = s.replace("runs", folder=str(root / "runs")).replace("delivery", outbox_folder=str(root / "outbox"))
    return s.replace("airflow", batch_size=4).replace("privacy", audit_salt="test-salt-" + "2" * 40)


def _rename(folder: Path, mapping: dict[str, str]) -> None:
    """Replace every occurrence of an address (a whole cell) in every CSV and Parquet file of the folder."""
    for path in folder.rglob("*.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f, quoting=csv.QUOTE_MINIMAL).writerows([[mapping.get(c, c) for c in row] for row in rows])
    for path in folder.rglob("*.parquet"):
        table = pq.read_table(path)
        columns = []
        for name in table.column_names:
            col = table.column(name)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                col = pa.array([mapping.get(v, v) for v in col.to_pylist()], col.type)
            columns.append(col)
        pq.write_table(pa.table(columns, names=table.column_names), path)


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    root = tmp_path_factory.mktemp("conservation")
    generate_sample(root / "data", sellers=12, weeks=4, seed=7, end_week=W)
    with (root / "data" / "crm" / "seller_assignments.csv").open(encoding="utf-8") as f:
        sellers = sorted({row["SellerEmail"] for row in csv.DictReader(f)})
    with (root / "data" / "optouts.csv").open(encoding="utf-8") as f:
        opted_out = {row["PersonId"] for row in csv.DictReader(f)}
    chosen = [s for s in sellers if s not in opted_out][:len(ADVERSARIAL)]
    mapping = {old: f"{new}@{DOMAIN}" for old, new in zip(chosen, ADVERSARIAL)}
    _rename(root / "data", mapping)
    settings = _settings(root)
    result = run_week(settings, W, delivery="outbox")
    return root, settings, result, sorted(v.lower() for v in mapping.values()), sorted(opted_out)


def _outcomes(settings: Settings) -> list[dict]:
    path = RunFolder.for_week(settings.runs.folder, str(W)).outcomes
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_adversarial_address_is_sent_its_own_email(adversarial):
    root, settings, _, renamed, _ = adversarial
    states = {o["seller"]: o for o in _outcomes(settings)}
    for who in renamed:
        assert states[who]["state"] == "sent", (who, states[who])
    delivered = {read_eml(p).recipient.lower(): p for p in (root / "outbox" / str(W)).glob("*.eml")}
    assert set(renamed) <= set(delivered)
    assert delivered["sean.o'neil@contoso-sales.com"] != delivered["sean.o_neil@contoso-sales.com"]
    run = RunFolder.for_week(settings.runs.folder, str(W))
    records = {r["subject"]: r for r in map(json.loads, run.audit.read_text(encoding="utf-8").splitlines())}
    for who in renamed:  # the message that left is the one the gate checked, byte for byte (its sealed copy is gone)
        assert hashlib.sha256(delivered[who].read_bytes()).hexdigest() == records[who]["eml_sha256"]
        assert not run.rendered()[who].exists()


def test_every_seller_in_scope_ends_in_exactly_one_state_and_the_counts_add_up(adversarial):
    root, settings, result, renamed, opted_out = adversarial
    outcomes = _outcomes(settings)
    scope = json.loads((root / "runs" / str(W) / "scope.json").read_text(encoding="utf-8"))
    assert [o["seller"] for o in outcomes] == [s["seller"] for s in scope]  # one line per seller in scope, none twice
    assert len({o["seller"] for o in outcomes}) == len(outcomes) == 12
    assert all(o["state"] in STATES and o["reason"] for o in outcomes)
    report = json.loads(Path(result.report).read_text(encoding="utf-8"))
    counts = report["sellers"]["states"]
    assert sum(counts.values()) == report["sellers"]["in_scope"] == len(outcomes)
    for who in opted_out:  # an opted-out seller gets nothing, and the report says why
        line = next(o for o in outcomes if o["seller"] == who)
        assert line["state"] == "skipped" and line["reason"] == "opted out"
    assert report["sellers"]["reasons"]["skipped"]["opted out"] == len(opted_out)
    assert counts["sent"] == result.counts("deliver")["sent"]
    assert "card" not in json.dumps(outcomes)  # states and reasons only


def test_a_crash_before_delivery_leaves_every_seller_accounted_for(adversarial, tmp_path):
    _, settings, _, _, _ = adversarial
    import shutil

    run = Path(settings.runs.folder) / str(W)
    copy = tmp_path / "runs" / str(W)
    shutil.copytree(run, copy)
    (copy / "deliveries.sqlite").unlink()  # as if the process died right after the gate
    for extra in copy.glob("deliveries.sqlite-*"):
        extra.unlink()
    outcomes = seller_outcomes(settings.replace("runs", folder=str(tmp_path / "runs")), W)
    states = {o.state for o in outcomes}
    assert len(outcomes) == 12 and states <= {"failed", "skipped"}
    assert {o.reason for o in outcomes if o.state == "failed"} == {
        "not delivered: the deliver step did not run for this seller (re-run delivery)"}


def test_digest_run_prints_counts_that_add_up(adversarial, tmp_path):
    root, settings, _, _, _ = adversarial
    config = tmp_path / "digest.toml"
    config.write_text(f'[data]\nfolder = "{root / "data"}"\nstore = "{tmp_path / "store"}"\n[runs]\nfolder = "{tmp_path / "runs"}"\n'
                      f'[delivery]\noutbox_folder = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--week", str(W), "--delivery", "outbox"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith("sellers in scope"))
    assert "12" in line
    numbers = [int(n) for n in line.split(":", 1)[1].replace(",", " ").split() if n.isdigit()]
    assert sum(numbers) == 12, line


def _config(tmp_path: Path, root: Path) -> Path:
    config = tmp_path / "digest.toml"
    config.write_text(f'[data]\nfolder = "{root / "data"}"\nstore = "{tmp_path / "store"}"\n[runs]\nfolder = "{tmp_path / "runs"}"\n'
                      f'[delivery]\noutbox_folder = "{tmp_path / "outbox"}"\n', encoding="utf-8")
    return config


def test_digest_send_prints_the_same_counts(adversarial, tmp_path):
    root, _, _, _, _ = adversarial
    config = _config(tmp_path, root)
    assert CliRunner().invoke(main, ["--config", str(config), "run", "--week", str(W), "--delivery", "none"]).exit_code == 0
    result = CliRunner().invoke(main, ["--config", str(config), "send", "--run", str(tmp_path / "runs" / str(W)), "--via", "outbox"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.strip().startswith("sellers in scope"))
    assert "sellers in scope 12:" in line and "failed 0" in line


def test_delivery_none_holds_every_email_and_names_no_outbox(adversarial, tmp_path):
    root, _, _, _, _ = adversarial
    result = CliRunner().invoke(main, ["--config", str(_config(tmp_path, root)), "run", "--week", str(W), "--delivery", "none"])
    assert result.exit_code == 0, result.output
    assert "outbox" not in result.output and not (tmp_path / "outbox").exists()
    outcomes = [json.loads(line) for line in (tmp_path / "runs" / str(W) / "outcomes.jsonl").read_text().splitlines()]
    held = [o for o in outcomes if o["reason"] == "held: the run rendered and audited only (delivery none)"]
    assert held and all(o["state"] == "skipped" for o in held)
    assert {o["state"] for o in outcomes} == {"skipped"}
