"""digest.audit.chain: the process's index of audit.jsonl gives what reading and verifying the whole file gives."""

from __future__ import annotations

import json

import pytest

from digest.audit import chain as chain_module
from digest.audit.chain import GENESIS, chain_index, record_hash
from digest.audit.records import effective_records, read_records, verify_chain


def _chained(records: list[dict], prev: str = GENESIS) -> list[str]:
    lines = []
    for rec in records:
        rec = {**rec, "prev": prev}
        rec["hash"] = prev = record_hash(rec)
        lines.append(json.dumps(rec, sort_keys=True, ensure_ascii=False))
    return lines


def _as_whole_file(path) -> tuple:
    records = read_records(path)
    return len(records), (records[-1].get("hash") if records else None), verify_chain(records), effective_records(records)


def _as_index(path, verified: bool = True) -> tuple:
    index = chain_index(path, verified=verified)
    return index.count, index.head, index.problems, index.records(index.newest)


@pytest.fixture(autouse=True)
def _fresh_indexes(monkeypatch):
    monkeypatch.setattr(chain_module, "_INDEXES", {})


def _appended_bytes(monkeypatch) -> list[int]:
    seen: list[int] = []
    add = chain_module.ChainIndex._add

    def counting(self, data, start):
        seen.append(len(data))
        return add(self, data, start)

    monkeypatch.setattr(chain_module.ChainIndex, "_add", counting)
    return seen


def test_appended_records_are_read_once_and_give_what_the_whole_file_gives(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    assert chain_index(path).count == 0 and chain_index(path).tail_hash == GENESIS
    seen = _appended_bytes(monkeypatch)
    first = _chained([{"email": "emails/0000/a.eml", "n": i} for i in range(3)])
    path.write_text("\n".join(first) + "\n", encoding="utf-8")
    assert _as_index(path) == _as_whole_file(path)
    second = _chained([{"email": "emails/0001/b.eml"}, {"email": "emails/0000/a.eml", "n": 9}], json.loads(first[-1])["hash"])
    with path.open("a", encoding="utf-8") as f:
        f.write("\n".join(second) + "\n")
    assert _as_index(path) == _as_whole_file(path)
    assert seen[1] == len(("\n".join(second) + "\n").encode())  # only the appended lines were read
    index = chain_index(path, verified=False)
    assert index.problems == [] and index.tail_hash == json.loads(second[-1])["hash"]
    assert index.records(["emails/0000/a.eml"])["emails/0000/a.eml"]["n"] == 9


def test_an_earlier_record_edited_in_place_is_found_by_the_verified_read(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = _chained([{"email": f"emails/0000/{c}.eml", "subject": f"{c}@x.com"} for c in "abc"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert chain_index(path).problems == []
    edited = lines[0].replace("a@x.com", "z@x.com")  # same length, same inode, the last line untouched
    assert len(edited) == len(lines[0])
    path.write_text("\n".join([edited, *lines[1:]]) + "\n", encoding="utf-8")
    problems = chain_index(path, verified=True).problems
    assert problems == verify_chain(read_records(path)) == ["record 1: content does not match its hash (the record was edited)"]
    assert _as_index(path) == _as_whole_file(path)


def test_a_replaced_or_shortened_file_is_read_again(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = _chained([{"email": f"emails/0000/{c}.eml"} for c in "abcd"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert chain_index(path, verified=False).count == 4
    path.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")  # shorter
    assert _as_index(path, verified=False) == _as_whole_file(path)
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    other.replace(path)  # another file under the name: the record that follows nothing is reported
    assert _as_index(path) == _as_whole_file(path)
    assert chain_index(path).problems[0].startswith("record 1: does not follow")


def test_half_a_line_at_the_end_is_counted_but_never_kept(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = _chained([{"email": "emails/0000/a.eml"}, {"email": "emails/0000/b.eml"}])
    path.write_text(lines[0] + "\n" + lines[1][:20], encoding="utf-8")
    assert _as_index(path) == _as_whole_file(path)
    assert chain_index(path).problems == ["record 2: not valid JSON (the file was edited)"]
    with path.open("a", encoding="utf-8") as f:
        f.write(lines[1][20:] + "\n")  # the writer finishes its line
    assert _as_index(path) == _as_whole_file(path)
    assert chain_index(path).problems == [] and chain_index(path).count == 2


def test_a_process_keeps_the_index_of_a_few_chains_only(tmp_path):
    paths = [tmp_path / f"{n}.jsonl" for n in range(chain_module.FILES_KEPT + 2)]
    for path in paths:
        path.write_text(_chained([{"email": "emails/0000/a.eml"}])[0] + "\n", encoding="utf-8")
        chain_index(path)
    chain_index(paths[-2])  # read again: the most recent
    kept = list(chain_module._INDEXES)
    assert len(kept) == chain_module.FILES_KEPT and kept[-1] == str(paths[-2].resolve())
    assert str(paths[0].resolve()) not in kept
