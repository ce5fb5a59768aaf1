"""The privacy audit (CONTRACT.md §7): a chained manifest per email, and the gate before delivery.

``record_emails`` writes one record per rendered email to ``runs/<week>/audit.jsonl``: who it is
for, the salted hashes of the interactions it was built from and of the people it names, the
accounts and groups it shows, hashes of its HTML and text, the settings and the code version.
Each record holds the hash of the previous one, so editing or removing a record is detectable.

``gate`` re-derives every seller's scope from the input snapshot (``digest.audit.scope``), reads
each .eml back, and blocks any email that breaks a rule; delivery reads ``audit_gate.json``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from digest import __version__
from digest.audit.chain import GENESIS, chain_index, record_hash, record_problems
from digest.audit.derive import Scopes
from digest.audit.found import found
from digest.audit.scope import Scope, SnapshotIndex, Universe, outside
from digest.audit.snapshot_index import fingerprint, snapshot_index
from digest.cards import lines_of
from digest.config import Settings
from digest.sources.contract import Dataset
from digest.errors import ConfigError, InputError
from digest.sources.exclusions import connect, normalized_rules
from digest.sources.optouts import link_optouts
from digest.runfolder import RunFolder
from digest.sealed import is_sealed, opener, stored_secret
from digest.weeks import IsoWeek

GATE_FILE = "audit_gate.json"
SCOPE_CHUNK = 500  # sellers whose scopes the gate derives at a time
HASHES_KEPT = 500_000  # interaction hashes a gate keeps for its later sellers (~100 MB at most)
# Every rule of the gate, in the order they are reported (docs/privacy.md explains each).
RULES = ("manifest", "integrity", "recipient", "interactions", "identifiers", "opt_out", "group_size")


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict for one run: who may be sent, who is blocked and by which rules."""

    week: str
    passed: tuple[str, ...]
    blocked: Mapping[str, tuple[str, ...]]
    chain_ok: bool
    path: str

    def to_xcom(self) -> dict[str, Any]:
        return {"step": "audit_gate", "week": self.week, "counts": {"passed": len(self.passed), "blocked": len(self.blocked),
                "chain_ok": int(self.chain_ok)}, "paths": [self.path]}


# --- hashing ----------------------------------------------------------------------------------

def audit_salt(settings: Settings) -> bytes:
    """The salt of every audit hash: the setting, else <store>/audit_salt made once (never logged)."""
    if settings.privacy.audit_salt:
        return settings.privacy.audit_salt.encode()
    return stored_secret(settings.data.store, "audit_salt")  # earlier records cannot be matched with a new one


def hash_value(salt: bytes, value: str) -> str:
    """A salted hash of an identifier: equal ids give equal hashes, but ids cannot be read back.

    HMAC-SHA256 from a copy of the keyed state (the key is not prepared again for each of the
    millions of interaction ids a run hashes: ~40 % quicker, the same digest)."""
    h = _keyed(salt).copy()
    h.update(value.encode())
    return h.hexdigest()[:32]


@lru_cache(maxsize=8)
def _keyed(salt: bytes) -> hmac.HMAC:
    return hmac.new(salt, digestmod=hashlib.sha256)


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


# --- the manifest -----------------------------------------------------------------------------

def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of an audit.jsonl file in order (a line that is not JSON becomes a broken record)."""
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"_unreadable": n})
    return out


def chain_tail(path: Path, emails: set[str]) -> tuple[int, str, dict[str, dict[str, Any]]]:
    """What appending records needs, as read_records and effective_records would give it: how many records
    the file holds, the last one's hash (GENESIS for none), and the newest record of each of `emails`.

    From the process's index of the chain (digest.audit.chain): only the lines appended since the last
    call are read, and only those emails' records are parsed (reading the whole run's chain for every
    batch grew with the square of the sellers)."""
    index = chain_index(path, verified=False)
    return index.count, index.tail_hash, index.records(emails)


def verify_chain(records: list[dict[str, Any]]) -> list[str]:
    """Problems of the chain (empty when intact): edited, reordered, inserted or unreadable records."""
    problems, prev = [], GENESIS
    for n, rec in enumerate(records, start=1):
        found_here, prev = record_problems(n, None if "_unreadable" in rec else rec, prev)
        problems += found_here
    return problems


def effective_records(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest record per email file: a re-rendered email supersedes its older record."""
    return {rec["email"]: rec for rec in records if "email" in rec}


def preview_path(eml: Path) -> Path:
    """Where the HTML preview of a rendered message would be (written only for sample data or on request)."""
    stem = eml.name.removesuffix(".sealed").removesuffix(".eml")
    return eml.with_name(f"{stem}.html")


def batch_subjects(settings: Settings, week: IsoWeek, batch: str) -> list[str]:
    """The sellers whose cards a rendered batch's emails carry (the pipeline asks metrics what each used)."""
    run = RunFolder.for_week(settings.runs.folder, str(week))
    emails = _batch_emails(run, week, batch)
    cards = _cards(run, emails)
    return sorted(s for s in emails if s in cards)


def reader_ahead(settings: Settings, week: IsoWeek, dataset: Dataset) -> Callable[[bytes], None]:
    """Read each message as the record step and the gate will (digest.audit.found), given its bytes as it is
    written: a run in one process reads them while the render workers draw the next ones, not after."""
    universe = snapshot_index(settings, week, dataset, audit_salt(settings)).universe

    def read(data: bytes) -> None:
        found(Path("<rendering>"), data, universe)

    return read


def record_emails(settings: Settings, week: IsoWeek, batch: str, dataset: Dataset,
                  used: Mapping[str, Iterable[tuple[str, str]]]) -> int:
    """Write the records of a batch given each seller's used interactions as (kind, id) pairs."""
    run = RunFolder.for_week(settings.runs.folder, str(week))
    emails = _batch_emails(run, week, batch)
    cards = _cards(run, emails)
    subjects = {path: (seller if seller in cards else None) for seller, path in emails.items()}
    salt = audit_salt(settings)
    hashed = {s.lower(): sorted({hash_value(salt, f"{k}:{i}") for k, i in pairs}) for s, pairs in used.items()}
    universe = snapshot_index(settings, week, dataset, salt).universe  # the same for every batch of the run
    read = opener(settings, str(week))  # sealed messages are opened here, hashed as plaintext, never written out
    drafts = [_draft(path, read(path), run, subjects[path], cards, hashed, universe, salt, settings, week, batch)
              for path in subjects]
    with run.locked("audit.lock"):  # batches are recorded by parallel workers: one appender keeps the chain linear
        count, prev, latest = chain_tail(run.audit, {d["email"] for d in drafts})
        lines = []
        for draft in drafts:
            draft["seq"] = count + len(lines) + 1
            draft["supersedes"] = latest[draft["email"]]["hash"] if draft["email"] in latest else None
            draft["prev"] = prev
            draft["hash"] = prev = record_hash(draft)
            lines.append(json.dumps(draft, sort_keys=True, ensure_ascii=False))
        with run.audit.open("a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in lines))
            out.flush()
            os.fsync(out.fileno())
    return len(drafts)


def _batch_emails(run: RunFolder, week: IsoWeek, batch: str) -> dict[str, Path]:
    """Seller -> .eml of a rendered batch, from its manifest (a file name never says whom an email is for)."""
    folder = run.emails / batch
    if not folder.is_dir():
        raise InputError(f"{folder} does not exist: render batch {batch} of {week} before recording its audit.")
    return run.rendered(batch)


def _cards(run: RunFolder, sellers: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The cards of `sellers` (lower-case) by seller, as written (only their lines of the run's file are parsed)."""
    if not run.cards.is_file():
        raise InputError(f"{run.cards} is missing: run the cards step before the audit.")
    wanted = set(sellers)
    docs = (json.loads(line) for line in lines_of(run.cards, lambda seller: seller.lower() in wanted))
    return {who: d for who, d in ((d["seller"].lower(), d) for d in docs) if who in wanted}


def _shown(card: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    if not card:
        return [], []
    accounts = {a["account_id"] for key in ("time_with_customers", "depth_of_engagement", "leadership", "relationship")
                for a in (card.get(key) or {}).get("accounts", [])}
    groups = {g["group"] for g in card.get("internal_networks", {}).get("groups", [])}
    return sorted(accounts), sorted(groups)


def _named_people(card: Mapping[str, Any] | None) -> list[str]:
    """The people a card names one by one: the relationship card's most contacted (CONTRACT.md §8)."""
    relationship = (card or {}).get("relationship") or {}
    return sorted({p for a in relationship.get("accounts", []) for p in a.get("most_contacted", [])})


def _draft(path: Path, data: bytes, run: RunFolder, subject: str | None, cards: Mapping[str, Any], used: Mapping[str, list[str]],
           universe: Universe, salt: bytes, settings: Settings, week: IsoWeek, batch: str) -> dict[str, Any]:
    content = found(path, data, universe)
    accounts, groups = _shown(cards.get(subject) if subject else None)
    domains, excluded = normalized_rules(settings)
    return {
        "week": str(week), "batch": batch, "email": path.relative_to(run.root).as_posix(),
        "recipient": ",".join(content.to), "subject": subject,
        "interactions": list(used.get(subject, [])) if subject else [],
        "accounts": accounts, "groups": groups,
        "people": sorted({hash_value(salt, v) for v in content.addresses | content.names}),
        "html_sha256": content.html_sha256, "text_sha256": content.text_sha256,
        "eml_sha256": content.sha256,  # of the plaintext: the bytes Graph sends, sealed at rest or not
        "sealed": is_sealed(path), "preview": preview_path(path).is_file(),
        "settings": {"excluded_domains": domains, "excluded_addresses": [hash_value(salt, a) for a in excluded],
                     "min_group_size": settings.privacy.min_group_size, "gate_mode": settings.privacy.gate_mode},
        "code_version": __version__,
    }


# --- the gate ---------------------------------------------------------------------------------

def gate(settings: Settings, week: IsoWeek, dataset: Dataset, sellers: Iterable[str] | None = None) -> GateResult:
    """Check rendered emails against the rules; write audit_gate.json (delivery obeys it).

    `sellers`: check only their emails (one cohort's), keeping every other seller's verdict from the
    gate's last run while that seller's audit record is the one it checked. Cohorts deliver side by
    side: a gate that re-opened every email of the run would race another cohort's deletion of its
    sent files. The caller serialises gates (each one merges into the last one's file).
    """
    run = RunFolder.for_week(settings.runs.folder, str(week))
    rendered = run.rendered()  # seller -> .eml, from the render manifests
    before, verified_before, checked_before = _previous_results(run)
    results: dict[str, dict[str, str]] = {}
    verified: dict[str, str] = {}
    checked: dict[str, str] = {}
    with run.locked("audit.lock"):  # another cohort's render may be appending: never read half a record
        # The whole chain verified (this process reads only what was appended since it last did, after
        # checking the SHA-256 of what it read then: digest.audit.chain); the records read below are those.
        chain = chain_index(run.audit, verified=True)
        if sellers is not None:  # the others keep the verdict on the very record they were checked with
            wanted = {s.lower() for s in sellers}
            for who, path in rendered.items():
                if who in wanted or who not in before:
                    continue
                record_hash_now = chain.hash_of(path.relative_to(run.root).as_posix())
                if checked_before.get(who) is not None and checked_before.get(who) == record_hash_now:
                    results[who], checked[who] = before[who], checked_before[who]
                    if who in verified_before:
                        verified[who] = verified_before[who]
            rendered = {who: path for who, path in rendered.items() if who in wanted or (who not in results and who in before)}
        latest = chain.records(path.relative_to(run.root).as_posix() for path in rendered.values())
    problems = list(chain.problems)
    emails = sorted(rendered.values())
    cards = _cards(run, rendered)  # the gate's sellers' only
    keys = {path: seller for seller, path in rendered.items()}
    salt = audit_salt(settings)
    index = snapshot_index(settings, week, dataset, salt)
    org = {p.lower() for p in dataset.people.column("PersonId").to_pylist() if p}
    refused = {p.lower() for p in dataset.optouts.column("PersonId").to_pylist() if p}
    domains, addresses = normalized_rules(settings)
    read = opener(settings, str(week))
    deleted = run.deleted_after_delivery()
    context = _context(dataset, settings, salt)
    hashed: dict[str, str] = {}
    # One DuckDB pass over the snapshot for all of the gate's sellers (when an email needs checking), sets per chunk.
    with Scopes(dataset, settings, week, keys.values(), index) as scoped:
        for i in range(0, len(emails), SCOPE_CHUNK):  # a chunk of messages at a time: memory stays flat with many emails
            pending = []
            for path in emails[i:i + SCOPE_CHUNK]:
                rel, who = path.relative_to(run.root).as_posix(), keys[path]
                checked[who] = (latest.get(rel) or {}).get("hash")
                data = None if rel in deleted else _opened(read, path)
                if data is None and who in before and (rel in deleted or rel in run.deleted_after_delivery()):
                    results[who] = before[who]  # sent, then deleted (even while this gate ran): the verdict it was sent on stands
                    continue
                check = _verdict_key(salt, context, latest.get(rel), data, cards.get(who))
                if check is not None and verified_before.get(who) == check:  # passed with these very bytes, record and inputs
                    verified[who] = check
                    _verdict(results, who, set(), refused, addresses, domains)
                else:
                    pending.append((path, rel, who, data, check))
            if not pending:
                continue
            scopes = scoped.of([who for _, _, who, _, _ in pending])
            for path, rel, who, data, check in pending:
                failed = _check(path, data, latest.get(rel), who, scopes[who], index.universe, salt, cards, org, settings, hashed)
                if not failed and check is not None:
                    verified[who] = check
                _verdict(results, who, failed, refused, addresses, domains)
    blocked = {who: tuple(r for r in RULES if res[r] == "fail") for who, res in results.items() if "fail" in res.values()}
    if problems:  # a broken chain means no record can be trusted: nothing goes out
        blocked = {who: tuple(blocked.get(who, ())) + ("chain",) for who in results}
    elif blocked and settings.privacy.gate_mode == "run":
        blocked = {who: blocked.get(who, ("run",)) for who in results}
    passed = tuple(sorted(who for who in results if who not in blocked))
    doc = {"week": str(week), "mode": settings.privacy.gate_mode, "chain_ok": not problems, "chain_problems": problems,
           "chain_head": chain.head if chain.count else GENESIS, "records": chain.count,
           "passed": list(passed), "blocked": {k: list(v) for k, v in sorted(blocked.items())}, "results": results,
           "exclusions": _exclusion_counts(dataset, settings, refused, index), "verified": dict(sorted(verified.items())),
           "checked_records": dict(sorted((k, v) for k, v in checked.items() if v and k in results))}
    path = run.root / GATE_FILE
    tmp = path.with_suffix(".tmp")
    # One line: with an indent the json module encodes in Python (~5x slower), and the file holds every
    # seller's results for every cohort's gate to read and write again.
    tmp.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return GateResult(str(week), passed, blocked, not problems, str(path))


def _previous_results(run: RunFolder) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, str]]:
    """The rule results of the gate's last run (for messages sent and deleted since: a later cohort's gate keeps them),
    the verdict keys of the emails it passed (an email checked once is not checked again while nothing changed),
    and the hash of the audit record each verdict was given on."""
    path = run.root / GATE_FILE
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return doc.get("results", {}), doc.get("verified", {}), doc.get("checked_records", {})


def _context(dataset: Dataset, settings: Settings, salt: bytes) -> str | None:
    """What a verdict depends on besides the email, its record and its cards: the snapshot and the settings (None: unknown)."""
    snapshot = fingerprint(dataset, settings)
    if snapshot is None:
        return None
    rules = {"snapshot": snapshot, "personal_domains": list(settings.metrics.personal_domains),
             "min_group_size": settings.privacy.min_group_size, "code_version": __version__}
    return hash_value(salt, json.dumps(rules, sort_keys=True))


def _verdict_key(salt: bytes, context: str | None, record: Mapping[str, Any] | None, data: bytes | None,
                 card: Mapping[str, Any] | None) -> str | None:
    """An HMAC (audit salt) of everything one email's checks read, so a passed verdict is reused only for the very same
    bytes, record, cards and inputs, and cannot be forged without the salt; None: always check."""
    digest = _sha256(data) if data is not None else None
    if context is None or record is None or digest is None or card is None or record.get("eml_sha256") != digest:
        return None
    card_hash = _sha256(json.dumps(card, sort_keys=True, ensure_ascii=False))
    return hash_value(salt, "\n".join([context, str(record.get("hash")), digest, card_hash]))


def _verdict(results: dict[str, dict[str, str]], who: str, failed: set[str], refused: set[str], addresses, domains) -> None:
    if who in refused or who in addresses or who.split("@")[-1] in domains:  # opt-outs: read again by every gate
        failed = failed | {"opt_out"}
    results[who] = {rule: ("fail" if rule in failed else "pass") for rule in RULES}


def _check(path: Path, data: bytes | None, record: Mapping[str, Any] | None, who: str, scope: Scope, universe: Universe, salt: bytes,
           cards: Mapping[str, Any], org: set[str], settings: Settings, hashed: dict[str, str] | None = None) -> set[str]:
    """The rules `who`'s email fails. `hashed`: salted hashes of interactions already made by this gate
    (sellers of a cohort share many interactions: each is hashed once, not once per seller in it)."""
    if data is None:  # a sealed message that does not open was changed after rendering
        return {"integrity"}
    content = found(path, data, universe)  # read once per process: the record step read these very bytes just before
    failed = set()
    if record is None:
        failed.add("manifest")
    elif record.get("eml_sha256") != content.sha256 or record.get("subject") != who:
        failed.add("integrity")
    if content.to != (who,) or content.cc or content.bcc or who not in cards or who not in org:
        failed.add("recipient")
    hashed = {} if hashed is None else hashed
    if len(hashed) > HASHES_KEPT:
        hashed.clear()
    allowed = {hashed.get(i) or hashed.setdefault(i, hash_value(salt, i)) for i in scope.interactions}
    if record is not None and not set(record.get("interactions", [])) <= allowed:
        failed.add("interactions")
    accounts, groups = _shown(cards.get(who))
    strangers = [p for p in _named_people(cards.get(who)) if not scope.met(p)]
    leaked_addresses, leaked_names = outside(content.addresses, content.names, scope)
    if (leaked_addresses or leaked_names or strangers or not set(accounts) <= scope.accounts
            or not all(g in scope.groups for g in groups)):
        failed.add("identifiers")
    floor = max(5, settings.privacy.min_group_size)
    sizes = list(_group_sizes(cards.get(who, {})))
    if record is not None and int(record.get("settings", {}).get("min_group_size", 0)) < 5 or any(s < floor for s in sizes):
        failed.add("group_size")
    return failed


def _opened(read, path: Path) -> bytes | None:
    try:
        return read(path)
    except (InputError, OSError):
        return None


def _group_sizes(node: Any) -> Iterable[int]:
    """Sizes of the peer groups behind any comparison in a card (fields named *group_size)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("group_size") and isinstance(value, (int, float)):
                yield int(value)
            else:
                yield from _group_sizes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _group_sizes(item)


def _exclusion_counts(dataset: Dataset, settings: Settings, refused: set[str], index: SnapshotIndex) -> dict[str, Any]:
    con = connect(dataset)
    try:
        sellers = {r[0] for r in con.execute("SELECT DISTINCT lower(SellerEmail) FROM assignments").fetchall()}
    finally:
        con.close()
    counts: dict[str, Any] = {"excluded_domain": {}, "excluded_address": {}}
    for kind, _, reason in index.excluded:
        bucket = counts[reason]
        bucket[kind] = bucket.get(kind, 0) + 1
    counts["opted_out_sellers"] = len(sellers & refused)
    counts["opted_out_by_link"] = len(sellers & link_optouts(settings))
    return counts


def current_optouts(settings: Settings) -> frozenset[str]:
    """The opt-outs as they are now: the data folder's optouts.csv and the link's log (read again at send time, lower-case)."""
    path = Path(settings.data.folder) / "optouts.csv"
    by_link = link_optouts(settings)
    if not path.is_file():
        return by_link
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if "PersonId" not in (reader.fieldnames or []):
            raise InputError(f"{path}: no PersonId column (found {', '.join(reader.fieldnames or []) or 'nothing'}). "
                             "Write a header line 'PersonId' and one address per line.")
        return by_link | {row["PersonId"].strip().lower() for row in reader if (row.get("PersonId") or "").strip()}


def send_block_reason(settings: Settings, week: IsoWeek | str, recipient: str, optouts: Iterable[str] = ()) -> str | None:
    """Why `recipient` must not be sent now (None = may be sent): the gate's verdict and the opt-outs at send time."""
    who = recipient.lower()
    if who in {o.lower() for o in optouts}:
        return "opted out"
    path = RunFolder.for_week(settings.runs.folder, str(week)).root / GATE_FILE
    verdicts = _gate_verdicts(path)
    if verdicts is None:
        return "privacy gate: not run"
    passed, blocked = verdicts
    if who in blocked:
        return "privacy gate: " + ", ".join(blocked[who])
    return None if who in passed else "privacy gate: not audited"


_verdicts: dict[Path, tuple[tuple[int, int, int], tuple[frozenset[str], dict[str, list[str]]]]] = {}


def _gate_verdicts(path: Path) -> tuple[frozenset[str], dict[str, list[str]]] | None:
    """(passed, blocked) of a gate file, read again only when the file changed (the gate replaces it whole).

    Delivery asks once per email, just before sending it: parsing the run's whole verdict file each time
    grew with the square of the sellers (20,000 emails x a 20,000-seller file)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _verdicts.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    doc = json.loads(path.read_text(encoding="utf-8"))
    verdicts = (frozenset(doc.get("passed", [])), dict(doc.get("blocked", {})))
    _verdicts.clear()  # one run folder's file at a time
    _verdicts[path] = (stamp, verdicts)
    return verdicts
