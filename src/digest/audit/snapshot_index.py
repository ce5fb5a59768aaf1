"""The snapshot index of a run (digest.audit.scope.SnapshotIndex), computed once and shared.

Every record step (once per batch) and every gate (once per cohort) needs the same seller-independent
facts about the snapshot: every known address, name and account id, the excluded interactions,
names and groups. They are derived once per run by the audit's own queries (never from metrics),
kept in this process, and written to ``runs/<week>/.work/audit/index-<fingerprint>.json`` so the
DAG's tasks (separate processes) read them instead of deriving them again.

The file holds identifiers, so it is sealed like the messages on real data (purged with them, as
part of ``.work``), and carries an HMAC with the audit salt: a file that was changed, or that was
made from other inputs or settings, is ignored and derived again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from digest.audit.scope import SnapshotIndex, Universe, index_snapshot
from digest.config import Settings
from digest.errors import InputError
from digest.runfolder import RunFolder
from digest.sealed import opener, sealing_key, write_message
from digest.sources.contract import Dataset
from digest.weeks import IsoWeek

INDEX_DIR = ".work/audit"
_memo: dict[str, SnapshotIndex] = {}  # fingerprint -> index, the latest one only
FORMAT = 2  # bump when SnapshotIndex gains or changes a field (2: contact_names): older files are derived again


def fingerprint(dataset: Dataset, settings: Settings) -> str | None:
    """What the index depends on: the snapshot's file hashes and the settings the audit reads (None: not from files)."""
    files = {k: v.get("sha256") for k, v in dataset.origin.items()}
    if not files or not all(files.values()):
        return None
    p, m = settings.privacy, settings.metrics
    wanted = {"format": FORMAT, "files": files, "excluded_domains": list(p.excluded_domains), "excluded_addresses": list(p.excluded_addresses),
              "internal_domains": list(m.internal_domains), "group_attribute": m.group_attribute}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def snapshot_index(settings: Settings, week: IsoWeek, dataset: Dataset, salt: bytes) -> SnapshotIndex:
    """The run's snapshot index: from this process, else from the run folder, else derived (and written there)."""
    key = fingerprint(dataset, settings)
    if key is None:  # a dataset built in memory (tests): nothing to recognise it by, derive it
        return index_snapshot(dataset, settings)
    if key in _memo:
        return _memo[key]
    path = RunFolder.for_week(settings.runs.folder, str(week)).root / INDEX_DIR / f"index-{key[:32]}.json"
    index = _read(settings, week, path, key, salt)
    if index is None:
        index = index_snapshot(dataset, settings)
        _write(settings, week, path, key, salt, index)
    _memo.clear()
    _memo[key] = index
    return index


def _mac(salt: bytes, body: bytes) -> str:
    return hmac.new(salt, b"snapshot-index\n" + body, hashlib.sha256).hexdigest()


def _write(settings: Settings, week: IsoWeek, path: Path, key: str, salt: bytes, index: SnapshotIndex) -> None:
    u = index.universe
    doc = {"fingerprint": key, "emails": sorted(u.emails), "account_ids": sorted(u.account_ids), "names": sorted(u.names),
           "longest": u.longest, "joiners": sorted(u.joiners), "excluded": [list(x) for x in index.excluded],
           "account_names": {k: sorted(v) for k, v in index.account_names.items()},
           "person_names": {k: sorted(v) for k, v in index.person_names.items()},
           "groups": index.groups, "internal": list(index.internal),
           "contact_names": {k: sorted(v) for k, v in index.contact_names.items()}}
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_message(path, _mac(salt, body).encode() + b"\n" + body, sealing_key(settings, str(week)))


def _read(settings: Settings, week: IsoWeek, path: Path, key: str, salt: bytes) -> SnapshotIndex | None:
    sealed = path.with_name(path.name + ".sealed")
    source = sealed if sealed.is_file() else path
    try:
        data = opener(settings, str(week))(source)
    except (InputError, OSError):  # absent, or sealed with another key / changed: derive again
        return None
    mac, _, body = data.partition(b"\n")
    if not hmac.compare_digest(mac.decode("ascii", "replace"), _mac(salt, body)):
        return None
    doc = json.loads(body)
    if doc.get("fingerprint") != key or "joiners" not in doc:  # an index written before the name breaks: derive again
        return None
    universe = Universe(frozenset(doc["emails"]), frozenset(doc["account_ids"]), frozenset(doc["names"]), int(doc["longest"]),
                        frozenset(doc["joiners"]))
    return SnapshotIndex(universe, tuple(tuple(x) for x in doc["excluded"]),
                         {k: tuple(v) for k, v in doc["account_names"].items()}, {k: tuple(v) for k, v in doc["person_names"].items()},
                         dict(doc["groups"]), tuple(doc["internal"]),
                         {k: tuple(v) for k, v in doc["contact_names"].items()})
