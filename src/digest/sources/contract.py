"""The data contract (CONTRACT.md §1): every input file, its columns and their kinds.

This module only *declares*; ``digest.sources.files`` reads and validates against it and hands
out a :class:`Dataset` of typed Arrow tables whose columns are exactly those declared here
(optional columns missing from a file are present as nulls, so SQL can always name them).

Column kinds and the Arrow type the loaders produce:

- ``id``: non-blank text, kept as written (``string``)
- ``text``: free text (``string``)
- ``email``: a mailbox address, trimmed and lower-cased (``string``)
- ``date``: ``MM/DD/YYYY`` or ``YYYY-MM-DD`` (``date32``)
- ``timestamp``: ISO 8601 with an offset or ``Z`` (``timestamp[us, UTC]``)
- ``bool``: true/false, yes/no, 1/0 (``bool``)
- ``number``: a decimal number (``float64``)
- ``enum``: one of a few words, compared case-insensitively, stored in the canonical spelling
- ``time_zone``: an IANA name or a Windows zone name, stored as the IANA name (``string``)
- ``locale``: a language tag Babel knows (``de``, ``de-CH``), stored in Babel's spelling ``de_CH`` (``string``)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pyarrow as pa

SENSITIVITY = ("normal", "personal", "private", "confidential")
RESPONSES = ("organizer", "accepted", "tentativelyAccepted", "declined", "notResponded", "none")
RECIPIENT_KINDS = ("to", "cc", "bcc")
# Schema metadata of a validated table: its optional columns the file did not have (comma-separated).
# They are present as nulls all the same; a metric that needs one (CONTRACT.md §8: ConversationId) is null then.
ABSENT_COLUMNS = b"digest.absent_columns"

ARROW_TYPES = {
    "id": pa.string(),
    "text": pa.string(),
    "email": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "bool": pa.bool_(),
    "number": pa.float64(),
    "enum": pa.string(),
    "time_zone": pa.string(),
    "locale": pa.string(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()  # for enum columns: the canonical spellings

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]

    def expected(self) -> str:
        """Plain words for what a value of this column must look like (used in error messages)."""
        return {
            "id": "a non-blank identifier",
            "text": "text",
            "email": "an email address like name@example.com",
            "date": "a date as MM/DD/YYYY or YYYY-MM-DD",
            "timestamp": "an ISO 8601 time with an offset or Z, like 2026-11-16T09:00:00Z",
            "bool": "true or false",
            "number": "a number like 1250000 or 1250000.50",
            "enum": "one of " + ", ".join(self.choices),
            "time_zone": "an IANA time zone like Europe/Paris or a Windows one like Pacific Standard Time",
            "locale": "a language tag like en, en-GB, de or de-CH",
        }[self.kind]


@dataclass(frozen=True)
class FileSpec:
    """One input file of the data folder."""

    key: str  # attribute name on Dataset
    path: str  # relative to the data folder, without suffix for collaboration files
    columns: tuple[Column, ...]
    unique_id: tuple[str, ...] = ()  # rows with the same values are duplicates (rejected or collapsed, see below)
    collapse_duplicates: bool = False  # True: same id = same item seen from several mailboxes, keep one
    optional_file: bool = False
    keep_extra_columns: bool = False  # org data: any custom attribute is kept as text
    # Columns whose few distinct values repeat from row to row (addresses, codes): held dictionary-encoded
    # once loaded, the same values in a fraction of the memory (digest.sources.files). Not ids of a
    # parent row: they have millions of distinct values (docs/metrics.md#performance says what that cost).
    repeated: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def arrow_schema(self, extra: tuple[str, ...] = ()) -> pa.Schema:
        cols = [pa.field(c.name, c.arrow_type) for c in self.columns]
        cols += [pa.field(name, pa.string()) for name in extra]
        return pa.schema(cols)


def _c(name: str, kind: str, required: bool = True, choices: tuple[str, ...] = ()) -> Column:
    return Column(name, kind, required, choices)


PEOPLE = FileSpec("people", "org/people.csv", (
    _c("PersonId", "email"), _c("EffectiveDate", "date"), _c("ManagerId", "email"),
    _c("Organization", "text"), _c("LevelDesignation", "text"),
    _c("FunctionType", "text", False), _c("TimeZone", "time_zone", False), _c("Locale", "locale", False), _c("HireDate", "date", False),
    _c("SupervisorIndicator", "text", False),
), unique_id=("PersonId", "EffectiveDate"), keep_extra_columns=True)

ACCOUNTS = FileSpec("accounts", "crm/accounts.csv", (
    _c("AccountId", "id"), _c("AccountName", "text"), _c("AccountsStartDate", "date"),
    _c("AccountAnnualRevenue", "number", False), _c("AccountRevenue", "number", False),
    _c("AccountWebsite", "text", False), _c("AccountIndustry", "text", False), _c("AccountType", "text", False),
    _c("AccountOwnerEmail", "email", False), _c("ParentAccountId", "id", False), _c("ParentAccountName", "text", False),
), unique_id=("AccountId", "AccountsStartDate"))

CONTACTS = FileSpec("contacts", "crm/contacts.csv", (
    _c("ContactsAccountId", "id"), _c("ContactId", "id"), _c("ContactName", "text"), _c("ContactEmail", "email"),
    _c("ContactsStartDate", "date"),
    _c("ContactFirstName", "text", False), _c("ContactLastName", "text", False), _c("ContactTitle", "text", False),
    _c("ContactPhone", "text", False),
), unique_id=("ContactId", "ContactsStartDate"))

ASSIGNMENTS = FileSpec("assignments", "crm/seller_assignments.csv", (
    _c("SellerAssignmentAccountId", "id"), _c("SellerAssignmentStartDate", "date"), _c("SellerEmail", "email"),
    _c("SellerStandardTitle", "text", False), _c("SellerRegion", "text", False),
))

MAILS = FileSpec("mails", "collaboration/mails", (
    _c("MailId", "id"), _c("SentTime", "timestamp"), _c("Sender", "email"),
    _c("Sensitivity", "enum", False, SENSITIVITY), _c("ConversationId", "id", False),
), unique_id=("MailId",), collapse_duplicates=True, repeated=("Sender", "Sensitivity"))

MAIL_RECIPIENTS = FileSpec("mail_recipients", "collaboration/mail_recipients", (
    _c("MailId", "id"), _c("Email", "email"), _c("Kind", "enum", True, RECIPIENT_KINDS),
), unique_id=("MailId", "Email", "Kind"), collapse_duplicates=True, repeated=("Email", "Kind"))

MEETINGS = FileSpec("meetings", "collaboration/meetings", (
    _c("MeetingId", "id"), _c("StartTime", "timestamp"), _c("EndTime", "timestamp"), _c("Organizer", "email"),
    _c("IsCancelled", "bool", False), _c("Sensitivity", "enum", False, SENSITIVITY),
), unique_id=("MeetingId",), collapse_duplicates=True, repeated=("Organizer", "Sensitivity"))

MEETING_ATTENDEES = FileSpec("meeting_attendees", "collaboration/meeting_attendees", (
    _c("MeetingId", "id"), _c("Email", "email"), _c("Response", "enum", True, RESPONSES),
), unique_id=("MeetingId", "Email"), collapse_duplicates=True, repeated=("Email", "Response"))

CALLS = FileSpec("calls", "collaboration/calls", (
    _c("CallId", "id"), _c("StartTime", "timestamp"), _c("EndTime", "timestamp"), _c("MeetingId", "id", False),
), unique_id=("CallId",), collapse_duplicates=True)

CALL_PARTICIPANTS = FileSpec("call_participants", "collaboration/call_participants", (
    _c("CallId", "id"), _c("Email", "email"), _c("JoinTime", "timestamp"), _c("LeaveTime", "timestamp"),
), unique_id=("CallId", "Email", "JoinTime"), collapse_duplicates=True, repeated=("Email",))

CHAT_MESSAGES = FileSpec("chat_messages", "collaboration/chat_messages", (
    _c("MessageId", "id"), _c("ChatId", "id"), _c("SentTime", "timestamp"), _c("Sender", "email"),
), unique_id=("MessageId",), collapse_duplicates=True, repeated=("Sender",))

CHAT_MEMBERS = FileSpec("chat_members", "collaboration/chat_members", (
    _c("ChatId", "id"), _c("Email", "email"),
), unique_id=("ChatId", "Email"), collapse_duplicates=True, repeated=("Email",))

OPTOUTS = FileSpec("optouts", "optouts.csv", (_c("PersonId", "email"),),
                   unique_id=("PersonId",), collapse_duplicates=True, optional_file=True)

FILES: tuple[FileSpec, ...] = (
    PEOPLE, ACCOUNTS, CONTACTS, ASSIGNMENTS, MAILS, MAIL_RECIPIENTS, MEETINGS, MEETING_ATTENDEES,
    CALLS, CALL_PARTICIPANTS, CHAT_MESSAGES, CHAT_MEMBERS, OPTOUTS,
)
FILES_BY_KEY = {spec.key: spec for spec in FILES}
BLANK_ALLOWED = {("people", "ManagerId")}  # the top of the org has no manager


@dataclass(frozen=True)
class Dataset:
    """Typed tables of one data folder, after validation and de-duplication.

    Emails are lower-case, times are UTC, optional columns are always present (null when absent).
    ``people`` also carries any custom org attribute as a text column.
    """

    people: pa.Table
    accounts: pa.Table
    contacts: pa.Table
    assignments: pa.Table
    mails: pa.Table
    mail_recipients: pa.Table
    meetings: pa.Table
    meeting_attendees: pa.Table
    calls: pa.Table
    call_participants: pa.Table
    chat_messages: pa.Table
    chat_members: pa.Table
    optouts: pa.Table
    origin: dict = field(default_factory=dict, compare=False)  # file key -> {"path", "sha256", "rows"}

    def tables(self) -> dict[str, pa.Table]:
        """The tables by file key (the names SQL uses)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "origin"}


def empty_table(spec: FileSpec) -> pa.Table:
    """A table with the spec's columns and no rows (e.g. an optional file that is absent)."""
    return spec.arrow_schema().empty_table()


def with_absent(table: pa.Table, absent: tuple[str, ...]) -> pa.Table:
    """`table` marked with the optional columns its file did not have (none: the mark is removed)."""
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != ABSENT_COLUMNS}
    if absent:
        metadata[ABSENT_COLUMNS] = ",".join(absent).encode()
    return table.replace_schema_metadata(metadata or None)


def has_column(table: pa.Table, name: str) -> bool:
    """Whether the file behind a validated table had the column (an optional column it lacked is all nulls)."""
    if name not in table.column_names:
        return False
    absent = (table.schema.metadata or {}).get(ABSENT_COLUMNS, b"")
    return name not in absent.decode().split(",")
