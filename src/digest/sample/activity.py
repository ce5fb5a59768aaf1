"""A block's mail and chat traffic; the `Picker` that chooses who a seller works with.

Counts per seller and week follow the brief: 60-80 mails sent, about 120-180 received (what
colleagues send them on top of the mails drawn here), a few chats with a handful of messages.
Customer mails form threads (ConversationId): a third of the customer mails a seller receives get
the seller's reply, and most of the customer mails the seller starts get the contact's reply, after
a log-normal delay (minutes to days, a few past the 14 days that still count as a reply); the rest
stay unanswered. A reply is one of the week's mails made into it, so the counts stay the same.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from digest.sources.contract import CHAT_MEMBERS, CHAT_MESSAGES, MAIL_RECIPIENTS, MAILS, RECIPIENT_KINDS, SENSITIVITY
from digest.sample.base import Participants, Span, hex_ids, id_keys, timestamps, work_days, work_seconds
from digest.sample.org import DIRECTOR, VP, Block

KIND_MAIL, KIND_CHAT, KIND_MESSAGE, KIND_MEETING, KIND_CALL, KIND_CONVERSATION = 1, 2, 3, 4, 5, 6
TO, CC, BCC = (RECIPIENT_KINDS.index(k) for k in ("to", "cc", "bcc"))
SENSITIVITY_P = (0.94, 0.01, 0.03, 0.02)  # normal, personal, private, confidential
SENSITIVITY_WORDS = pa.array(SENSITIVITY, pa.string())
SELLER_REPLIES_SHARE, CONTACT_REPLIES_SHARE = 0.35, 0.6  # of received customer mails / of threads the seller starts
REPLY_MEDIAN_HOURS = {True: 3.0, False: 8.0}  # the seller replies faster than the customer (log-normal medians)
REPLY_SIGMA = 1.5  # log-normal spread: a tenth within the hour or so, one in twenty after more than a day
_KINDS = pa.array(RECIPIENT_KINDS, pa.string())


def draw(rng: np.random.Generator, n: int, probs: tuple[float, ...]) -> np.ndarray:
    """n codes 0..len(probs)-1 with the given probabilities."""
    return np.searchsorted(np.cumsum(probs), rng.random(n) * sum(probs), side="right").astype(np.int8)


def words(codes: np.ndarray, dictionary: pa.Array) -> pa.Array:
    return dictionary.take(pa.array(codes.astype(np.int32)))


class Picker:
    """Chooses the people a seller deals with, vectorised over events (`s` = block-local seller)."""

    def __init__(self, block: Block, rng: np.random.Generator):
        self.b, self.rng = block, rng

    def manager(self, s: np.ndarray, week: np.ndarray) -> np.ndarray:
        b = self.b
        moved = (b.new_manager[s] >= 0) & (week >= b.change_week)
        return np.where(moved, b.new_manager[s], b.managers[b.seller_team[s]])

    def teammate(self, s: np.ndarray) -> np.ndarray:
        b, t = self.b, self.b.seller_team[s]
        size = b.team_size[t]
        step = 1 + (self.rng.random(s.size) * np.maximum(size - 1, 1)).astype(np.int64)
        mate = b.sellers[b.team_start[t] + (s - b.team_start[t] + step) % size]
        return np.where(size > 1, mate, b.managers[t])

    def specialist(self, n: int) -> np.ndarray:
        return self.b.specialists[self.rng.integers(0, self.b.specialists.size, n)]

    def colleague(self, s: np.ndarray, week: np.ndarray, teammates: float = 0.35) -> np.ndarray:
        """Teammates and specialists mostly, the manager often, the director or VP now and then."""
        u = self.rng.random(s.size)
        out = self.teammate(s)
        out = np.where(u >= teammates, self.manager(s, week), out)
        out = np.where(u >= teammates + 0.17, self.specialist(s.size), out)
        out = np.where(u >= 0.94, DIRECTOR, out)
        return np.where(u >= 0.985, VP, out)

    def account(self, s: np.ndarray) -> np.ndarray:
        cum = self.b.seller_account_cum[s]
        slot = (cum < self.rng.random(s.size)[:, None]).sum(axis=1)
        return self.b.seller_accounts[s, np.minimum(slot, cum.shape[1] - 1)]

    def first_contact(self, account: np.ndarray) -> np.ndarray:
        """A starting contact: skewed to the account's first contacts (a few people do most talking)."""
        count = self.b.contact_count[account]
        return (self.rng.random(account.size) ** 2 * count).astype(np.int64)

    def contact(self, account: np.ndarray, first: np.ndarray, j: int | np.ndarray) -> np.ndarray:
        """The j-th distinct contact after `first` (wraps around the account; -1 past its size)."""
        count = self.b.contact_count[account]
        return np.where(j < count, self.b.contact_start[account] + (first + j) % count, -1)


def seller_weeks(rng: np.random.Generator, sellers: int, weeks: int, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Events per (seller, week) drawn from [low, high]: their seller and week arrays."""
    n = rng.integers(low, high + 1, sellers * weeks)
    s = np.repeat(np.repeat(np.arange(sellers), weeks), n)
    w = np.repeat(np.tile(np.arange(weeks), sellers), n)
    return s, w


def mails(block: Block, span: Span, seed: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    """Mails sent and received by the block's sellers, and their recipients (some seen twice)."""
    pick, b = Picker(block, rng), block
    rec = Participants()
    # Sent by the seller; teammates' mails drawn below add about 7 more as sender.
    s1, w1 = seller_weeks(rng, b.sellers.size, span.weeks, 56, 70)
    s2, w2 = seller_weeks(rng, b.sellers.size, span.weeks, 95, 145)  # sent to the seller
    s, w = np.concatenate([s1, s2]), np.concatenate([w1, w2])
    n, sent = s.size, np.arange(s.size) < s1.size
    e = np.arange(n)
    customer = rng.random(n) < 0.45
    acc = pick.account(s)
    first = pick.first_contact(acc)
    parent, delay = _threads(rng, s * span.weeks + w, sent, customer)
    child = np.flatnonzero(parent >= 0)
    acc[child], first[child] = acc[parent[child]], first[parent[child]]  # a reply is to the parent's account and contact
    sender = np.where(sent, b.sellers[s], np.where(customer, pick.contact(acc, first, 0), pick.colleague(s, w, teammates=0.1)))
    # The seller: sender, or recipient (to, else cc with someone else in to).
    seller_cc = ~sent & (rng.random(n) < 0.25)
    rec.add(e, b.sellers[s], TO, ~sent & ~seller_cc)
    j0 = np.where(sent, 0, 1)  # a received customer mail's contact 0 is its sender
    k_contacts = np.where(sent, 1 + rng.binomial(2, 0.3, n), seller_cc.astype(np.int64))
    k_colleagues = np.where(sent, 1 + rng.binomial(3, 0.3, n), seller_cc.astype(np.int64))
    for j in range(4):
        rec.add(e, pick.contact(acc, first, j0 + j), TO, customer & (j < k_contacts))
        rec.add(e, pick.colleague(s, w), TO, ~customer & (j < k_colleagues))
    rec.add(e, b.sellers[s], CC, seller_cc)
    rec.add(e, pick.colleague(s, w), CC, ~sent & ~customer & (rng.random(n) < 0.3))
    k_cc = rng.binomial(2, 0.25, n)
    for j in range(2):
        rec.add(e, pick.contact(acc, first, j0 + 3 + j), CC, customer & (j < k_cc))
    rec.add(e, pick.specialist(n), CC, customer & (rng.random(n) < 0.2))
    rec.add(e, pick.manager(s, w), CC, rng.random(n) < 0.1)
    rec.add(e, pick.colleague(s, w), BCC, sent & (rng.random(n) < 0.02))
    event, person, kind = rec.rows(exclude=sender)

    zone = b.seller_zone[s]
    sent_time = span.to_utc(work_days(rng, w), work_seconds(rng, n), zone)
    reply_time = sent_time[parent[child]] + delay[child]
    in_span = reply_time < span.to_utc(np.full(child.size, span.days), np.zeros(child.size), zone[child])
    sent_time[child[in_span]] = reply_time[in_span]  # a reply past the last day stays a mail of its own
    conversation = e.copy()
    conversation[child[in_span]] = parent[child[in_span]]
    sensitivity = draw(rng, n, SENSITIVITY_P)
    # The same message pulled from a second mailbox: same MailId, same rows (the loader collapses them).
    dup = np.nonzero(rng.random(n) < 0.05)[0]
    mail_rows = np.concatenate([e, dup])
    rec_dup = np.isin(event, dup)
    rec_rows = np.concatenate([np.arange(event.size), np.nonzero(rec_dup)[0]])
    ids = hex_ids(id_keys(seed, KIND_MAIL, b.index, e), "<", "@namprd11.prod.outlook.com>", upper=True)
    conversations = hex_ids(id_keys(seed, KIND_CONVERSATION, b.index, conversation), "AAQkAGVmMDAwLTAw")
    idx = pa.array(mail_rows)
    mails_t = pa.table([ids.take(idx), timestamps(sent_time[mail_rows]), b.emails.take(pa.array(sender[mail_rows])),
                        words(sensitivity[mail_rows], SENSITIVITY_WORDS), conversations.take(idx)], schema=MAILS.arrow_schema())
    rcp = pa.table([ids.take(pa.array(event[rec_rows])), b.emails.take(pa.array(person[rec_rows])),
                    words(kind[rec_rows], _KINDS)], schema=MAIL_RECIPIENTS.arrow_schema())
    return {"mails": mails_t, "mail_recipients": rcp}


def _threads(rng: np.random.Generator, group: np.ndarray, sent: np.ndarray, customer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per mail: the mail it replies to (-1: none) and the delay (microseconds), within each (seller, week) group.

    The group's received customer mails R and sent customer mails S are ranked at random; R_i and
    S_i are paired for i < k_you + k_them: for i < k_you (a third of R, at most |S|) S_i is the
    seller's reply to R_i, then R_i is the contact's reply to S_i (60 % of the S left).
    """
    n = group.size
    rank = np.zeros(n, dtype=np.int64)
    size = {}
    for side in (True, False):
        idx = np.flatnonzero(customer & (sent == side))
        idx = idx[np.lexsort((rng.random(idx.size), group[idx]))]
        g = group[idx]
        start = np.searchsorted(g, g, side="left")
        rank[idx] = np.arange(idx.size) - start
        size[side] = np.bincount(g, minlength=int(group.max(initial=0)) + 1)
    n_sent, n_recv = size[True], size[False]
    k_you = np.minimum((SELLER_REPLIES_SHARE * n_recv).astype(np.int64), n_sent)
    k_them = np.minimum((CONTACT_REPLIES_SHARE * (n_sent - k_you)).astype(np.int64), n_recv - k_you)
    paired = customer & (rank < (k_you + k_them)[group])
    key = group.astype(np.int64) * (n + 1) + rank  # (group, rank): the two mails of a pair share it
    recv = np.flatnonzero(paired & ~sent)
    order = np.argsort(key[recv])
    snt = np.flatnonzero(paired & sent)
    other = recv[order][np.searchsorted(key[recv][order], key[snt])]  # the received mail of each sent one
    you_reply = rank[snt] < k_you[group[snt]]
    parent = np.full(n, -1, dtype=np.int64)
    parent[snt[you_reply]] = other[you_reply]  # the seller answers the customer
    parent[other[~you_reply]] = snt[~you_reply]  # the customer answers the seller
    median = np.where(sent, REPLY_MEDIAN_HOURS[True], REPLY_MEDIAN_HOURS[False]) * 3600
    delay = np.exp(np.log(median) + REPLY_SIGMA * rng.standard_normal(n)).astype(np.int64) * 1_000_000  # whole seconds
    return parent, np.maximum(delay, 60_000_000)


def chats(block: Block, span: Span, seed: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    """Each seller's standing chats (manager, teammates, a specialist, some with customers) and the team chat."""
    pick, b = Picker(block, rng), block
    n_sel, n_team = b.sellers.size, b.managers.size
    members = Participants()
    # Chat kinds per seller: 0 manager 1:1, 1-2 teammate 1:1, 3 specialist 1:1, 4 deal chat, 5 group chat.
    kinds = np.tile(np.arange(6), n_sel)
    owner = np.repeat(np.arange(n_sel), 6)
    exists = (kinds < 4) | ((kinds == 4) & (rng.random(kinds.size) < 0.4)) | ((kinds == 5) & (rng.random(kinds.size) < 0.3))
    kinds, owner = kinds[exists], owner[exists]
    c = np.arange(kinds.size)
    week0 = np.zeros(c.size, dtype=np.int64)
    members.add(c, b.sellers[owner], 0)
    members.add(c, pick.manager(owner, week0), 0, kinds == 0)
    members.add(c, pick.teammate(owner), 0, (kinds == 1) | (kinds == 2))
    members.add(c, pick.specialist(c.size), 0, (kinds == 3) | (kinds == 4))
    acc = pick.account(owner)
    first = pick.first_contact(acc)
    for j in range(2):
        members.add(c, pick.contact(acc, first, j), 0, (kinds == 4) & ((j == 0) | (rng.random(c.size) < 0.5)))
    for _ in range(3):
        members.add(c, pick.colleague(owner, week0), 0, kinds == 5)
    team_chat = c.size + np.arange(n_team)  # the team chat: manager and every seller of the team
    members.add(team_chat, b.managers, 0)
    members.add(b.seller_team + c.size, b.sellers, 0)
    chat, person, _ = members.rows()
    n_chats = c.size + n_team
    chat_ids = hex_ids(id_keys(seed, KIND_CHAT, b.index, np.arange(n_chats)), "19:", "@thread.v2")
    start = np.searchsorted(chat, np.arange(n_chats))
    size = np.bincount(chat, minlength=n_chats)

    rate = np.concatenate([np.array([4.0, 3.0, 2.0, 3.0, 4.0, 5.0])[kinds], np.full(n_team, 12.0)])
    zone = np.concatenate([b.seller_zone[owner], b.team_zone])
    per_week = rng.poisson(np.tile(rate, span.weeks))  # chats-by-week
    m_chat = np.repeat(np.tile(np.arange(n_chats), span.weeks), per_week)
    m_week = np.repeat(np.repeat(np.arange(span.weeks), n_chats), per_week)
    sender = person[start[m_chat] + (rng.random(m_chat.size) * size[m_chat]).astype(np.int64)]
    sent = span.to_utc(work_days(rng, m_week), work_seconds(rng, m_chat.size), zone[m_chat])
    msg_ids = hex_ids(id_keys(seed, KIND_MESSAGE, b.index, np.arange(m_chat.size)), "")
    messages = pa.table([msg_ids, chat_ids.take(pa.array(m_chat)), timestamps(sent), b.emails.take(pa.array(sender))],
                        schema=CHAT_MESSAGES.arrow_schema())
    members_t = pa.table([chat_ids.take(pa.array(chat)), b.emails.take(pa.array(person))], schema=CHAT_MEMBERS.arrow_schema())
    return {"chat_messages": messages, "chat_members": members_t}
