"""The cards of one seller for one week (CONTRACT.md §6): value objects and their exact JSON.

``digest.metrics.engine`` builds them, ``digest cards`` writes them as JSON Lines, and the renderer and
the privacy audit read them back with :func:`SellerCards.from_json`. Hours are kept unrounded in
memory and rounded to 2 decimals only when written (CONTRACT.md §5).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, TextIO

from digest.errors import InputError


def _r(value: float | None) -> float | None:
    """Round for writing: 2 decimals, -0.0 shown as 0.0, None kept."""
    if value is None:
        return None
    out = round(float(value), 2)
    return 0.0 if out == 0 else out


def _int(value: int | None) -> int | None:
    return None if value is None else int(value)


def _num(value: float | None) -> float | int | None:
    """Potentials are money: write whole numbers without a trailing .0."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 2)


@dataclass(frozen=True)
class Window:
    start: str  # ISO 8601 with the seller's offset
    end: str


@dataclass(frozen=True)
class Summary:
    collaboration_hours: float
    external_hours: float
    internal_hours: float
    external_pct: float | None
    external_pct_change: float | None
    mail_hours: float
    meeting_hours: float
    call_hours: float
    chat_hours: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "collaboration_hours": _r(self.collaboration_hours),
            "external_hours": _r(self.external_hours),
            "internal_hours": _r(self.internal_hours),
            "external_pct": _r(self.external_pct),
            "external_pct_change": _r(self.external_pct_change),
            "by_channel": {"mail": _r(self.mail_hours), "meeting": _r(self.meeting_hours),
                           "call": _r(self.call_hours), "chat": _r(self.chat_hours)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Summary":
        ch = d["by_channel"]
        return cls(d["collaboration_hours"], d["external_hours"], d["internal_hours"], d["external_pct"],
                   d["external_pct_change"], ch["mail"], ch["meeting"], ch["call"], ch["chat"])


@dataclass(frozen=True)
class AccountTime:
    account_id: str
    account_name: str
    hours: float
    share_pct: float | None
    potential: float | None
    potential_share_pct: float | None
    change_pct: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "account_name": self.account_name, "hours": _r(self.hours),
                "share_pct": _r(self.share_pct), "potential": _num(self.potential),
                "potential_share_pct": _r(self.potential_share_pct), "change_pct": _r(self.change_pct)}


@dataclass(frozen=True)
class TimeWithCustomers:
    accounts: tuple[AccountTime, ...]
    other_external_hours: float

    def to_dict(self) -> dict[str, Any]:
        return {"accounts": [a.to_dict() for a in self.accounts], "other_external_hours": _r(self.other_external_hours)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TimeWithCustomers":
        return cls(tuple(AccountTime(**a) for a in d["accounts"]), d["other_external_hours"])


@dataclass(frozen=True)
class AccountDepth:
    account_id: str
    account_name: str
    engaged_people: int
    engaged_people_default: int
    known_contacts: int

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "account_name": self.account_name,
                "engaged_people": int(self.engaged_people), "engaged_people_default": int(self.engaged_people_default),
                "known_contacts": int(self.known_contacts)}


@dataclass(frozen=True)
class DepthOfEngagement:
    accounts: tuple[AccountDepth, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"accounts": [a.to_dict() for a in self.accounts]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DepthOfEngagement":
        return cls(tuple(AccountDepth(**a) for a in d["accounts"]))


@dataclass(frozen=True)
class GroupHours:
    group: str
    hours: float

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "hours": _r(self.hours)}


@dataclass(frozen=True)
class InternalNetworks:
    attribute: str
    groups: tuple[GroupHours, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "groups": [g.to_dict() for g in self.groups]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InternalNetworks":
        return cls(d["attribute"], tuple(GroupHours(**g) for g in d["groups"]))


@dataclass(frozen=True)
class AccountLeadership:
    account_id: str
    account_name: str
    customer_meeting_hours: float
    leadership_hours: float
    manager_hours: float
    own_hours: float

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "account_name": self.account_name,
                "customer_meeting_hours": _r(self.customer_meeting_hours), "leadership_hours": _r(self.leadership_hours),
                "manager_hours": _r(self.manager_hours), "own_hours": _r(self.own_hours)}


@dataclass(frozen=True)
class Leadership:
    accounts: tuple[AccountLeadership, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"accounts": [a.to_dict() for a in self.accounts]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Leadership":
        return cls(tuple(AccountLeadership(**a) for a in d["accounts"]))


@dataclass(frozen=True)
class WeekActivity:
    """One ISO week of the relationship window: the seller's counted interactions with the account."""

    week: str  # e.g. 2026-W45
    sent: int
    received: int
    meetings: int
    calls: int

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week, "sent": int(self.sent), "received": int(self.received),
                "meetings": int(self.meetings), "calls": int(self.calls)}


@dataclass(frozen=True)
class AccountRelationship:
    """Relationship KPIs of one account over the relationship window (CONTRACT.md §8)."""

    account_id: str
    account_name: str
    emails_sent: int
    emails_received: int
    ratio_by_us: float | None
    ratio_by_them: float | None
    initiated_by_you: int | None  # None: the mails have no ConversationId column
    initiated_by_them: int | None
    response_hours_you: float | None
    response_hours_them: float | None
    last_interaction: str | None  # ISO 8601 with the seller's offset
    next_interaction: str | None
    weekly: tuple[WeekActivity, ...]
    most_contacted: tuple[str, ...]
    health: int
    health_grade: str  # good, fair or poor
    health_change: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "account_name": self.account_name,
                "emails_sent": int(self.emails_sent), "emails_received": int(self.emails_received),
                "ratio_by_us": _r(self.ratio_by_us), "ratio_by_them": _r(self.ratio_by_them),
                "initiated_by_you": _int(self.initiated_by_you), "initiated_by_them": _int(self.initiated_by_them),
                "response_hours_you": _r(self.response_hours_you), "response_hours_them": _r(self.response_hours_them),
                "last_interaction": self.last_interaction, "next_interaction": self.next_interaction,
                "weekly": [w.to_dict() for w in self.weekly], "most_contacted": list(self.most_contacted),
                "health": int(self.health), "health_grade": self.health_grade, "health_change": _int(self.health_change)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AccountRelationship":
        return cls(**{**d, "weekly": tuple(WeekActivity(**w) for w in d["weekly"]), "most_contacted": tuple(d["most_contacted"])})


@dataclass(frozen=True)
class Relationship:
    """The relationship-health card: its window (moved to the first day of data when data is short) and every account."""

    window: Window
    accounts: tuple[AccountRelationship, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"window": {"start": self.window.start, "end": self.window.end}, "accounts": [a.to_dict() for a in self.accounts]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Relationship":
        return cls(Window(d["window"]["start"], d["window"]["end"]), tuple(AccountRelationship.from_dict(a) for a in d["accounts"]))


@dataclass(frozen=True)
class SellerCards:
    """Everything one seller's email shows for one ISO week."""

    seller: str
    week: str
    time_zone: str
    window: Window
    summary: Summary
    time_with_customers: TimeWithCustomers
    depth_of_engagement: DepthOfEngagement
    internal_networks: InternalNetworks
    leadership: Leadership
    locale: str | None = None  # org/people.csv Locale (e.g. de_DE); None = render.default_locale
    relationship: Relationship | None = None  # CONTRACT.md §8; None only in cards written before it existed

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"seller": self.seller, "week": self.week, "time_zone": self.time_zone}
        if self.locale is not None:  # only when the org data has one: cards without it stay byte-identical
            head["locale"] = self.locale
        return {
            **head,
            "window": {"start": self.window.start, "end": self.window.end},
            "summary": self.summary.to_dict(),
            "time_with_customers": self.time_with_customers.to_dict(),
            "depth_of_engagement": self.depth_of_engagement.to_dict(),
            "internal_networks": self.internal_networks.to_dict(),
            "leadership": self.leadership.to_dict(),
            **({"relationship": self.relationship.to_dict()} if self.relationship is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(", ", ": "))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SellerCards":
        return cls(
            seller=d["seller"], week=d["week"], time_zone=d["time_zone"], locale=d.get("locale"),
            window=Window(d["window"]["start"], d["window"]["end"]),
            summary=Summary.from_dict(d["summary"]),
            time_with_customers=TimeWithCustomers.from_dict(d["time_with_customers"]),
            depth_of_engagement=DepthOfEngagement.from_dict(d["depth_of_engagement"]),
            internal_networks=InternalNetworks.from_dict(d["internal_networks"]),
            leadership=Leadership.from_dict(d["leadership"]),
            relationship=Relationship.from_dict(d["relationship"]) if d.get("relationship") is not None else None,
        )

    @classmethod
    def from_json(cls, line: str) -> "SellerCards":
        return cls.from_dict(json.loads(line))


def write_cards(cards: Iterable[SellerCards], out: TextIO) -> int:
    """Write JSON Lines sorted by seller; returns how many were written."""
    n = 0
    for card in sorted(cards, key=lambda c: c.seller):
        out.write(card.to_json() + "\n")
        n += 1
    return n


# write_cards puts the seller first ({"seller": "...", "week": "...", "time_zone": "...", ...}).
_HEAD = re.compile(r'\{"seller": "([^"\\]*)", "week": "[^"\\]*", "time_zone": "([^"\\]*)"')


def card_lines(lines: Iterable[str], keep: Callable[[str], bool] | None = None) -> Iterator[str]:
    """The non-blank lines of a cards file; with `keep`, only those whose seller it keeps, judged from
    the line's start without parsing the JSON (a whole week's file holds every seller of the run, and
    each render batch, audit batch and gate wants a few hundred: parsing all of it each time grew with
    the square of the sellers). A line that does not start as write_cards writes it is always given:
    the caller, which parses what it gets, still checks the seller."""
    for line in lines:
        if not line.strip():
            continue
        if keep is not None:
            head = _HEAD.match(line)
            if head is not None and not keep(head.group(1)):
                continue
        yield line


def lines_of(path: str | os.PathLike, keep: Callable[[str], bool]) -> list[str]:
    """:func:`card_lines` of the cards file at `path` with `keep`, without reading the whole file each time.

    A run's cards file holds every seller (325 MB at 20,000), and each of a run's ~85 render batches read
    it three times for its few hundred sellers. The file's line index (where each seller's line starts,
    lines without a write_cards start kept apart: they are always given) is made once per version of the
    file (inode, size, modification time); each line read through it must start with its seller and end
    its line, else the index is made again, so a changed file is never read through a stale index."""
    for fresh in (False, True):
        index = _line_index(path, fresh)
        out: list[str] = []
        with open(path, "rb") as f:
            for offset, length, seller in sorted((*((o, n, s) for s, spans in index.heads.items() if keep(s) for o, n in spans),
                                                 *((o, n, None) for o, n in index.others))):
                f.seek(max(offset - 1, 0))
                raw = f.read(length + (offset > 0))
                start, raw = (raw[:1], raw[1:]) if offset > 0 else (b"\n", raw)
                if start != b"\n" or len(raw) != length or not (raw.endswith(b"\n") or f.read(1) == b""):
                    break  # the file changed under the index: not a whole line there any more
                line = raw.decode("utf-8")
                head = _HEAD.match(line)
                if (head.group(1) if head is not None else None) != seller:
                    break
                out.append(line)
            else:
                return out
    raise InputError(f"{path} changed while it was read: run the step again.")


def zones_of(path: str | os.PathLike) -> dict[str, str | None]:
    """Seller (as written) → time_zone of every card in the cards file at `path`, as :func:`card_zones` reads
    them, from the file's line index (made once per version of the file; see :func:`lines_of`)."""
    zones = dict(_line_index(path, False).zones)
    for line in lines_of(path, lambda _seller: False):  # only the lines without a write_cards start: parsed
        doc = json.loads(line)
        zones[str(doc["seller"])] = doc.get("time_zone")
    return zones


@dataclass(frozen=True)
class _LineIndex:
    heads: dict[str, tuple[tuple[int, int], ...]]  # seller as written -> (offset, length) of each of their lines
    others: tuple[tuple[int, int], ...]  # lines that do not start as write_cards writes them
    zones: dict[str, str]  # seller as written -> time_zone, from the lines' starts


_indexes: dict[str, tuple[tuple[int, int, int], _LineIndex]] = {}


def _line_index(path: str | os.PathLike, fresh: bool) -> _LineIndex:
    stat = os.stat(path)
    version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    kept = _indexes.get(str(path))
    if not fresh and kept is not None and kept[0] == version:
        return kept[1]
    index = _index_file(path)
    if len(_indexes) >= 8:  # a process works on a run or two: keep a few files' indexes
        _indexes.clear()
    _indexes[str(path)] = (version, index)
    return index


def _index_file(path: str | os.PathLike) -> _LineIndex:
    heads: dict[str, list[tuple[int, int]]] = {}
    others: list[tuple[int, int]] = []
    zones: dict[str, str] = {}
    offset = 0
    with open(path, "rb") as f:
        for raw in f:
            if raw.strip():
                head = _HEAD.match(raw[:1024].decode("utf-8", errors="replace"))
                if head is None:
                    others.append((offset, len(raw)))
                else:
                    heads.setdefault(head.group(1), []).append((offset, len(raw)))
                    zones[head.group(1)] = head.group(2)
            offset += len(raw)
    return _LineIndex({s: tuple(v) for s, v in heads.items()}, tuple(others), zones)


def card_seller(line: str) -> str:
    """The seller of one line of a cards file (from its start where write_cards wrote it)."""
    head = _HEAD.match(line)
    return head.group(1) if head is not None else str(json.loads(line)["seller"])


def card_zones(lines: Iterable[str]) -> Iterator[tuple[str, str | None]]:
    """(seller, time_zone) of every card of a cards file, read from each line's start where it can be."""
    for line in card_lines(lines):
        head = _HEAD.match(line)
        if head is not None:
            yield head.group(1), head.group(2)
        else:
            doc = json.loads(line)
            yield str(doc["seller"]), doc.get("time_zone")


def read_cards(lines: Iterable[str], sellers: Iterable[str] | None = None) -> Iterator[SellerCards]:
    """Read JSON Lines written by :func:`write_cards` (blank lines ignored); only `sellers`' when given."""
    wanted = None if sellers is None else set(sellers)
    for line in card_lines(lines, None if wanted is None else wanted.__contains__):
        card = SellerCards.from_json(line)
        if wanted is None or card.seller in wanted:
            yield card
