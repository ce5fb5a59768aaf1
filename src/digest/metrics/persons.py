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
from digest.sources.files import one_dictionary

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
    """(dictionary, int32 indices) of a text column: equal values, equal indices; null stays null."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if column.num_chunks == 0:
        return pa.array([], pa.string()), pa.chunked_array([], pa.int32())
    if not one_dictionary(column):
        column = column.unify_dictionaries()  # e.g. a table put together from several files
    dictionary = column.chunk(0).dictionary
    if dictionary.type != pa.string():
        dictionary = dictionary.cast(pa.string())
    indices = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
    if indices.type != pa.int32():
        indices = indices.cast(pa.int32())
    return dictionary, indices


def with_pids(dataset: Dataset) -> tuple[Dataset, pa.Table]:
    """The dataset with the integer columns of :data:`PID_COLUMNS`, and ``persons`` (email, pid from 1)."""
    coded = {}
    used = []
    for table, column, _ in PID_COLUMNS + (_PEOPLE,):
        dictionary, indices = codes(getattr(dataset, table).column(column))
        coded[table, column] = dictionary, indices
        seen = pc.unique(indices).drop_null()
        used.append(dictionary.take(seen))
    emails = pc.unique(pa.concat_arrays(used) if used else pa.array([], pa.string())).drop_null()
    persons = pa.table({"email": emails, "pid": pa.array(np.arange(1, len(emails) + 1, dtype=np.int32))})
    changed = {}
    for table, column, pid_column in PID_COLUMNS:
        dictionary, indices = coded[table, column]
        lookup = pc.add(pc.index_in(dictionary, value_set=emails), 1).cast(pa.int32())  # null: a value no row uses
        pids = pa.chunked_array([lookup.take(chunk) for chunk in indices.chunks], pa.int32())
        current = changed.get(table, getattr(dataset, table))
        changed[table] = current.append_column(pid_column, pids)
    return dataclasses.replace(dataset, **changed), persons
