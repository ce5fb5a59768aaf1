"""Every email of the dataset once, as a small integer (``pid``), and each address column as those integers.

The collaboration files hold tens of millions of addresses of a few hundred thousand people
(at 20,000 sellers, ~45 M). Joining them as strings, table by table, was much of the metrics'
time. Here each address column is read as an Arrow dictionary (the loader keeps them so,
``digest.sources.files.dictionary_encoded``; a plain column is encoded here): the distinct values
are looked up once, and each row's pid is the dictionary index mapped through that lookup (one
``take``). Only the values a row uses count (a filtered table keeps its whole dictionary).

:func:`with_pids` returns the dataset with one integer column next to each address column
(:data:`PID_COLUMNS`) and the table ``persons`` (email, pid) the session registers; SQL then joins
integers (``w.pid = x.pid``) where it joined emails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from digest.sources.contract import Dataset
from digest.sources.files import encoded

# (table, address column, its pid column); people.PersonId has no pid column: it only adds its people.
PID_COLUMNS = (
    ("mails", "Sender", "sender_pid"),
    ("mail_recipients", "Email", "pid"),
    ("meetings", "Organizer", "organizer_pid"),
    ("meeting_attendees", "Email", "pid"),
    ("call_participants", "Email", "pid"),
    ("chat_members", "Email", "pid"),
    ("chat_messages", "Sender", "sender_pid"),
)
_PEOPLE = ("people", "PersonId", None)


def codes(column: pa.ChunkedArray) -> tuple[pa.Array, pa.ChunkedArray]:
    """(dictionary, indices) of a text column: equal values, equal indices; null stays null."""
    column = encoded(column)
    if column.num_chunks == 0:
        return pa.array([], pa.string()), pa.chunked_array([], pa.int32())
    return column.chunk(0).dictionary, pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)


def with_pids(dataset: Dataset) -> tuple[Dataset, pa.Table]:
    """The dataset with the integer columns of :data:`PID_COLUMNS`, and ``persons`` (email, pid from 1).

    One hash pass over the values in use of every column's dictionary (at 20,000 sellers ~7 M):
    ``dictionary_encode`` of their concatenation gives both the distinct emails and, for each
    column's values in use, their position among them.
    """
    coded, used = [], []
    for table, column, pid_column in PID_COLUMNS + (_PEOPLE,):
        dictionary, indices = codes(getattr(dataset, table).column(column))
        in_use = np.zeros(len(dictionary), dtype=bool)
        for chunk in indices.chunks:
            in_use[(chunk.drop_null() if chunk.null_count else chunk).to_numpy()] = True
        seen = np.flatnonzero(in_use)
        coded.append((table, pid_column, len(dictionary), seen, indices))
        used.append(dictionary.take(pa.array(seen)))
    everyone = pc.dictionary_encode(pa.concat_arrays(used))
    emails, position = everyone.dictionary, everyone.indices.to_numpy(zero_copy_only=False)
    persons = pa.table({"email": emails, "pid": pa.array(np.arange(1, len(emails) + 1, dtype=np.int32))})
    changed, start = {}, 0
    for table, pid_column, size, seen, indices in coded:
        pid_of = np.zeros(size, dtype=np.int32)  # 0: a value no row uses (its rows: none)
        pid_of[seen] = position[start:start + len(seen)] + 1
        start += len(seen)
        if pid_column is None:
            continue
        lookup = pa.array(pid_of)
        pids = pa.chunked_array([lookup.take(chunk) for chunk in indices.chunks], pa.int32())  # null stays null
        changed[table] = changed.get(table, getattr(dataset, table)).append_column(pid_column, pids)
    return dataclasses.replace(dataset, **changed), persons
