"""What the audit finds in one message (its recipients, the hashes of its parts, the known identifiers in it), read once.

The record step and the gate both read every message back (digest.audit.reading) and look for the
identifiers the snapshot knows in it (digest.audit.scope.find_identifiers): for one run in one
process that was the same parse twice per email, about a third of the audit's time. Reading is a pure
function of the message's bytes and the snapshot's :class:`~digest.audit.scope.Universe`, so
:func:`found` keeps its result per (SHA-256 of the bytes, universe) for the process's last
:data:`KEPT` messages: the gate then checks the very bytes it opened against what the same audit code
found in them, and a message that changed after it was recorded (other bytes, another hash) is
read again. Only what the checks use is kept (no HTML, no text): addresses and names of people the
message shows, as the audit reads them anyway, never written anywhere by this module.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from digest.audit.reading import read_email
from digest.audit.scope import Universe, find_identifiers

KEPT = 10_000  # messages remembered per process (a cohort's emails go from its record step to its gate; ~1 KB each)


@dataclass(frozen=True)
class Found:
    """One message as the audit's checks use it."""

    sha256: str  # of the message's bytes (the plaintext of a sealed one)
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    html_sha256: str
    text_sha256: str
    addresses: frozenset[str]  # known addresses a reader can see (digest.audit.scope.find_identifiers)
    names: frozenset[str]  # known names and ids a reader can see


_kept: OrderedDict[str, tuple[Universe, Found]] = OrderedDict()


def found(path: Path, data: bytes, universe: Universe) -> Found:
    """What the audit finds in the message `data` (read from `path`) given the snapshot's identifiers."""
    digest = hashlib.sha256(data).hexdigest()
    hit = _kept.get(digest)
    if hit is not None and hit[0] is universe:
        _kept.move_to_end(digest)
        return hit[1]
    content = read_email(path, data)
    addresses, names = find_identifiers(content, universe)
    result = Found(digest, content.to, content.cc, content.bcc, _sha256(content.html), _sha256(content.text),
                   frozenset(addresses), frozenset(names))
    _kept[digest] = (universe, result)
    while len(_kept) > KEPT:
        _kept.popitem(last=False)
    return result


def forget() -> None:
    """Drop every kept reading (tests; a process that wants its memory back)."""
    _kept.clear()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
