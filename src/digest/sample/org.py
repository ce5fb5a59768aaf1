"""The sample company's people and CRM, one block of sellers at a time.

A block is 64 sellers (8 teams of 8 with their managers), their director, a pool of specialists,
and the sellers' accounts with contacts. The VP is above every director. Blocks are independent,
so a block's rows depend only on (seed, block index, sellers): chunking never changes the output.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from digest.sample import words as W
from digest.sample.base import Span

BLOCK_SELLERS = 64
TEAM_SIZE = 8
MAX_ACCOUNTS = 16  # per seller, own and shared (8-12 own, a few shared)
VP, DIRECTOR = 0, 1  # their places in every block's address pool
_NAME_SPACE = len(W.FIRST_NAMES) * len(W.LAST_NAMES)


@dataclass(frozen=True, eq=False)
class Block:
    """One block's people (as indexes into `emails`) and CRM tables, ready for activity and CSV."""

    index: int
    emails: pa.Array  # address pool: [VP, director, managers, sellers, specialists, contacts]
    managers: np.ndarray  # pool index per team
    team_zone: np.ndarray
    team_start: np.ndarray  # first seller (block-local) of each team
    team_size: np.ndarray
    sellers: np.ndarray  # pool index per seller
    seller_team: np.ndarray
    seller_zone: np.ndarray
    new_manager: np.ndarray  # pool index of the manager from `change_week` on, -1 when unchanged
    change_week: int
    specialists: np.ndarray
    contact_start: np.ndarray  # per account: pool index of its first contact
    contact_count: np.ndarray
    seller_accounts: np.ndarray  # [sellers, MAX_ACCOUNTS] account index, -1 = none
    seller_account_cum: np.ndarray  # cumulative choice probabilities (bigger accounts get more time)
    tables: dict  # file key -> pa.Table of text columns for the CSV files


def block_count(sellers: int) -> int:
    return -(-sellers // BLOCK_SELLERS)


def _specialist_counts(sellers: int) -> list[int]:
    return [max(1, round(per64 * sellers / BLOCK_SELLERS)) for _, per64 in W.SPECIALISTS]


def _people_in_block(sellers: int) -> int:
    return 1 + -(-sellers // TEAM_SIZE) + sellers + sum(_specialist_counts(sellers))


def person_offset(block: int) -> int:
    """Global index of the block's first person (0 is the VP); full blocks all have the same size."""
    return 1 + block * _people_in_block(BLOCK_SELLERS)


def total_people(sellers: int) -> int:
    full, rest = divmod(sellers, BLOCK_SELLERS)
    return person_offset(full) + (_people_in_block(rest) if rest else 0)


def person_email(index: int, seed: int) -> str:
    """first.last@contoso-sales.com, unique per index (a number is added once names run out)."""
    combo = (index * 7919 + seed) % _NAME_SPACE  # 7919 is prime to the name space: a permutation
    first, last = W.FIRST_NAMES[combo // len(W.LAST_NAMES)], W.LAST_NAMES[combo % len(W.LAST_NAMES)]
    repeat = index // _NAME_SPACE
    return f"{first}.{last}{repeat + 1 if repeat else ''}@{W.INTERNAL_DOMAIN}".lower()


def _us_date(day: dt.date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def build_block(index: int, sellers: int, seed: int, span: Span, rng: np.random.Generator, seen_domains: set) -> Block:
    """People, accounts, contacts and assignments of block `index` with `sellers` sellers."""
    n_teams = -(-sellers // TEAM_SIZE)
    spec_counts = _specialist_counts(sellers)
    n_spec = sum(spec_counts)
    first_person = person_offset(index)
    internal = [person_email(0, seed)] + [person_email(first_person + k, seed) for k in range(_people_in_block(sellers))]
    mgr = 2 + np.arange(n_teams)
    sel = 2 + n_teams + np.arange(sellers)
    spec = 2 + n_teams + sellers + np.arange(n_spec)
    seller_team = np.arange(sellers) // TEAM_SIZE
    team_start = np.arange(n_teams) * TEAM_SIZE
    team_size = np.minimum(TEAM_SIZE, sellers - team_start)
    team_region = (index * (BLOCK_SELLERS // TEAM_SIZE) + np.arange(n_teams)) % len(W.REGIONS)
    team_zone = np.array([W.REGIONS[r][1][0] for r in team_region])
    seller_zone = np.array([W.REGIONS[team_region[t]][1][s % len(W.REGIONS[team_region[t]][1])]
                            for s, t in enumerate(seller_team)])
    remote = rng.random(sellers) < 0.08
    seller_zone = np.where(remote, rng.integers(0, len(W.ZONES), sellers), seller_zone)
    spec_zone = team_zone[np.arange(n_spec) % n_teams]

    # A few sellers move to another team's manager mid-period (a second EffectiveDate row).
    change_week = span.weeks // 2
    moves = (rng.random(sellers) < 0.03) & (n_teams > 1)
    if index == 0 and n_teams > 1 and span.weeks > 1:
        moves[sellers - 1] = True  # every sample shows at least one manager change
    new_manager = np.where(moves, mgr[(seller_team + 1) % n_teams], -1)

    people = _people_table(span, rng, internal, n_teams, sellers, spec_counts, team_region, team_zone,
                           seller_team, seller_zone, spec_zone, new_manager, change_week)
    optout = rng.random(sellers) < 0.005
    if index == 0 and sellers >= 4:
        optout[3] = True  # every sample but the tiniest has an opt-out
    optouts = pa.table({"PersonId": pa.array([internal[i] for i in sel[optout]], pa.string())})

    crm = _crm(index, seed, sellers, span, rng, seen_domains, len(internal), [internal[i] for i in sel], seller_team,
               team_start, team_size, [W.REGIONS[r][0] for r in team_region])
    return Block(
        index=index, emails=pa.array(internal + crm["contact_emails"], pa.string()), managers=mgr, team_zone=team_zone,
        team_start=team_start, team_size=team_size, sellers=sel, seller_team=seller_team, seller_zone=seller_zone,
        new_manager=new_manager, change_week=change_week, specialists=spec,
        contact_start=crm["contact_start"], contact_count=crm["contact_count"],
        seller_accounts=crm["seller_accounts"], seller_account_cum=crm["seller_account_cum"],
        tables={"people": people, "optouts": optouts, "accounts": crm["accounts"], "contacts": crm["contacts"],
                "assignments": crm["assignments"]},
    )


def _people_table(span, rng, emails, n_teams, sellers, spec_counts, team_region, team_zone, seller_team,
                  seller_zone, spec_zone, new_manager, change_week) -> pa.Table:
    org_date = (span.first_day - dt.timedelta(days=90)).replace(day=1)
    rows: list[tuple] = []  # PersonId, EffectiveDate, ManagerId, Organization, Level, Function, zone, Supervisor, Region

    def add(k: int, manager: int, org: str, level: str, function: str, zone: int, supervisor: str, region: str,
            when: dt.date = org_date) -> None:
        rows.append((emails[k], when, emails[manager], org, level, function, zone, supervisor, region))

    first_region = W.REGIONS[team_region[0]][0]
    add(1, 0, "Enterprise Sales", "Director", "Sales Director", int(team_zone[0]), "Manager+", first_region)
    for t in range(n_teams):
        region = W.REGIONS[team_region[t]][0]
        add(2 + t, 1, f"Enterprise Sales {region}", "Manager", "Sales Manager", int(team_zone[t]), "Manager", region)
    for s in range(sellers):
        region = W.REGIONS[team_region[seller_team[s]]][0]
        args = (f"Enterprise Sales {region}", "Senior IC" if rng.random() < 0.4 else "IC", "Account Executive",
                int(seller_zone[s]), "IC", region)
        add(2 + n_teams + s, 2 + seller_team[s], *args)
        if new_manager[s] >= 0:
            add(2 + n_teams + s, int(new_manager[s]), *args, when=span.day(change_week * 7))
    k = 2 + n_teams + sellers
    for (function, _), count in zip(W.SPECIALISTS, spec_counts):
        for _ in range(count):
            add(k, 1, "Sales Specialists", "Senior IC" if rng.random() < 0.5 else "IC", function, int(spec_zone[k - 2 - n_teams - sellers]),
                "IC", W.REGIONS[team_region[0]][0])
            k += 1
    windows = rng.random(len(rows)) < 0.12  # some HR systems export Windows zone names
    hired = rng.integers(200, 4000, len(rows))
    cols = list(zip(*rows))
    return pa.table({
        "PersonId": pa.array(cols[0], pa.string()),
        "EffectiveDate": pa.array([_us_date(d) for d in cols[1]], pa.string()),
        "ManagerId": pa.array(cols[2], pa.string()),
        "Organization": pa.array(cols[3], pa.string()),
        "LevelDesignation": pa.array(cols[4], pa.string()),
        "FunctionType": pa.array(cols[5], pa.string()),
        "TimeZone": pa.array([W.ZONES[z][1 if w else 0] for z, w in zip(cols[6], windows)], pa.string()),
        "HireDate": pa.array([_us_date(org_date - dt.timedelta(days=int(h))) for h in hired], pa.string()),
        "SupervisorIndicator": pa.array(cols[7], pa.string()),
        "Region": pa.array(cols[8], pa.string()),
    })


def _company_name(key: int, seed: int, seen: set) -> tuple[str, str]:
    """A pronounceable company name and its domain, unique in `seen` (a number settles rare clashes)."""
    h, m, t, s = len(W.NAME_HEADS), len(W.NAME_MIDDLES), len(W.NAME_TAILS), len(W.NAME_SUFFIXES)
    space = h * m * m * t * s
    code = (key * 1_000_003 + seed * 7_919) % space  # 1,000,003 is prime to the space: a permutation
    code, suffix = divmod(code, s)
    code, tail = divmod(code, t)
    code, mid2 = divmod(code, m)
    head, mid1 = divmod(code, m)
    stem = W.NAME_HEADS[head] + W.NAME_MIDDLES[mid1] + (W.NAME_MIDDLES[mid2] if mid2 < m // 3 else "") + W.NAME_TAILS[tail]
    tld = W.TLDS[(key + seed) % len(W.TLDS)]
    domain, n = stem.lower() + tld, 1
    while domain in seen:
        n += 1
        domain = f"{stem.lower()}{n}{tld}"
    seen.add(domain)
    name = f"{stem} {W.NAME_SUFFIXES[suffix]}".strip()
    return name, domain


def _crm(index, seed, sellers, span, rng, seen, first_contact, seller_emails, seller_team, team_start, team_size, regions) -> dict:
    own = rng.integers(8, 13, sellers)
    n_acc = int(own.sum())
    owner = np.repeat(np.arange(sellers), own)
    log_pot = rng.uniform(5, 10, n_acc)
    potential = np.round(10 ** log_pot, -3)
    kind = rng.random(n_acc)  # which revenue columns the CRM has filled in
    annual = np.where(kind < 0.85, potential, np.nan)
    revenue = np.where((kind >= 0.80) & (kind < 0.95), np.round(potential * rng.uniform(0.7, 1.1, n_acc), -3), np.nan)
    frac = (log_pot - 5) / 5
    n_contacts = np.clip(np.round(3 + 37 * frac ** 1.5 * rng.uniform(0.6, 1.0, n_acc)), 3, 40).astype(np.int64)
    contact_start = first_contact + np.concatenate([[0], np.cumsum(n_contacts)[:-1]])
    account_start = [span.first_day - dt.timedelta(days=int(d)) for d in rng.integers(60, 2500, n_acc)]

    acc_ids = [f"ACC-{index:05d}-{a:04d}" for a in range(n_acc)]
    names, domains, websites, parents = [], [], [], []
    subsidiary = rng.random(n_acc) < 0.04
    form = rng.integers(0, len(W.WEBSITE_FORMS), n_acc)
    no_site = rng.random(n_acc) < 0.05
    for a in range(n_acc):
        if subsidiary[a] and a > 0 and parents[a - 1] is None:
            p = a - 1  # a subsidiary shares its parent's domain: extrapolation must break the tie
            names.append(f"{names[p]} {W.SUBSIDIARY_WORDS[a % len(W.SUBSIDIARY_WORDS)]}")
            domains.append(domains[p])
            websites.append(None if a % 2 else f"https://www.{domains[p]}/{W.SUBSIDIARY_WORDS[a % len(W.SUBSIDIARY_WORDS)].split()[0].lower()}")
            parents.append(p)
            continue
        name, domain = _company_name(index * 1024 + a, seed, seen)
        names.append(name)
        domains.append(domain)
        websites.append(None if no_site[a] else W.WEBSITE_FORMS[form[a]].format(d=domain))
        parents.append(None)
    accounts = pa.table({
        "AccountId": pa.array(acc_ids, pa.string()),
        "AccountName": pa.array(names, pa.string()),
        "AccountsStartDate": pa.array([d.isoformat() for d in account_start], pa.string()),
        "AccountAnnualRevenue": pa.array(annual, pa.float64(), from_pandas=True).cast(pa.int64()),
        "AccountRevenue": pa.array(revenue, pa.float64(), from_pandas=True).cast(pa.int64()),
        "AccountWebsite": pa.array(websites, pa.string()),
        "AccountIndustry": pa.array([W.INDUSTRIES[i] for i in rng.integers(0, len(W.INDUSTRIES), n_acc)], pa.string()),
        "AccountType": pa.array([W.ACCOUNT_TYPES[i] for i in rng.integers(0, len(W.ACCOUNT_TYPES), n_acc)], pa.string()),
        "AccountOwnerEmail": pa.array([seller_emails[o] for o in owner], pa.string()),
        "ParentAccountId": pa.array([acc_ids[p] if p is not None else None for p in parents], pa.string()),
        "ParentAccountName": pa.array([names[p] if p is not None else None for p in parents], pa.string()),
    })
    contacts, contact_emails = _contacts(index, rng, span, acc_ids, domains, account_start, n_contacts)

    # Assignments: each account to its owner; some also to a teammate (shared coverage).
    team_of = seller_team[owner]
    shared = (rng.random(n_acc) < 0.06) & (team_size[team_of] > 1)
    size = team_size[team_of]
    step = 1 + rng.integers(0, np.maximum(size - 1, 1))
    mate = team_start[team_of] + (owner - team_start[team_of] + step) % size
    a_acc = np.concatenate([np.arange(n_acc), np.nonzero(shared)[0]])
    a_seller = np.concatenate([owner, mate[shared]])
    late = rng.random(a_acc.size) < 0.03  # a few assignments start inside the period
    starts = [span.day(int(rng.integers(0, span.days))) if lt else max(account_start[a], span.first_day - dt.timedelta(days=int(d)))
              for a, lt, d in zip(a_acc, late, rng.integers(30, 900, a_acc.size))]
    assignments = pa.table({
        # about 1 in 70 assignments names an account id the CRM export lacks (a gap the CRM data page shows)
        "SellerAssignmentAccountId": pa.array([acc_ids[a] + ("-OLD" if u else "") for a, u in
                                               zip(a_acc, rng.random(a_acc.size) < 0.015)], pa.string()),
        "SellerAssignmentStartDate": pa.array([d.isoformat() for d in starts], pa.string()),
        "SellerEmail": pa.array([seller_emails[s] for s in a_seller], pa.string()),
        "SellerStandardTitle": pa.array(["Account Executive"] * a_acc.size, pa.string()),
        "SellerRegion": pa.array([regions[seller_team[s]] for s in a_seller], pa.string()),
    })
    # Per seller, the accounts they work on, weighted so that big accounts get more of their time.
    order = np.lexsort((a_acc, a_seller))
    a_acc, a_seller = a_acc[order], a_seller[order]
    slot = np.arange(a_acc.size) - np.searchsorted(a_seller, a_seller)
    keep = slot < MAX_ACCOUNTS
    seller_accounts = np.full((sellers, MAX_ACCOUNTS), -1, dtype=np.int64)
    seller_accounts[a_seller[keep], slot[keep]] = a_acc[keep]
    weight = np.where(seller_accounts >= 0, np.power(potential[np.maximum(seller_accounts, 0)], 0.3), 0.0)
    cum = np.cumsum(weight, axis=1)
    cum /= cum[:, -1:]
    return {"accounts": accounts, "contacts": contacts, "contact_emails": contact_emails, "assignments": assignments,
            "contact_start": contact_start, "contact_count": n_contacts,
            "seller_accounts": seller_accounts, "seller_account_cum": cum}


def _contacts(index, rng, span, acc_ids, domains, account_start, n_contacts) -> tuple[pa.Table, list[str]]:
    n = int(n_contacts.sum())
    account = np.repeat(np.arange(len(acc_ids)), n_contacts)
    within = np.arange(n) - np.repeat(np.cumsum(n_contacts) - n_contacts, n_contacts)
    # Distinct names within an account: a stride walk through the name space never repeats in 40 steps.
    stride = np.array([7, 11, 13, 17, 19, 23, 29, 31])[rng.integers(0, 8, len(acc_ids))]
    combo = (rng.integers(0, _NAME_SPACE, len(acc_ids))[account] + within * stride[account]) % _NAME_SPACE
    first = [W.FIRST_NAMES[c // len(W.LAST_NAMES)] for c in combo]
    last = [W.LAST_NAMES[c % len(W.LAST_NAMES)] for c in combo]
    personal = rng.random(n) < 0.03
    pdomain = rng.integers(0, len(W.PERSONAL_DOMAINS), n)
    emails = [f"{f}.{l}{index:03d}{c:04d}@{W.PERSONAL_DOMAINS[pd]}".lower() if p else f"{f}.{l}@{domains[a]}".lower()
              for f, l, a, c, p, pd in zip(first, last, account, np.arange(n), personal, pdomain)]
    start = [min(account_start[a] + dt.timedelta(days=int(d)), span.first_day - dt.timedelta(days=1))
             for a, d in zip(account, rng.integers(0, 400, n))]
    titles = rng.integers(0, len(W.CONTACT_TITLES), n)
    # Realistic gaps for the CRM data page: on accounts with 8+ contacts, now and then 3 contacts point at an
    # account id the CRM export lacks; some people are missing from the export (matched only by the website
    # or the domain's share), a few write from a domain no account knows (not associated at all).
    big = n_contacts[account] >= 8
    moved = big & (within >= 3) & (within <= 5) & (rng.random(len(acc_ids)) < 0.03)[account]
    gone = big & (within >= 6) & (rng.random(n) < 0.06)
    stranger = gone & (rng.random(n) < 0.2)
    for c in np.flatnonzero(stranger):
        emails[c] = f"{first[c]}.{last[c]}@{domains[account[c]].split('.')[0]}-partners.example".lower()
    account_ids = [acc_ids[a] + ("-OLD" if m else "") for a, m in zip(account, moved)]
    table = pa.table({
        "ContactsAccountId": pa.array(account_ids, pa.string()),
        "ContactId": pa.array([f"CON-{index:05d}-{c:05d}" for c in range(n)], pa.string()),
        "ContactName": pa.array([f"{f} {l}" for f, l in zip(first, last)], pa.string()),
        "ContactEmail": pa.array(emails, pa.string()),
        "ContactsStartDate": pa.array([_us_date(d) for d in start], pa.string()),
        "ContactFirstName": pa.array(first, pa.string()),
        "ContactLastName": pa.array(last, pa.string()),
        "ContactTitle": pa.array([W.CONTACT_TITLES[t] for t in titles], pa.string()),
    })
    return table.filter(pa.array(~gone)), emails
