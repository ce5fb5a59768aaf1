"""A block's meetings (recurring, customer, internal, all-day, all-hands) and Teams calls.

Per seller and week: a 1:1 with the manager and the team meeting (same slot every week),
9-16 customer meetings, 6-11 internal ones, now and then an all-day event; some overlap, some
are declined, cancelled or private. A third of the meetings ran as a Teams call (with MeetingId);
on top, a few unscheduled 1:1 calls.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from digest.sources.contract import CALL_PARTICIPANTS, CALLS, MEETING_ATTENDEES, MEETINGS, RESPONSES
from digest.sample.activity import (KIND_CALL, KIND_MEETING, SENSITIVITY_P, SENSITIVITY_WORDS, Picker, draw,
                                            seller_weeks, words)
from digest.sample.base import DAY, Participants, Span, hex_ids, id_keys, slot_seconds, timestamps, work_days
from digest.sample.org import DIRECTOR, VP, Block

ORGANIZER, ACCEPTED, TENTATIVE, DECLINED, NOT_RESPONDED, NONE = range(6)
SELLER_REPLIES = (0, 0.75, 0.10, 0.07, 0.05, 0.03)
CUSTOMER_REPLIES = (0, 0.55, 0.10, 0.05, 0.25, 0.05)
COLLEAGUE_REPLIES = (0, 0.70, 0.10, 0.08, 0.12, 0)
ALL_HANDS_REPLIES = (0, 0.50, 0.15, 0.10, 0.25, 0)
MEETING_ID_PREFIX = "040000008200E00074C5B7101A82E00800000000"  # how Outlook's iCalUId values begin
_RESPONSES = pa.array(RESPONSES, pa.string())


def all_hands_weeks(weeks: int) -> np.ndarray:
    """The weeks (0-based in the span) with the monthly all-hands: every fourth, from the first."""
    return np.arange(0, weeks, 4)


def all_hands_ids(seed: int, weeks: int) -> pa.Array:
    return hex_ids(id_keys(seed, KIND_MEETING, 0xFFFFFF, all_hands_weeks(weeks)), MEETING_ID_PREFIX, upper=True)


class _Meetings:
    """Accumulates meetings (as parallel arrays) and their attendees (Participants)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in ("organizer", "start", "length", "cancelled", "sensitivity", "kind")}
        self.attendees = Participants()
        self.n = 0

    def add(self, organizer, start, length, cancelled, sensitivity, kind: int) -> np.ndarray:
        """Add len(organizer) meetings; returns their event numbers (to attach attendees)."""
        e = self.n + np.arange(organizer.size)
        for key, value in (("organizer", organizer), ("start", start), ("length", length), ("cancelled", cancelled),
                           ("sensitivity", sensitivity), ("kind", np.full(organizer.size, kind))):
            self.cols[key].append(np.asarray(value))
        self.attendees.add(e, organizer, ORGANIZER)
        self.n += organizer.size
        return e

    def column(self, key: str) -> np.ndarray:
        return np.concatenate(self.cols[key])


def meetings(block: Block, span: Span, seed: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    """Meetings and calls of one block (the all-hands rows come from the company part)."""
    pick, b, m = Picker(block, rng), block, _Meetings()
    n_sel, n_team, weeks = b.sellers.size, b.managers.size, span.weeks
    none = lambda n: np.zeros(n, dtype=bool)  # noqa: E731
    normal = lambda n: np.zeros(n, dtype=np.int8)  # noqa: E731

    # Weekly 1:1 with the manager, same weekday and slot every week (a recurring series).
    s, w = np.repeat(np.arange(n_sel), weeks), np.tile(np.arange(weeks), n_sel)
    day, slot = rng.integers(0, 5, n_sel)[s] + 7 * w, slot_seconds(rng, n_sel)[s]
    e = m.add(pick.manager(s, w), span.to_utc(day, slot, b.seller_zone[s]), np.full(s.size, 1800), none(s.size), normal(s.size), 0)
    m.attendees.add(e, b.sellers[s], draw(rng, s.size, SELLER_REPLIES))

    # Weekly team meeting in the manager's zone.
    t, w = np.repeat(np.arange(n_team), weeks), np.tile(np.arange(weeks), n_team)
    day, slot = rng.integers(0, 5, n_team)[t] + 7 * w, slot_seconds(rng, n_team, 9, 16)[t]
    e = m.add(b.managers[t], span.to_utc(day, slot, b.team_zone[t]), np.full(t.size, 3600), none(t.size), normal(t.size), 1)
    member_of = np.nonzero(b.seller_team[None, :] == t[:, None])  # (meeting, seller) pairs
    m.attendees.add(e[member_of[0]], b.sellers[member_of[1]], draw(rng, member_of[0].size, COLLEAGUE_REPLIES))

    # Customer meetings: 1-6 contacts of one account, sometimes a specialist, the manager or a leader.
    s, w = seller_weeks(rng, n_sel, weeks, 9, 16)
    n = s.size
    acc = pick.account(s)
    first = pick.first_contact(acc)
    by_seller = rng.random(n) < 0.65
    organizer = np.where(by_seller, b.sellers[s], pick.contact(acc, first, 0))
    e = m.add(organizer, _starts(rng, span, w, b.seller_zone[s]), _lengths(rng, n), rng.random(n) < 0.03,
              draw(rng, n, SENSITIVITY_P), 2)
    m.attendees.add(e, b.sellers[s], draw(rng, n, SELLER_REPLIES))
    k = 1 + rng.binomial(5, 0.25, n)
    for j in range(6):
        m.attendees.add(e, pick.contact(acc, first, j), draw(rng, n, CUSTOMER_REPLIES), j < k)
    m.attendees.add(e, pick.specialist(n), draw(rng, n, COLLEAGUE_REPLIES), rng.random(n) < 0.30)
    m.attendees.add(e, pick.manager(s, w), draw(rng, n, COLLEAGUE_REPLIES), rng.random(n) < 0.15)
    leader = np.where(rng.random(n) < 0.75, DIRECTOR, VP)
    m.attendees.add(e, leader, draw(rng, n, COLLEAGUE_REPLIES), rng.random(n) < 0.06)

    # Internal meetings with 1-5 colleagues.
    s, w = seller_weeks(rng, n_sel, weeks, 6, 11)
    n = s.size
    by_seller = rng.random(n) < 0.5
    organizer = np.where(by_seller, b.sellers[s], pick.colleague(s, w))
    e = m.add(organizer, _starts(rng, span, w, b.seller_zone[s]), _lengths(rng, n), rng.random(n) < 0.03,
              draw(rng, n, SENSITIVITY_P), 3)
    m.attendees.add(e, b.sellers[s], draw(rng, n, SELLER_REPLIES))
    k = 1 + rng.binomial(4, 0.3, n)
    for j in range(5):
        m.attendees.add(e, pick.colleague(s, w), draw(rng, n, COLLEAGUE_REPLIES), j < k)

    # Now and then an all-day event (training, offsite): 8 hours or more, never counted.
    s, w = np.nonzero(rng.random((n_sel, weeks)) < 0.1)
    if block.index == 0 and s.size == 0:
        s, w = np.array([0]), np.array([weeks - 1])
    n = s.size
    whole_day = rng.random(n) < 0.5
    start = span.to_utc(rng.integers(0, 5, n) + 7 * w, np.where(whole_day, 0, 9 * 3600), b.seller_zone[s])
    e = m.add(np.full(n, DIRECTOR), start, np.where(whole_day, DAY, 9 * 3600), none(n), normal(n), 4)
    m.attendees.add(e, b.sellers[s], draw(rng, n, SELLER_REPLIES))
    for _ in range(2):
        m.attendees.add(e, pick.teammate(s), draw(rng, n, COLLEAGUE_REPLIES))

    # Customer meetings already planned in the two weeks after the last one (the calendar ahead), a few cancelled.
    s = np.repeat(np.arange(n_sel), rng.integers(1, 4, n_sel))
    n = s.size
    acc = pick.account(s)
    first = pick.first_contact(acc)
    organizer = np.where(rng.random(n) < 0.65, b.sellers[s], pick.contact(acc, first, 0))
    day = span.days + rng.integers(0, 5, n) + 7 * (rng.random(n) < 0.5)
    e = m.add(organizer, span.to_utc(day, slot_seconds(rng, n), b.seller_zone[s]), _lengths(rng, n), rng.random(n) < 0.1,
              normal(n), 5)
    m.attendees.add(e, b.sellers[s], draw(rng, n, SELLER_REPLIES))
    k = 1 + rng.binomial(3, 0.3, n)
    for j in range(4):
        m.attendees.add(e, pick.contact(acc, first, j), draw(rng, n, CUSTOMER_REPLIES), j < k)

    tables = _tables(m, b, span, seed, rng)
    tables["meeting_attendees"] = pa.concat_tables([tables["meeting_attendees"], _all_hands_attendees(b, seed, span, rng)])
    return tables


def _starts(rng: np.random.Generator, span: Span, week: np.ndarray, zone: np.ndarray) -> np.ndarray:
    return span.to_utc(work_days(rng, week, weekend=0.01), slot_seconds(rng, week.size), zone)


def _lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.array([1800, 2700, 3600, 5400, 7200])[draw(rng, n, (0.45, 0.10, 0.30, 0.10, 0.05))]


def _all_hands_attendees(b: Block, seed: int, span: Span, rng: np.random.Generator) -> pa.Table:
    """The block's people invited to every monthly all-hands (the meeting row is the company's)."""
    ids = all_hands_ids(seed, span.weeks)
    people = np.arange(DIRECTOR, b.specialists[-1] + 1)  # everyone but the VP, who organizes
    which = np.repeat(np.arange(len(ids)), people.size)
    return pa.table([ids.take(pa.array(which)), b.emails.take(pa.array(np.tile(people, len(ids)))),
                     words(draw(rng, which.size, ALL_HANDS_REPLIES), _RESPONSES)], schema=MEETING_ATTENDEES.arrow_schema())


def _tables(m: _Meetings, b: Block, span: Span, seed: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    organizer, start, length = m.column("organizer"), m.column("start"), m.column("length")
    cancelled, kind = m.column("cancelled"), m.column("kind")
    event, person, reply = m.attendees.rows()
    ids = hex_ids(id_keys(seed, KIND_MEETING, b.index, np.arange(m.n)), MEETING_ID_PREFIX, upper=True)
    end = start + length * 1_000_000
    meetings_t = pa.table([ids, timestamps(start), timestamps(end), b.emails.take(pa.array(organizer)),
                           pa.array(cancelled, pa.bool_()), words(m.column("sensitivity"), SENSITIVITY_WORDS)],
                          schema=MEETINGS.arrow_schema())
    attendees = pa.table([ids.take(pa.array(event)), b.emails.take(pa.array(person)), words(reply, _RESPONSES)],
                         schema=MEETING_ATTENDEES.arrow_schema())

    # A third of customer and internal meetings ran on Teams: a call with the MeetingId.
    online = ((kind == 2) | (kind == 3)) & ~cancelled & (rng.random(m.n) < 0.35)
    joined = online[event] & (reply != DECLINED) & (rng.random(event.size) < 0.85)
    c_event, c_person = event[joined], person[joined]
    join = start[c_event] + rng.integers(-120, 300, c_event.size) * 1_000_000
    leave = np.maximum(end[c_event] + rng.integers(-600, 300, c_event.size) * 1_000_000, join + 60_000_000)
    meeting_of_call, call_of_row = np.unique(c_event, return_inverse=True)

    # Unscheduled 1:1 calls with a colleague or a customer.
    pick = Picker(b, rng)
    s, w = seller_weeks(rng, b.sellers.size, span.weeks, 2, 7)
    n = s.size
    acc = pick.account(s)
    other = np.where(rng.random(n) < 0.7, pick.colleague(s, w), pick.contact(acc, pick.first_contact(acc), 0))
    begin = span.to_utc(work_days(rng, w), slot_seconds(rng, n) + rng.integers(0, 1800, n), b.seller_zone[s])
    length = np.clip(rng.exponential(720, n), 60, 3600).astype(np.int64) * 1_000_000
    other_join = begin + rng.integers(0, 40, n) * 1_000_000
    other_leave = begin + length - rng.integers(0, 20, n) * 1_000_000

    n_sched = meeting_of_call.size
    call = np.concatenate([call_of_row, n_sched + np.arange(n), n_sched + np.arange(n)])
    who = np.concatenate([c_person, b.sellers[s], other])
    joins = np.concatenate([join, begin, other_join])
    leaves = np.concatenate([leave, begin + length, other_leave])
    order = np.argsort(call, kind="stable")
    call, who, joins, leaves = call[order], who[order], joins[order], leaves[order]
    n_calls = n_sched + n
    first_join = np.minimum.reduceat(joins, np.searchsorted(call, np.arange(n_calls)))
    last_leave = np.maximum.reduceat(leaves, np.searchsorted(call, np.arange(n_calls)))
    call_ids = hex_ids(id_keys(seed, KIND_CALL, b.index, np.arange(n_calls)), "")
    meeting_ids = pa.concat_arrays([ids.take(pa.array(meeting_of_call)), pa.nulls(n, pa.string())])
    calls_t = pa.table([call_ids, timestamps(first_join), timestamps(last_leave), meeting_ids], schema=CALLS.arrow_schema())
    participants = pa.table([call_ids.take(pa.array(call)), b.emails.take(pa.array(who)), timestamps(joins), timestamps(leaves)],
                            schema=CALL_PARTICIPANTS.arrow_schema())
    return {"meetings": meetings_t, "meeting_attendees": attendees, "calls": calls_t, "call_participants": participants}
