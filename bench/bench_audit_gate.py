"""Benchmark the privacy audit: record_emails + gate over N sellers' emails. Prints time and peak memory.

    .venv/bin/python bench/bench_audit_gate.py [--sellers 2000] [--accounts 2000] [--mails 30]

Synthetic data built straight into Arrow (no loader), one plain .eml per seller naming the
seller's accounts and contacts, so the numbers are the audit's own cost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from digest import audit  # noqa: E402
from digest.runfolder import write_manifest  # noqa: E402
from digest.config import Settings  # noqa: E402
from digest.sources.contract import FILES, Dataset  # noqa: E402
from digest.weeks import IsoWeek  # noqa: E402

WEEK = IsoWeek.parse("2026-W47")
T = dt.datetime(2026, 11, 17, 9, tzinfo=dt.timezone.utc)
D = dt.date(2026, 1, 1)


def build(sellers: int, accounts: int, mails: int, rng: random.Random):
    seller_ids = [f"s{i}@contoso.com" for i in range(sellers)]
    rows = {k: [] for k in ("people", "accounts", "contacts", "assignments", "mails", "mail_recipients")}
    for s in seller_ids:
        rows["people"].append({"PersonId": s, "EffectiveDate": D, "ManagerId": None, "Organization": "Sales", "LevelDesignation": "IC"})
    for a in range(accounts):
        rows["accounts"].append({"AccountId": f"ACC-{a}", "AccountName": f"Account {a} Holdings", "AccountsStartDate": D})
        for c in range(5):
            rows["contacts"].append({"ContactsAccountId": f"ACC-{a}", "ContactId": f"C{a}-{c}", "ContactName": f"Contact {a} {c}",
                                     "ContactEmail": f"c{c}@acc{a}.example", "ContactsStartDate": D})
    used, shown = {}, {}
    for i, s in enumerate(seller_ids):
        mine = [rng.randrange(accounts) for _ in range(3)]
        rows["assignments"].append({"SellerAssignmentAccountId": f"ACC-{mine[0]}", "SellerAssignmentStartDate": D, "SellerEmail": s})
        used[s], shown[s] = [], mine
        for m in range(mails):
            mid = f"<{i}.{m}@contoso.com>"
            rows["mails"].append({"MailId": mid, "SentTime": T, "Sender": s})
            a = mine[m % 3]
            rows["mail_recipients"].append({"MailId": mid, "Email": f"c{m % 5}@acc{a}.example", "Kind": "to"})
            used[s].append(("mail", mid))
    tables = {}
    for spec in FILES:
        schema = spec.arrow_schema()
        tables[spec.key] = pa.Table.from_pylist([{c: r.get(c) for c in schema.names} for r in rows.get(spec.key, [])], schema=schema)
    return Dataset(**tables), used, shown


def write_emails(root: Path, shown: dict[str, list[int]]) -> None:
    import json

    folder = root / "emails" / "0000"
    folder.mkdir(parents=True)
    cards = []
    for s, accts in shown.items():
        msg = EmailMessage()
        msg["To"], msg["From"], msg["Subject"] = s, "insights@contoso.com", "Your week"
        names = ", ".join(f"Account {a} Holdings" for a in accts)
        msg.set_content(f"Time with {names}. Contact {accts[0]} 1 replied.")
        (folder / f"{s}.eml").write_bytes(bytes(msg))
        cards.append({"seller": s, "time_with_customers": {"accounts": [{"account_id": f"ACC-{a}"} for a in accts]},
                      "internal_networks": {"groups": []}})
    write_manifest(folder, [(s, f"{s}.eml") for s in shown])
    (root / "cards.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cards))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sellers", type=int, default=2000)
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--mails", type=int, default=30)
    args = ap.parse_args()
    rng = random.Random(7)
    t0 = time.perf_counter()
    dataset, used, shown = build(args.sellers, args.accounts, args.mails, rng)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings().replace("runs", folder=f"{tmp}/runs").replace("privacy", audit_salt="b" * 64)
        root = Path(tmp) / "runs" / str(WEEK)
        write_emails(root, shown)
        t2 = time.perf_counter()
        n = audit.record_emails(settings, WEEK, "0000", dataset, used)
        t3 = time.perf_counter()
        result = audit.gate(settings, WEEK, dataset)
        t4 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"sellers={args.sellers} accounts={args.accounts} contacts={args.accounts * 5} mails={args.sellers * args.mails}")
    print(f"build data      {t1 - t0:7.2f} s")
    print(f"record_emails   {t3 - t2:7.2f} s  ({n} records, {1000 * (t3 - t2) / max(n, 1):.2f} ms/email)")
    print(f"gate            {t4 - t3:7.2f} s  (passed {len(result.passed)}, blocked {len(result.blocked)}, "
          f"{1000 * (t4 - t3) / max(n, 1):.2f} ms/email)")
    print(f"peak RSS        {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
