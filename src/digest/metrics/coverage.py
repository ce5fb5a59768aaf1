"""External collaborators and collaboration hours per account, for the CRM data page (issue 12).

The same session as the cards (digest.metrics.session), with every employee in force in the
sellers' place and one window for all: the four ISO weeks ending with the reported week, in UTC.
So every rule of the cards applies unchanged: exclusions, counted interactions, "others", the
employee's time in each interaction (digest.metrics.time) and its share among the external others.

- A **collaborator** is an external person (not an internal, not a personal domain) among the
  others of an employee's counted interaction in the window, as the employee sees it (a mail's
  sender sees its bcc). A chat counts when it has a message in the window: a member who only
  received is there at 0 minutes, and still a collaborator.
- The **hours** of an account: per counted interaction, the employee's minutes / their external
  others, for each of the account's collaborators among them (a personal-domain contact is an
  external other, so it takes its share, but never brings it to an account here). Default = only
  collaborators matched by contact; total = default + extrapolation. A figure is shown only when at
  least ``privacy.min_group_size`` employees have a share above 0 in it (one person's time is theirs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from digest.config import Settings
from digest.metrics import matching, time as metrics_time
from digest.metrics.arrays import small_pages
from digest.metrics.cards import SCALE
from digest.metrics.interactions import CHAT
from digest.metrics.session import Session, open_session
from digest.sources.contract import Dataset
from digest.weeks import IsoWeek

TERM_ROWS = 4_000_000  # exploded (row, collaborator) terms computed at a time (bounds memory)

_SHARES = "CREATE OR REPLACE TEMP TABLE cov_shares (sid INTEGER, kid INTEGER, dom INTEGER, dflt BOOLEAN, q HUGEINT)"
_SHARES_ADD = """INSERT INTO cov_shares SELECT sid, kid, dom, dflt, sum(CAST(round(minutes * $scale) AS HUGEINT))
                 FROM cov_terms GROUP BY ALL"""
# Per account (or account and domain): hours summed, and the employees with a share above 0, for total and default.
_FIGURES = """
WITH e AS (SELECT sid, {by}, sum(q) AS tq, coalesce(sum(q) FILTER (WHERE dflt), 0) AS dq FROM cov_shares GROUP BY ALL)
SELECT {by}, sum(tq), count(*) FILTER (WHERE tq > 0), sum(dq), count(*) FILTER (WHERE dq > 0) FROM e GROUP BY ALL
"""
_PEOPLE = """
SELECT w.pid, w.email, split_part(w.email, '@', 2) AS domain, k.key AS account_id
FROM who w LEFT JOIN keys k ON k.kid = w.kid AND NOT k.internal WHERE NOT w.internal
"""


@dataclass(frozen=True)
class Hours:
    """One hours figure: None when fewer than the group size contributed (then `employees` says why, not who)."""

    hours: float | None
    employees: int  # employees with a share above 0 (a count, never who)


@dataclass(frozen=True)
class AccountFigures:
    """An account (or one domain of its collaborators): collaborator counts and hours, default and total."""

    account_id: str
    account_name: str
    domain: str | None  # upper-case; None for the whole account
    collaborators: int  # default + extrapolation
    default_collaborators: int
    total: Hours
    default: Hours


@dataclass(frozen=True)
class Collaborator:
    """A matched external collaborator of an account."""

    account_id: str
    domain: str  # upper-case
    email: str
    method: str  # default or extrapolation


@dataclass(frozen=True)
class Collaboration:
    """Every figure of the page's collaborator and account sections for one week."""

    window_start: str
    window_end: str
    employees: int
    default: int
    extrapolation: int
    not_associated: int
    min_group_size: int
    accounts: tuple[AccountFigures, ...]  # every account in force, by shown hours, collaborators, then id
    domains: tuple[AccountFigures, ...]  # per account and domain of its matched collaborators
    collaborators: tuple[Collaborator, ...]  # by account, domain, email

    @property
    def total(self) -> int:
        return self.default + self.extrapolation + self.not_associated


def compute_collaboration(dataset: Dataset, week: IsoWeek, settings: Settings) -> Collaboration:
    """External collaborators (default / extrapolation / not associated) and hours per account for the week's window."""
    start, end = week.window_28("UTC")
    with small_pages():
        session = open_session(dataset, week, settings, None, employees=True)
        try:
            people = session.con.sql(_PEOPLE).to_arrow_table()
            flags = _person_flags(session, people, settings)
            found = _collaborators(session, flags["personal"])
            metrics_time.build(session)
            _shares(session, flags)
            figures = {by: session.con.execute(_FIGURES.format(by=by)).fetchall() for by in ("kid", "kid, dom")}
            accounts = dict(session.con.execute("SELECT account_id, account_name FROM crm_accounts").fetchall())
            kid_key = dict(session.con.execute("SELECT kid, key FROM keys WHERE NOT internal").fetchall())
            employees = session.con.execute("SELECT count(*) FROM sellers WHERE pid IS NOT NULL").fetchall()[0][0]
        finally:
            session.close()
    return _assemble(found, people, flags, figures, accounts, kid_key, employees, settings.privacy.min_group_size,
                     start.isoformat(), end.isoformat())


def _person_flags(session: Session, people: pa.Table, settings: Settings) -> dict[str, np.ndarray]:
    """Per pid: personal domain, domain id (dense, for the shares) and matched by default."""
    size = max(int(session.arrays["dflt_of_pid"].size), int(np.max(people.column("pid").to_numpy(), initial=0)) + 1)
    pid = people.column("pid").to_numpy()
    domains = people.column("domain").to_pylist()
    personal_set = set(matching.personal_domains(settings))
    personal = np.zeros(size, dtype=bool)
    personal[pid] = [d in personal_set for d in domains]
    names = sorted(set(domains))
    index = {d: i for i, d in enumerate(names)}
    dom = np.zeros(size, dtype=np.int32)
    dom[pid] = [index[d] for d in domains]
    dflt = np.zeros(size, dtype=bool)
    dflt[:session.arrays["dflt_of_pid"].size] = session.arrays["dflt_of_pid"]
    return {"personal": personal, "dom": dom, "dflt": dflt, "domain_names": np.array(names, dtype=object)}


def _window_pairs(session: Session, p: dict[str, np.ndarray]) -> np.ndarray:
    """Which (employee, interaction) rows lie in the window: by start, or a chat with a message in it."""
    s = session.arrays["sellers"]
    if len(s.sid) == 0:
        return np.zeros(len(p["iid"]), dtype=bool)
    chats = session.con.execute("SELECT DISTINCT iid FROM chat_msgs WHERE t >= $lo AND t < $hi",
                                {"lo": float(s.win0[0]), "hi": float(s.w1[0])}).fetchnumpy()["iid"]
    chat_in = np.zeros(len(session.arrays["kind"]), dtype=bool)
    chat_in[chats.astype(np.int64)] = True
    is_chat = p["k"] == CHAT
    return (~is_chat & (p["bucket"] >= 0)) | (is_chat & chat_in[p["iid"]])


def _collaborators(session: Session, personal: np.ndarray) -> np.ndarray:
    """The pids of every external collaborator of the window (see the module doc), sorted."""
    a = session.arrays
    p, part = a["pairs"], a["part"]
    mask = _window_pairs(session, p)
    seen = np.zeros(len(a["kind"]), dtype=bool)
    seen[p["iid"][mask]] = True
    sees_bcc = np.zeros(len(a["kind"]), dtype=bool)
    sees_bcc[p["iid"][mask & (p["view"] == 1)]] = True
    rows = seen[part.iid] & (part.vis | sees_bcc[part.iid]) & ~a["internal_of_kid"][part.kid] & ~personal[part.pid]
    return np.unique(part.pid[rows])


def _shares(session: Session, flags: dict[str, np.ndarray]) -> None:
    """Table cov_shares: per employee, account, domain and method, the collaborators' shares (fixed-point minutes)."""
    con, a = session.con, session.arrays
    c, part, first_row = a["contrib"], a["part"], a["first_row"]
    wanted = (part.kid > 0) & ~a["internal_of_kid"][part.kid] & ~flags["personal"][part.pid]
    has = np.zeros(len(a["kind"]), dtype=bool)
    has[part.iid[wanted]] = True
    rows = np.flatnonzero((c["n_ext"] > 0) & (c["minutes"] > 0) & has[c["iid"]])
    con.execute(_SHARES)
    if len(rows) == 0:
        return
    sizes = np.cumsum(first_row[c["iid"][rows] + 1] - first_row[c["iid"][rows]])
    bounds = np.searchsorted(sizes, np.arange(TERM_ROWS, int(sizes[-1]), TERM_ROWS))
    for chunk in np.split(rows, bounds):
        if len(chunk) == 0:
            continue
        con.register("cov_terms", pa.table(_terms(c, chunk, part, first_row, wanted, flags["dflt"], flags["dom"])))
        con.execute(_SHARES_ADD, {"scale": SCALE})
        con.unregister("cov_terms")


def _terms(c, rows, part, first_row, wanted, dflt_of_pid, dom_of_pid) -> dict[str, np.ndarray]:
    """(contrib row, matched collaborator it sees) terms: the employee's minutes / their external others."""
    lo = first_row[c["iid"][rows]]
    count = first_row[c["iid"][rows] + 1] - lo
    rep = np.repeat(np.arange(len(rows)), count)
    at = np.arange(len(rep)) + np.repeat(lo - (np.cumsum(count) - count), count)
    r = rows[rep]
    keep = wanted[at] & ((c["view"][r] == 1) | part.vis[at]) & (part.pid[at] != c["self_pid"][r])
    r, at = r[keep], at[keep]
    pid = part.pid[at]
    return {"sid": c["sid"][r], "kid": part.kid[at], "dom": dom_of_pid[pid], "dflt": dflt_of_pid[pid],
            "minutes": c["minutes"][r] / c["n_ext"][r]}


def _hours(q, employees: int, minimum: int) -> Hours:
    hours = float(q) / SCALE / 60 if q else 0.0
    return Hours(hours if employees >= minimum else None, int(employees))


def _assemble(found, people, flags, figures, accounts, kid_key, employees, minimum, start, end) -> Collaboration:
    by_pid = {pid: (email, domain, account) for pid, email, domain, account in
              zip(*(people.column(n).to_pylist() for n in ("pid", "email", "domain", "account_id")))}
    counts = {"default": 0, "extrapolation": 0, "not_associated": 0}
    collaborators = []
    for pid in found.tolist():
        email, domain, account = by_pid[pid]
        if account is None or account not in accounts:
            counts["not_associated"] += 1
            continue
        method = "default" if flags["dflt"][pid] else "extrapolation"
        counts[method] += 1
        collaborators.append(Collaborator(account, domain.upper(), email, method))
    collaborators.sort(key=lambda x: (x.account_id, x.domain, x.email))
    n_all, n_default = _collaborator_counts(collaborators)
    whole = {kid_key[row[0]]: row[1:] for row in figures["kid"]}
    parts = {(kid_key[row[0]], flags["domain_names"][row[1]].upper()): row[2:] for row in figures["kid, dom"]}

    def figure(account: str, domain: str | None, row) -> AccountFigures:
        tq, te, dq, de = row or (0, 0, 0, 0)
        key = (account, domain)
        return AccountFigures(account, accounts[account], domain, n_all.get(key, 0), n_default.get(key, 0),
                              _hours(tq, te, minimum), _hours(dq, de, minimum))

    rows = [figure(a, None, whole.get(a)) for a in accounts]
    domains = [figure(a, d, parts.get((a, d))) for (a, d) in sorted(k for k in n_all if k[1] is not None)]
    return Collaboration(start, end, int(employees), counts["default"], counts["extrapolation"], counts["not_associated"],
                         minimum, tuple(sorted(rows, key=order)), tuple(sorted(domains, key=order)), tuple(collaborators))


def order(f: AccountFigures) -> tuple:
    """Accounts by the hours a reader sees (2 decimals; hidden ones last), then collaborators, then id."""
    shown = round(f.total.hours, 2) if f.total.hours is not None else -1.0
    return (-shown, -f.collaborators, f.account_id, f.domain or "")


def _collaborator_counts(collaborators: list[Collaborator]) -> tuple[dict, dict]:
    n_all: dict = {}
    n_default: dict = {}
    for x in collaborators:
        for key in ((x.account_id, None), (x.account_id, x.domain)):
            n_all[key] = n_all.get(key, 0) + 1
            if x.method == "default":
                n_default[key] = n_default.get(key, 0) + 1
    return n_all, n_default
