"""Each seller's scope, re-derived from the input snapshot for many sellers at once (CONTRACT.md §7).

One DuckDB pass finds, for every seller a gate checks, the interactions they took part in and who
else was in them; the Python sets are then made a chunk of sellers at a time (:meth:`Scopes.of`).
An interaction with many participants (a town hall with the whole company) is not copied into
every attendee's scope: its member set, their names and groups are made once and shared
(:class:`Members`), so a scope costs what the seller's small interactions hold, not the size of the
company. With 20,000 sellers a town hall made every scope ~21,000 addresses, and deriving 500
scopes took 36 s, once per chunk of 500.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Iterable, Iterator

import pyarrow as pa

from digest.audit.scope import Scope, SnapshotIndex, Universe, index_snapshot, name_key
from digest.config import Settings
from digest.sources.contract import Dataset
from digest.sources.exclusions import PARTICIPANTS_SQL, connect
from digest.weeks import IsoWeek

SHARED_FROM = 50  # participants from which an interaction's members are shared between scopes, not copied
NONE_GROUP = "(none)"


class Members(Set):
    """A read-only set that is the union of some sets, held by reference (membership never copies them)."""

    __slots__ = ("_parts", "_union")

    def __init__(self, parts: Iterable[frozenset]) -> None:
        self._parts = tuple(p for p in parts if p)
        self._union: frozenset | None = None

    def __contains__(self, item: object) -> bool:
        return any(item in p for p in self._parts)

    def _all(self) -> frozenset:
        if self._union is None:
            self._union = self._parts[0] if len(self._parts) == 1 else frozenset().union(*self._parts)
        return self._union

    def __iter__(self) -> Iterator:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    __hash__ = Set._hash

    @classmethod
    def _from_iterable(cls, items: Iterable) -> frozenset:  # what set operations with a Members return
        return frozenset(items)

    def __repr__(self) -> str:
        return f"Members({len(self._parts)} parts)"


class _Shared:
    """What one large interaction adds to the scope of each of its participants."""

    __slots__ = ("people", "names", "contacts", "groups", "solo")

    def __init__(self, people: frozenset[str], index: SnapshotIndex, key) -> None:
        self.people = people
        self.names = frozenset(key(n) for e in people for n in index.person_names.get(e, ()))
        self.contacts = frozenset(key(n) for e in people for n in index.contact_names.get(e, ())) - {""}
        counts: dict[str, list[str]] = {}
        for e in people:
            g = index.groups.get(e) or NONE_GROUP
            members = counts.setdefault(g, [])
            if len(members) < 2:
                members.append(e)
        self.groups = frozenset(counts)
        self.solo = {g: m[0] for g, m in counts.items() if len(m) == 1}  # a group only one participant has

    def groups_for(self, seller: str) -> frozenset[str]:
        """The groups of the participants other than the seller (the seller's own group counts only through others)."""
        own = [g for g, who in self.solo.items() if who == seller]
        return self.groups - set(own) if own else self.groups


class Scopes:
    """The scopes of a set of sellers: the DuckDB work done once (on first use), the sets made per chunk."""

    def __init__(self, dataset: Dataset, settings: Settings, week: IsoWeek, sellers: Iterable[str],
                 index: SnapshotIndex | None = None, shared_from: int = SHARED_FROM) -> None:
        self.dataset, self.settings, self.week = dataset, settings, week
        self.index = index if index is not None else index_snapshot(dataset, settings)
        self.sellers = sorted({s.lower() for s in sellers})
        self.shared_from = shared_from
        self._con = None
        self._shared: dict[str, _Shared] = {}
        self._keys: dict[str, str] = {}

    @property
    def universe(self) -> Universe:
        return self.index.universe

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> "Scopes":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _key(self, name: str) -> str:
        """name_key, remembered: the same names come back in every scope."""
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = name_key(name)
        return key

    def _prepare(self):
        if self._con is not None:
            return self._con
        con = self._con = connect(self.dataset)
        index = self.index
        kinds, ids, _ = (list(c) for c in zip(*index.excluded)) if index.excluded else ([], [], [])
        con.register("excluded", pa.table({"kind": pa.array(kinds, pa.string()), "interaction_id": pa.array(ids, pa.string())}))
        con.register("chosen", pa.table({"seller": pa.array(self.sellers, pa.string())}))
        con.execute(f"CREATE TEMP VIEW p AS {PARTICIPANTS_SQL}")
        con.execute("""CREATE TEMP TABLE mine AS SELECT DISTINCT p.email AS seller, p.kind, p.interaction_id
                       FROM p JOIN chosen c ON p.email = c.seller
                       ANTI JOIN excluded x ON x.kind = p.kind AND x.interaction_id = p.interaction_id""")
        con.execute("""CREATE TEMP TABLE members AS SELECT DISTINCT p.kind, p.interaction_id, p.email FROM p
                       SEMI JOIN (SELECT DISTINCT kind, interaction_id FROM mine) m
                       ON m.kind = p.kind AND m.interaction_id = p.interaction_id WHERE p.email IS NOT NULL""")
        con.execute("""CREATE TEMP TABLE shared AS SELECT kind, interaction_id, kind || ':' || interaction_id AS key
                       FROM members GROUP BY ALL HAVING count(*) >= ?""", [self.shared_from])
        con.execute("""CREATE TEMP TABLE seen AS SELECT DISTINCT m.seller, x.email FROM mine m
                       JOIN members x ON x.kind = m.kind AND x.interaction_id = m.interaction_id
                       ANTI JOIN shared s ON s.kind = m.kind AND s.interaction_id = m.interaction_id""")
        personal = [d.lower() for d in self.settings.metrics.personal_domains]
        internal = list(index.internal)
        con.execute("""CREATE TEMP TABLE ext AS
            WITH everyone AS (SELECT seller, email FROM seen
                              UNION SELECT m.seller, x.email FROM mine m
                              JOIN shared s ON s.kind = m.kind AND s.interaction_id = m.interaction_id
                              JOIN members x ON x.kind = m.kind AND x.interaction_id = m.interaction_id
                              WHERE NOT list_contains(?, split_part(x.email, '@', 2)))
            SELECT seller, email, split_part(email, '@', 2) AS domain FROM (SELECT * FROM everyone UNION SELECT seller, seller FROM chosen)
            WHERE NOT list_contains(?, split_part(email, '@', 2))""", [internal, internal])
        con.execute("""CREATE TEMP TABLE scope_accounts AS
            WITH hosts AS (SELECT AccountId, regexp_replace(regexp_replace(lower(AccountWebsite),
                           '^[a-z]+://', ''), '^www\\.|[/:?#].*$', '', 'g') AS host FROM accounts)
            SELECT e.seller, c.ContactsAccountId AS account FROM ext e JOIN contacts c ON lower(c.ContactEmail) = e.email
            UNION SELECT e.seller, h.AccountId FROM ext e JOIN hosts h ON h.host = e.domain
                  WHERE NOT list_contains(?, e.domain)
            UNION SELECT e.seller, c.ContactsAccountId FROM ext e
                  JOIN contacts c ON split_part(lower(c.ContactEmail), '@', 2) = e.domain
                  WHERE NOT list_contains(?, e.domain)
            UNION SELECT lower(SellerEmail), SellerAssignmentAccountId FROM assignments
                  JOIN chosen ON chosen.seller = lower(SellerEmail) WHERE SellerAssignmentStartDate <= ?
        """, [personal, personal, self.week.sunday])
        return con

    def of(self, sellers: Iterable[str]) -> dict[str, Scope]:
        """The scope of each of `sellers` (all of them among the sellers this was made for)."""
        chunk = sorted({s.lower() for s in sellers})
        unknown = set(chunk) - set(self.sellers)
        if unknown:
            raise ValueError(f"no scope prepared for {len(unknown)} seller(s)")
        if not chunk:
            return {}
        con = self._prepare()
        con.register("part", pa.table({"seller": pa.array(chunk, pa.string())}))
        rows = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        mine: dict[str, set[str]] = {s: set() for s in chunk}
        for seller, key in rows("SELECT seller, kind || ':' || interaction_id FROM mine SEMI JOIN part USING (seller)"):
            mine[seller].add(key)
        seen: dict[str, set[str]] = {s: {s} for s in chunk}
        for seller, email in rows("SELECT seller, email FROM seen SEMI JOIN part USING (seller)"):
            seen[seller].add(email)
        accounts: dict[str, set[str]] = {s: set() for s in chunk}
        for seller, account in rows("SELECT seller, account FROM scope_accounts SEMI JOIN part USING (seller)"):
            accounts[seller].add(account)
        big: dict[str, list[str]] = {s: [] for s in chunk}
        for seller, key in rows("""SELECT m.seller, s.key FROM mine m SEMI JOIN part USING (seller)
                                   JOIN shared s ON s.kind = m.kind AND s.interaction_id = m.interaction_id"""):
            big[seller].append(key)
        self._load_shared({k for keys in big.values() for k in keys})
        return {s: self._scope(s, mine[s], seen[s], accounts[s], [self._shared[k] for k in sorted(big[s])]) for s in chunk}

    def _load_shared(self, keys: set[str]) -> None:
        wanted = sorted(keys - set(self._shared))
        if not wanted:
            return
        con = self._con
        con.register("wanted_shared", pa.table({"key": pa.array(wanted, pa.string())}))
        people: dict[str, set[str]] = {k: set() for k in wanted}
        for key, email in con.execute("""SELECT s.key, x.email FROM shared s SEMI JOIN wanted_shared USING (key)
                                         JOIN members x ON x.kind = s.kind AND x.interaction_id = s.interaction_id""").fetchall():
            people[key].add(email)
        for key in wanted:
            self._shared[key] = _Shared(frozenset(people[key]), self.index, self._key)

    def _scope(self, seller: str, mine: set[str], seen: set[str], accounts: set[str], shared: list[_Shared]) -> Scope:
        index, key = self.index, self._key
        names = {key(n) for a in accounts for n in index.account_names.get(a, ())}
        names |= {key(n) for e in seen for n in index.person_names.get(e, ())}
        contacts = {key(n) for e in seen for n in index.contact_names.get(e, ())} - {""}
        groups = {index.groups.get(e) or NONE_GROUP for e in seen if e != seller} | {NONE_GROUP}
        return Scope(seller, frozenset(mine), Members([frozenset(seen), *(s.people for s in shared)]), frozenset(accounts),
                     Members([frozenset(names), *(s.names for s in shared)]),
                     Members([frozenset(groups), *(s.groups_for(seller) for s in shared)]),
                     Members([frozenset(contacts), *(s.contacts for s in shared)]))


def derive_scopes(dataset: Dataset, settings: Settings, week: IsoWeek, sellers: list[str],
                  index: SnapshotIndex | None = None, shared_from: int = SHARED_FROM) -> tuple[Universe, dict[str, Scope]]:
    """The identifier universe and each seller's scope, from the dataset alone (one DuckDB session).

    `index`: :func:`digest.audit.scope.index_snapshot` of the same dataset and settings, when the caller has it already.
    """
    with Scopes(dataset, settings, week, sellers, index, shared_from) as scopes:
        return scopes.universe, scopes.of(scopes.sellers)
