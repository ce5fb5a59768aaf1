"""What each seller may see, re-derived from the input snapshot, and what an email actually shows.

This is the independent half of the privacy audit: it never looks at the metrics' or the
renderer's objects. It asks DuckDB which interactions each seller took part in (CONTRACT.md §3
participants, minus excluded interactions), who and which accounts were in them, and reads the
.eml files back (digest.audit.reading: the standard library's MIME parser, lxml for the HTML) to find
every address, account and person name in them.

The scope is deliberately a little wider than what the cards use (all interactions of the
snapshot, any contact or account row, accounts reachable by a contact's domain): the gate must
never block a correct email, and anything outside this wider scope is certainly a leak.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import AbstractSet

from digest.audit.reading import EmailContent, read_email  # noqa: F401 - read_email re-exported for the audit's callers
from digest.config import Settings
from digest.sources.contract import Dataset
from digest.sources.exclusions import PARTICIPANTS_SQL, connect, excluded_interactions

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TOKEN = re.compile(r"[^\W_]+")
_NAME_COLUMNS = ("DisplayName", "Name", "FullName")  # org custom attributes that hold a person's name
MIN_NAME_LENGTH = 3  # shorter names ("Al", "IT") match ordinary words too often to mean anything
# Punctuation that ends a phrase: a name is looked for across one of these only where some name of the
# dataset holds it (an account "Contoso (EMEA)" makes "(" part of names for everyone). The email's own
# words after a name ("Oakamark: health 82 of 100") are then not read as another name ("Oakamark Health").
BREAKS = frozenset(":;!?|()[]{}<>=/\\\u2022\u00b7\u2014\u2013\u2026\"\u201c\u201d\u201e\u00ab\u00bb")
_BREAK_RE = re.compile("[" + re.escape("".join(sorted(BREAKS))) + "]")


def name_key(name: str) -> str:
    """A name as its lower-case words: "Zyxwv  Canary-Holdings" and "zyxwv canary holdings" compare equal."""
    return " ".join(_TOKEN.findall(name.casefold()))


@dataclass(frozen=True)
class Scope:
    """Everything one seller may see: their own interactions and who and what was in them."""

    seller: str
    interactions: frozenset[str]  # "kind:id" of interactions the seller took part in (exclusions removed)
    people: AbstractSet[str]  # lower-case addresses of everyone in those interactions, the seller included
    accounts: frozenset[str]  # account ids matched to those people, plus the seller's assigned accounts
    names: AbstractSet[str]  # normalised names of those accounts and people
    groups: AbstractSet[str]  # internal groups of those people, plus "(none)"
    contacts: AbstractSet[str] = frozenset()  # name_key of the CRM ContactName of each of those people

    def met(self, person: str) -> bool:
        """Whether a person a card names (an address, or a CRM ContactName) is someone the seller interacted with."""
        return person.strip().lower() in self.people or name_key(person) in self.contacts


@dataclass(frozen=True)
class Universe:
    """Every identifier the dataset knows, to recognise one in an email."""

    emails: frozenset[str]
    account_ids: frozenset[str]
    names: frozenset[str]  # name_key of every account name, person name and distinctive account id
    longest: int  # words in the longest name
    joiners: frozenset[str] = frozenset()  # the BREAKS that some name (as written) holds: no break for anyone

    @cached_property
    def breaks(self) -> re.Pattern | None:
        """What splits a text into the stretches a name is looked for in (None: nothing does)."""
        chars = sorted(BREAKS - self.joiners)
        return re.compile("[" + re.escape("".join(chars)) + "]") if chars else None

    @cached_property
    def heads(self) -> dict[str, int]:
        """First word of the names -> words in the longest name starting with it (most words start none)."""
        out: dict[str, int] = {}
        for name in self.names:
            words = name.split(" ")
            out[words[0]] = max(out.get(words[0], 0), len(words))
        return out


@dataclass(frozen=True)
class SnapshotIndex:
    """What the snapshot knows independently of any seller: computed once per run, shared by records and gate."""

    universe: Universe
    excluded: tuple[tuple[str, str, str], ...]  # (kind, interaction_id, reason) of every excluded interaction
    # Names as sorted tuples, not sets: with millions of contacts a set per address cost ~1 GB more.
    account_names: dict[str, tuple[str, ...]]  # account id -> names
    person_names: dict[str, tuple[str, ...]]  # lower-case address -> names
    groups: dict[str, str]  # lower-case address -> internal group
    internal: tuple[str, ...]  # internal email domains
    contact_names: dict[str, tuple[str, ...]]  # lower-case address -> CRM ContactName


def index_snapshot(dataset: Dataset, settings: Settings) -> SnapshotIndex:
    """The seller-independent half of :func:`digest.audit.derive.derive_scopes` (one DuckDB session over the whole snapshot)."""
    con = connect(dataset)
    try:
        excluded = excluded_interactions(con, settings)
        account_names = _pairs(con, "SELECT AccountId, AccountName FROM accounts WHERE AccountName IS NOT NULL")
        contact_names = _pairs(con, "SELECT lower(ContactEmail), ContactName FROM contacts")
        person_names = _person_names(con, dataset)
        return SnapshotIndex(_universe(con, account_names, person_names),
                             tuple(zip(*(excluded.column(c).to_pylist() for c in ("kind", "interaction_id", "reason")))),
                             account_names, person_names, _groups(con, dataset, settings), tuple(_internal_domains(con, settings)),
                             contact_names)
    finally:
        con.close()


def _pairs(con, sql: str) -> dict[str, tuple[str, ...]]:
    """Each key of `sql`'s (key, value) rows with its distinct non-blank values, sorted (grouped by DuckDB)."""
    rows = con.sql(f"SELECT DISTINCT k, v FROM ({sql}) AS t(k, v) WHERE k IS NOT NULL AND v IS NOT NULL ORDER BY k, v").to_arrow_table()
    out: dict[str, tuple[str, ...]] = {}
    for key, pairs in itertools.groupby(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist()), key=itemgetter(0)):
        kept = tuple(v for _, v in pairs if v.strip())
        if kept:
            out[key] = kept
    return out


def _internal_domains(con, settings: Settings) -> list[str]:
    if settings.metrics.internal_domains:
        return sorted({d.lower() for d in settings.metrics.internal_domains})
    return [r[0] for r in con.execute("SELECT DISTINCT split_part(lower(PersonId), '@', 2) FROM people").fetchall()]


def _person_names(con, dataset: Dataset) -> dict[str, tuple[str, ...]]:
    """Every name of each address: CRM ContactName, contact first + last name, the org's name columns."""
    sources = ["SELECT lower(ContactEmail), ContactName FROM contacts",
               """SELECT lower(ContactEmail), concat_ws(' ', ContactFirstName, ContactLastName) FROM contacts
                  WHERE ContactFirstName IS NOT NULL AND ContactLastName IS NOT NULL"""]
    sources += [f'SELECT lower(PersonId), "{column}" FROM people' for column in _NAME_COLUMNS if column in dataset.people.column_names]
    return _pairs(con, " UNION ALL ".join(sources))


def _groups(con, dataset: Dataset, settings: Settings) -> dict[str, str]:
    column = settings.metrics.group_attribute
    if column not in dataset.people.column_names:
        return {}
    # Any row of the person counts: the gate must accept a group the person had at any time in the window.
    return {e: g for e, g in con.execute(f'SELECT lower(PersonId), "{column}" FROM people WHERE "{column}" IS NOT NULL').fetchall()}


def _universe(con, account_names: dict[str, tuple[str, ...]], person_names: dict[str, tuple[str, ...]]) -> Universe:
    emails = {r[0] for r in con.execute(f"""
        SELECT lower(PersonId) FROM people UNION SELECT lower(ManagerId) FROM people
        UNION SELECT lower(ContactEmail) FROM contacts UNION SELECT lower(AccountOwnerEmail) FROM accounts
        UNION SELECT lower(email) FROM ({PARTICIPANTS_SQL})""").fetchall() if r[0]}
    ids = {r[0] for r in con.execute("SELECT DISTINCT AccountId FROM accounts").fetchall()}
    words = {name_key(n) for values in (*account_names.values(), *person_names.values()) for n in values}
    words = {w for w in words if len(w) >= MIN_NAME_LENGTH}
    # Ids like "A-1042" are distinctive; short all-digit ids ("12") would match ordinary numbers.
    words |= {name_key(i) for i in ids if (any(c.isalpha() for c in i) and len(i) >= 2) or len(i) >= 6}
    words.discard("")
    written = "\n".join([*ids, *(n for values in (*account_names.values(), *person_names.values()) for n in values)])
    return Universe(frozenset(emails), frozenset(ids), frozenset(words), max((w.count(" ") + 1 for w in words), default=0),
                    frozenset(_BREAK_RE.findall(written)))


def find_identifiers(content: EmailContent, universe: Universe) -> tuple[set[str], set[str]]:
    """(addresses, name keys) the dataset knows that appear anywhere a reader can see them."""
    addresses = {m.group(0).lower() for m in EMAIL_RE.finditer(content.visible)} & universe.emails
    addresses |= {a for a in (*content.to, *content.cc, *content.bcc) if a in universe.emails}
    # Words of the text, addresses removed (a domain is not a name), in stretches between the punctuation
    # no name holds (Universe.breaks); the longest known name wins at each position, so "Contoso Pharma"
    # is one name, not "Contoso" plus a word.
    text = EMAIL_RE.sub(" ", content.visible)
    names, heads = set(), universe.heads
    for stretch in (universe.breaks.split(text) if universe.breaks is not None else [text]):
        tokens, i = _TOKEN.findall(stretch), 0
        while i < len(tokens):
            for n in range(min(heads.get(tokens[i], 0), len(tokens) - i), 0, -1):
                key = " ".join(tokens[i:i + n])
                if key in universe.names:
                    names.add(key)
                    i += n
                    break
            else:
                i += 1
    return addresses, names


def out_of_scope(content: EmailContent, universe: Universe, scope: Scope) -> tuple[set[str], set[str]]:
    """Known addresses and names/ids in the email that are outside the seller's scope."""
    return outside(*find_identifiers(content, universe), scope)


def outside(addresses: AbstractSet[str], names: AbstractSet[str], scope: Scope) -> tuple[set[str], set[str]]:
    """The found addresses and names/ids (:func:`find_identifiers`) that are outside the seller's scope."""
    scope_ids = {name_key(a) for a in scope.accounts}
    return {a for a in addresses if a not in scope.people}, {n for n in names if n not in scope.names and n not in scope_ids}
