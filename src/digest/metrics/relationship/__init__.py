"""Relationship health per account (CONTRACT.md §8) over a :class:`digest.metrics.session.Session`.

The window is ``relationship.window_weeks`` ISO weeks ending with the reported week, in the
seller's zone, moved to the first day of data when the data is shorter. Everything is DuckDB SQL
over the session's dataset tables and its ``who`` / ``keys`` / ``sellers`` tables (the same
matching, exclusions, opt-outs and de-duplicated rows as the other cards); the interaction rules of
§3 come from :func:`digest.metrics.interactions.counted` plus the meeting headcount rule here. The
other cards' arrays cover 28 days only: this step reads its longer range on its own, after they
are gone, so the other cards are not slowed down.

Steps (temp tables; strings are compared once, in the first joins, then only integers):

1. ``rel_who``: who matters, the sellers (``sid``) and external people matched to an account (``kid``);
2. strings to integers, once: ``rel_conv`` numbers the conversations (every address already has
   its pid: digest.metrics.persons); ``rel_ms`` is every counted
   mail (any time: conversation starts look back to the start of the data) with its row ``r``,
   time, ``cid`` and sender (pid, sid, kid); ``rel_mx`` every recipient of them who matters, with
   the mail's row and ``cid`` and its own pid / sid / kid. The recipients and meeting attendees come
   as integers from the session (``mail_rcpt``, ``meeting_att``: digest.metrics.interactions.SHARED_PARTICIPANTS,
   the MailId / MeetingId and email joins done once for all cards); this step drops them at its end;
3. ``rel_keep``: only the mails with an account person and the mails of their conversations go on
   (``rel_mp`` one row per mail and person who matters, ``rel_sm`` the sellers' own mails);
   meetings, calls and chats read their participants' pids the same way;
4. ``rel_rows``: one row per seller, interaction and account person the seller saw in it (mails as
   the seller sees them: the sender sees bcc recipients, a bcc'd seller sees the visible ones),
   with ``you`` (the seller sent / organised), ``them`` (that person sent / organised), and for
   mails the conversation (``cid``) and whether the mail starts it for the seller (``start``);
5. ``rel_int``: the rows per (seller, account, interaction); per (seller, account) the counts,
   weeks, last and next interaction, response medians (one window pass) and the health score of
   both windows (the window and the one a week earlier), and the three most contacted people
   (``rel_top``; names looked up for those only).

:func:`card` turns the rows into a :class:`digest.cards.Relationship` (the accounts of the
time-with-customers card, in its order). docs/metrics.md#relationship-health has the rules in words.

Modules: ``window`` (the window per time zone), ``sql`` (the steps' SQL, in order), ``steps``
(running them over a session: :func:`results`), ``card`` (the card of one seller: :func:`card`).
"""

from digest.metrics.relationship.card import card, grade
from digest.metrics.relationship.steps import results
from digest.metrics.relationship.window import ZoneWindow, first_day_of_data, zone_windows

__all__ = ["ZoneWindow", "card", "first_day_of_data", "grade", "results", "zone_windows"]
