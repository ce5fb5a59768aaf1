"""Benchmark: reading the audit chain as a weekly run does, whole file each time against the process's index.

A run in one process appends each render batch's records to runs/<week>/audit.jsonl and gates each
cohort after its batches; every gate verifies the whole chain. This builds a chain the size of a
20,000-seller week (records of ~1,000 hashed interactions, ~45 KB each, as a real run writes them),
appended cohort by cohort, and times each gate's read both ways: read_records + verify_chain +
effective_records of the whole file (what every gate did), and digest.audit.chain.chain_index
(verified: the SHA-256 of the bytes read before, then only the appended records). The appending
side (chain_tail before each batch) is timed too. Prints one table; both ways must agree.

    .venv/bin/python bench/bench_audit_chain.py [--sellers 20000] [--cohorts 9] [--batch 200] [--interactions 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

from digest.audit.chain import GENESIS, chain_index, record_hash
from digest.audit.records import chain_tail, effective_records, read_records, verify_chain

_EMAIL_FIELD = b'"email": "'


def scanned_tail(path: Path, emails: set[str]) -> tuple[int, str]:
    """The appending side before the index (seller-digest at f5f0f13): every line of the file scanned per
    batch, only the batch's own records and the last one parsed."""
    count, last = 0, None
    if not path.is_file():
        return 0, GENESIS
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            count, last = count + 1, line
            at = line.find(_EMAIL_FIELD)
            value = line[at + len(_EMAIL_FIELD):line.find(b'"', at + len(_EMAIL_FIELD))]
            if value.decode() in emails:
                json.loads(line)
    return count, (GENESIS if last is None else json.loads(last).get("hash", ""))


def _record(seller: int, batch: int, interactions: int, prev: str, seq: int) -> dict:
    salt = f"{seller}".encode()
    rec = {"week": "2026-W47", "batch": f"{batch:04d}", "email": f"emails/{batch:04d}/{seller:06d}.eml",
           "recipient": f"seller{seller}@contoso.com", "subject": f"seller{seller}@contoso.com",
           "interactions": sorted(hashlib.sha256(salt + i.to_bytes(4, "big")).hexdigest()[:32] for i in range(interactions)),
           "accounts": [f"A{seller % 997}-{k}" for k in range(6)], "groups": ["Sales", "Engineering"],
           "people": sorted(hashlib.sha256(salt + b"p" + bytes([k])).hexdigest()[:32] for k in range(40)),
           "html_sha256": "0" * 64, "text_sha256": "1" * 64, "eml_sha256": "2" * 64, "sealed": True, "preview": False,
           "settings": {"excluded_domains": [], "excluded_addresses": [], "min_group_size": 5, "gate_mode": "email"},
           "code_version": "bench", "seq": seq, "supersedes": None, "prev": prev}
    rec["hash"] = record_hash(rec)
    return rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=20_000)
    parser.add_argument("--cohorts", type=int, default=9)
    parser.add_argument("--batch", type=int, default=200, help="records appended per render batch")
    parser.add_argument("--interactions", type=int, default=1000, help="hashed interactions per record")
    args = parser.parse_args()
    per_cohort = -(-args.sellers // args.cohorts)
    whole = index = tail_whole = tail_index = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        path = Path(tmp) / "audit.jsonl"
        prev, seq, seller = GENESIS, 0, 0
        for cohort in range(args.cohorts):
            end = min(args.sellers, seller + per_cohort)
            cohort_emails = {f"emails/{s // args.batch:04d}/{s:06d}.eml" for s in range(seller, end)}
            while seller < end:
                emails = {f"emails/{seller // args.batch:04d}/{s:06d}.eml" for s in range(seller, min(end, seller + args.batch))}
                began = time.perf_counter()
                count, tail, _ = chain_tail(path, emails)
                tail_index += time.perf_counter() - began
                began = time.perf_counter()
                assert scanned_tail(path, emails) == (count, tail)
                tail_whole += time.perf_counter() - began
                lines = []
                for s in range(seller, min(end, seller + args.batch)):
                    seq += 1
                    rec = _record(s, s // args.batch, args.interactions, prev, seq)
                    prev = rec["hash"]
                    lines.append(json.dumps(rec, sort_keys=True, ensure_ascii=False))
                with path.open("a", encoding="utf-8") as f:
                    f.write("".join(line + "\n" for line in lines))
                seller += len(lines)
            began = time.perf_counter()
            records = read_records(path)
            problems, latest = verify_chain(records), effective_records(records)
            whole += time.perf_counter() - began
            began = time.perf_counter()
            chain = chain_index(path, verified=True)
            got = chain.records(cohort_emails)  # a gate parses its cohort's records
            index += time.perf_counter() - began
            assert (chain.count, chain.problems, got) == (len(records), problems, {e: latest[e] for e in cohort_emails})
            print(f"gate {cohort + 1}: {len(records):>7,} records, {path.stat().st_size / 2**20:8.1f} MiB", flush=True)
    print(f"\naudit chain of {args.sellers:,} records in {args.cohorts} cohorts ({args.interactions:,} interactions a record)")
    print(f"{'':34}{'whole file':>12}{'index':>10}")
    print(f"{'gates: read + verify (s)':34}{whole:12.1f}{index:10.1f}")
    print(f"{'appends: chain tail (s)':34}{tail_whole:12.1f}{tail_index:10.1f}")
    print("(the index's figures include verifying each appended record once and parsing each gate's records)")


if __name__ == "__main__":
    main()
