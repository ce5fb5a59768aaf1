"""digest.metrics.persons: every email once as an integer, each address column as those integers."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pyarrow.compute as pc

from digest.metrics.persons import PID_COLUMNS, codes, with_pids
from digest.sources.contract import FILES, Dataset, empty_table


def _dataset(**tables: pa.Table) -> Dataset:
    empty = {spec.key: empty_table(spec) for spec in FILES}
    base = Dataset(**empty)
    changed = {}
    for key, rows in tables.items():
        table = getattr(base, key)
        changed[key] = pa.Table.from_pylist(rows, schema=plain_schema(table.schema))
    return dataclasses.replace(base, **changed)


def plain_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema])


def test_codes_are_equal_for_equal_values_and_null_stays_null():
    column = pa.chunked_array([pa.array(["b", None, "a"]), pa.array(["a", "c"])])
    dictionary, indices = codes(column)
    values = [None if i is None else dictionary[i].as_py() for i in indices.to_pylist()]
    assert values == ["b", None, "a", "a", "c"]


def test_codes_of_chunks_with_their_own_dictionaries_are_unified():
    column = pa.chunked_array([pc.dictionary_encode(pa.array(["x", "y"])), pc.dictionary_encode(pa.array(["y", "z"]))])
    dictionary, indices = codes(column)
    assert [dictionary[i].as_py() for i in indices.to_pylist()] == ["x", "y", "y", "z"]


def test_pids_name_the_same_person_in_every_column_and_only_emails_in_use_count():
    mails = _dataset(mails=[{"MailId": "m1", "Sender": "a@x.com"}, {"MailId": "m2", "Sender": "gone@x.com"}],
                     mail_recipients=[{"MailId": "m1", "Email": "b@y.com"}, {"MailId": "m1", "Email": "a@x.com"},
                                      {"MailId": "m1", "Email": None}],
                     people=[{"PersonId": "boss@x.com"}])
    # A filtered table keeps its whole dictionary: "gone@x.com" is in it, used by no row.
    i = mails.mails.schema.get_field_index("Sender")
    encoded = mails.mails.set_column(i, "Sender", pc.dictionary_encode(mails.mails.column("Sender")))
    dataset = dataclasses.replace(mails, mails=encoded.filter(pa.array([True, False])))
    out, persons = with_pids(dataset)
    pid = dict(zip(persons.column("email").to_pylist(), persons.column("pid").to_pylist()))
    assert sorted(pid) == ["a@x.com", "b@y.com", "boss@x.com"]
    assert sorted(pid.values()) == [1, 2, 3]
    assert out.mails.column("sender_pid").to_pylist() == [pid["a@x.com"]]
    assert out.mail_recipients.column("pid").to_pylist() == [pid["b@y.com"], pid["a@x.com"], None]
    for table, column, pid_column in PID_COLUMNS:  # every address column has its pid column, row for row
        assert getattr(out, table).column(pid_column).length() == getattr(out, table).num_rows
