"""The sample generator: determinism, the contract's shape, and a company that looks real."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import PERSONAL_DOMAINS, Settings
from digest.sources.contract import FILES_BY_KEY
from digest.errors import InputError
from digest.sample import CSV_FILES, PARQUET_FILES, generate_sample
from digest.sample.words import ZONES
from digest.weeks import IsoWeek

END = IsoWeek(2026, 47)
SELLERS, WEEKS, SEED = 40, 2, 11
EMAIL = re.compile(r"^[a-z0-9.]+@[a-z0-9.-]+\.[a-z]{2,}$")
WINDOWS = {windows: iana for iana, windows in ZONES}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "data"
    return generate_sample(out, SELLERS, WEEKS, SEED, END)


@pytest.fixture(scope="module")
def db(sample):
    """DuckDB views over the sample's files, with each seller's IANA zone."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    root = Path(sample.out_dir)
    for key in PARQUET_FILES:
        con.read_parquet(str(root / f"collaboration/{key}.parquet")).create_view(key)
    for key in CSV_FILES:
        con.read_csv(str(root / FILES_BY_KEY[key].path), all_varchar=True).create_view(key)
    zones = con.execute("SELECT DISTINCT PersonId, TimeZone FROM people WHERE FunctionType = 'Account Executive'").fetchall()
    con.execute("CREATE TABLE sellers (s VARCHAR, zone VARCHAR)")
    con.executemany("INSERT INTO sellers VALUES (?, ?)", [(p, WINDOWS.get(z, z)) for p, z in zones])
    yield con
    con.close()


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_arguments_give_byte_identical_files_and_another_seed_differs(sample, tmp_path):
    again = generate_sample(tmp_path / "again", SELLERS, WEEKS, SEED, END)
    first = _hashes(Path(sample.out_dir))
    assert len(first) == 13
    assert _hashes(Path(again.out_dir)) == first
    other = _hashes(Path(generate_sample(tmp_path / "other", SELLERS, WEEKS, SEED + 1, END).out_dir))
    assert set(other) == set(first)
    assert all(other[name] != first[name] for name in first)


def test_chunk_size_does_not_change_the_data(tmp_path):
    small = generate_sample(tmp_path / "small", 100, 1, 3, END, chunk_sellers=10)
    large = generate_sample(tmp_path / "large", 100, 1, 3, END, chunk_sellers=1000)
    assert [f[:2] for f in small.files] == [f[:2] for f in large.files]  # Parquet row groups differ, rows do not
    for key in PARQUET_FILES:
        path = f"collaboration/{key}.parquet"
        assert pq.read_table(tmp_path / "small" / path).equals(pq.read_table(tmp_path / "large" / path)), key
    for key in CSV_FILES:
        path = FILES_BY_KEY[key].path
        assert (tmp_path / "small" / path).read_bytes() == (tmp_path / "large" / path).read_bytes(), key


def test_files_have_the_contract_columns_and_types(sample):
    root = Path(sample.out_dir)
    for key in CSV_FILES:
        spec = FILES_BY_KEY[key]
        table = pacsv.read_csv(root / spec.path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        assert set(spec.required) <= set(table.column_names), key
        for column in spec.columns:
            if column.name not in table.column_names:
                continue
            values = [v for v in table.column(column.name).to_pylist() if v is not None]
            if column.kind == "email":
                assert all(EMAIL.match(str(v)) for v in values), (key, column.name)
            if column.kind == "date":
                assert all(re.match(r"^(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$", str(v)) for v in values), (key, column.name)
            if column.kind == "time_zone":
                assert all(ZoneInfo(WINDOWS.get(v, v)) for v in values)
        if spec.unique_id and not spec.collapse_duplicates:
            keys = list(zip(*(table.column(c).to_pylist() for c in spec.unique_id)))
            assert len(keys) == len(set(keys)), key
    for key in PARQUET_FILES:
        spec = FILES_BY_KEY[key]
        table = pq.read_table(root / f"collaboration/{key}.parquet")
        assert table.schema.equals(spec.arrow_schema()), key
        for column in spec.columns:
            if column.required:
                assert table.column(column.name).null_count == 0, (key, column.name)
            if column.choices:
                assert set(table.column(column.name).to_pylist()) <= set(column.choices) | {None}, (key, column.name)
            if column.kind == "email":
                assert all(EMAIL.match(v) for v in table.column(column.name).to_pylist()), (key, column.name)


def test_org_chart_vp_directors_managers_sellers_and_specialists(db):
    managers = dict(db.execute("SELECT PersonId, ManagerId FROM people").fetchall())
    top = [p for p, m in managers.items() if m is None]
    assert len(top) == 1
    functions = dict(db.execute("SELECT DISTINCT PersonId, FunctionType FROM people").fetchall())
    for seller, _ in db.execute("SELECT * FROM sellers").fetchall():
        chain = [seller]
        while managers[chain[-1]] is not None:
            chain.append(managers[chain[-1]])
        assert [functions[p] for p in chain] == ["Account Executive", "Sales Manager", "Sales Director", "Sales Leadership"]
    team_sizes = [n for (n,) in db.execute("SELECT count(DISTINCT PersonId) FROM people WHERE FunctionType = 'Account Executive' GROUP BY ManagerId").fetchall()]
    assert max(team_sizes) >= 8
    assert {"Solution Specialist", "Technical Specialist", "Licensing Specialist", "Inside Sales", "Customer Success"} <= set(functions.values())
    assert db.execute("SELECT count(*) FROM (SELECT PersonId FROM people GROUP BY 1 HAVING count(DISTINCT EffectiveDate) = 2)").fetchone()[0] >= 1
    zones = {WINDOWS.get(z, z) for (z,) in db.execute("SELECT TimeZone FROM people").fetchall()}
    assert len(zones) >= 4
    assert {z.split("/")[0] for z in zones} >= {"America", "Europe", "Asia", "Australia"}
    assert db.execute("SELECT count(*) FROM people WHERE TimeZone LIKE '% Time'").fetchone()[0] >= 1
    optouts = [p for (p,) in db.execute("SELECT PersonId FROM optouts").fetchall()]
    assert optouts and all(functions[p] == "Account Executive" for p in optouts)


def test_crm_accounts_contacts_and_assignments_look_real(db):
    per_seller = [n for (n,) in db.execute("SELECT count(*) FROM accounts GROUP BY AccountOwnerEmail").fetchall()]
    assert min(per_seller) >= 8 and max(per_seller) <= 12
    potentials = [float(a or r) for a, r in db.execute("SELECT AccountAnnualRevenue, AccountRevenue FROM accounts").fetchall() if a or r]
    assert min(potentials) < 1e6 and max(potentials) > 1e9
    assert db.execute("SELECT count(*) FROM accounts WHERE AccountAnnualRevenue IS NULL AND AccountRevenue IS NOT NULL").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM accounts WHERE AccountAnnualRevenue IS NULL AND AccountRevenue IS NULL").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM accounts WHERE AccountName LIKE '%&%'").fetchone()[0] > 0
    sites = [w for (w,) in db.execute("SELECT AccountWebsite FROM accounts").fetchall()]
    assert None in sites and any(s and s.startswith("https://www.") for s in sites) and any(s and "/" not in s for s in sites)
    counts = [n for (n,) in db.execute("SELECT count(*) FROM contacts GROUP BY ContactsAccountId").fetchall()]
    assert min(counts) >= 3 and max(counts) <= 40 and max(counts) > 20
    domains = [e.split("@")[1] for (e,) in db.execute("SELECT ContactEmail FROM contacts").fetchall()]
    assert any(d in PERSONAL_DOMAINS for d in domains)
    shared = db.execute("""SELECT count(*) FROM (SELECT split_part(ContactEmail, '@', 2) d FROM contacts
                           GROUP BY 1 HAVING count(DISTINCT ContactsAccountId) = 2)""").fetchone()[0]
    assert shared >= 1  # subsidiaries share their parent's domain
    assert db.execute("SELECT count(*) FROM assignments GROUP BY SellerAssignmentAccountId ORDER BY 1 DESC LIMIT 1").fetchone()[0] == 2


def _per_seller_week(db, sql: str) -> list[int]:
    """Counts per (seller, ISO week in the seller's own zone) of the generated weeks."""
    rows = db.execute(f"""
        WITH items AS ({sql})
        SELECT s, date_trunc('week', timezone(zone, t)) AS week, count(DISTINCT id) AS n
        FROM items JOIN sellers USING (s)
        WHERE timezone(zone, t) >= ?::DATE AND timezone(zone, t) < ?::DATE + 1
        GROUP BY ALL""", [END.shift(-(WEEKS - 1)).monday, END.sunday]).fetchall()
    assert len(rows) == SELLERS * WEEKS
    return sorted(n for _, _, n in rows)


def _assert_mostly_within(counts: list[int], low: int, high: int) -> None:
    inside = sum(low <= n <= high for n in counts) / len(counts)
    assert inside >= 0.9, (low, high, counts)
    assert low <= sum(counts) / len(counts) <= high


def test_each_seller_has_a_real_week_of_mail_and_meetings(db):
    sent = _per_seller_week(db, "SELECT Sender AS s, SentTime AS t, MailId AS id FROM mails")
    _assert_mostly_within(sent, 60, 80)
    received = _per_seller_week(db, """SELECT r.Email AS s, m.SentTime AS t, m.MailId AS id FROM mails m
                                      JOIN mail_recipients r USING (MailId) WHERE r.Email <> m.Sender""")
    _assert_mostly_within(received, 120, 180)
    meetings = _per_seller_week(db, """SELECT a.Email AS s, m.StartTime AS t, m.MeetingId AS id FROM meetings m
                                      JOIN meeting_attendees a USING (MeetingId) WHERE a.Response <> 'declined'""")
    _assert_mostly_within(meetings, 20, 40)
    chats = _per_seller_week(db, "SELECT Sender AS s, SentTime AS t, MessageId AS id FROM chat_messages")
    assert min(chats) >= 1


def test_meetings_calls_and_chats_have_every_case_the_metrics_handle(db):
    one = lambda sql, params=(): db.execute(sql, list(params)).fetchone()[0]  # noqa: E731
    assert one("SELECT max(n) FROM (SELECT count(*) n FROM meeting_attendees GROUP BY MeetingId)") > 250
    assert one("SELECT count(*) FROM meetings WHERE EndTime - StartTime >= INTERVAL 8 HOUR") >= 1
    assert one("SELECT count(*) FROM meetings WHERE IsCancelled") > 0
    assert one("SELECT count(*) FROM meetings WHERE Sensitivity IN ('private', 'confidential')") > 0
    responses = {r for (r,) in db.execute("SELECT DISTINCT Response FROM meeting_attendees").fetchall()}
    assert responses == {"organizer", "accepted", "tentativelyAccepted", "declined", "notResponded", "none"}
    overlapping = one("""SELECT count(*) FROM meeting_attendees a JOIN meetings m USING (MeetingId)
                         JOIN meeting_attendees b ON a.Email = b.Email AND a.MeetingId < b.MeetingId
                         JOIN meetings n ON n.MeetingId = b.MeetingId
                         WHERE m.StartTime < n.EndTime AND n.StartTime < m.EndTime""")
    assert overlapping > 0
    # Recurring: a seller's 1:1 with the manager is at the same weekday and time every week.
    assert one("""SELECT count(*) FROM (SELECT m.Organizer, a.Email, strftime(timezone(zone, m.StartTime), '%w %H:%M') AS slot
                  FROM meetings m JOIN meeting_attendees a USING (MeetingId) JOIN sellers ON a.Email = sellers.s
                  GROUP BY ALL HAVING count(*) = ?)""", [WEEKS]) >= SELLERS // 2
    assert one("SELECT count(*) FROM calls WHERE MeetingId IS NOT NULL") > 0
    assert one("SELECT count(*) FROM calls WHERE MeetingId IS NULL") > 0
    assert one("SELECT count(*) FROM call_participants WHERE LeaveTime <= JoinTime") == 0
    sizes = {n for (n,) in db.execute("SELECT count(*) FROM chat_members GROUP BY ChatId").fetchall()}
    assert 2 in sizes and max(sizes) >= 4
    assert one("SELECT count(*) FROM mail_recipients WHERE Kind = 'bcc'") > 0
    assert one("SELECT count(*) FROM mails WHERE Sensitivity IN ('private', 'confidential')") > 0
    # Time zones matter: some sellers' Monday starts on Sunday in UTC, and some work on weekends.
    assert one("""SELECT count(*) FROM mails JOIN sellers ON Sender = s
                  WHERE dayofweek(SentTime) = 0 AND dayofweek(timezone(zone, SentTime)) = 1""") > 0
    assert one("SELECT count(*) FROM mails JOIN sellers ON Sender = s WHERE dayofweek(timezone(zone, SentTime)) IN (0, 6)") > 0


def test_duplicate_mails_are_the_same_message_seen_twice(db):
    dups = db.execute("""SELECT count(*), count(DISTINCT (SentTime, Sender, Sensitivity)) FROM mails
                         GROUP BY MailId HAVING count(*) > 1""").fetchall()
    assert dups and all(distinct == 1 for _, distinct in dups)


def test_bad_arguments_and_non_empty_folders_are_refused(tmp_path):
    with pytest.raises(InputError, match="--sellers 0"):
        generate_sample(tmp_path / "a", 0, 1, 1, END)
    with pytest.raises(InputError, match="--weeks 200"):
        generate_sample(tmp_path / "a", 5, 200, 1, END)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty.*--force"):
        generate_sample(tmp_path / "b", 5, 1, 1, END)
    (tmp_path / "b" / "collaboration").mkdir()
    (tmp_path / "b" / "collaboration" / "mails.csv").write_text("MailId\n")
    with pytest.raises(InputError, match="mails.csv exists"):
        generate_sample(tmp_path / "b", 5, 1, 1, END, overwrite=True)


def test_cli_writes_the_folder_and_prints_a_summary_per_file(tmp_path):
    result = CliRunner().invoke(main, ["sample", "--sellers", "9", "--weeks", "1", "--seed", "4", "--end-week", "2026-W47",
                                       "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "9 sellers" in result.output and "2026-11-16 to 2026-11-22" in result.output
    for key in CSV_FILES + PARQUET_FILES:
        assert Path(FILES_BY_KEY[key].path).name.split(".")[0] in result.output
    assert (tmp_path / "cli" / "collaboration" / "chat_members.parquet").is_file()
    again = CliRunner().invoke(main, ["sample", "--sellers", "9", "--out", str(tmp_path / "cli")])
    assert again.exit_code == 2 and "--force" in again.output


def test_the_loader_accepts_the_sample(sample):
    files = pytest.importorskip("digest.sources.files", reason="the loader (digest.sources.files) has not landed yet")
    from digest.config import Settings

    dataset = files.load_data(Path(sample.out_dir), Settings())
    assert dataset.people.num_rows == sample.rows("people")
    assert dataset.mails.num_rows < sample.rows("mails")  # duplicates collapsed
    assert dataset.accounts.num_rows == sample.rows("accounts")


def test_customer_threads_have_replies_both_ways_with_a_spread_of_response_times(db):
    """CONTRACT.md §8: threads (ConversationId) for the relationship card's starts and response times."""
    pairs = db.execute("""
        WITH m AS (SELECT DISTINCT MailId, ConversationId AS c, SentTime AS t, Sender IN (SELECT s FROM sellers) AS by_seller FROM mails)
        SELECT a.by_seller, epoch(b.t) - epoch(a.t) AS secs FROM m a JOIN m b ON a.c = b.c AND b.t > a.t AND a.by_seller <> b.by_seller
    """).fetchall()
    assert db.execute("SELECT count(*) FROM mails WHERE ConversationId IS NULL").fetchone()[0] == 0
    for by_seller in (True, False):  # the customer answers the seller, and the seller the customer
        hours = sorted(secs / 3600 for first, secs in pairs if first == by_seller)
        assert len(hours) > 100
        assert hours[len(hours) // 10] < 2 and hours[len(hours) * 95 // 100] > 24  # from within the hour to days later
    unanswered = db.execute("""SELECT count(*) FROM (SELECT ConversationId FROM mails GROUP BY 1 HAVING count(DISTINCT MailId) = 1)""")
    assert unanswered.fetchone()[0] > len(pairs)


def test_the_calendar_holds_customer_meetings_ahead_some_cancelled(db):
    end = dt.datetime.combine(END.sunday + dt.timedelta(days=1), dt.time(0), tzinfo=dt.timezone.utc)
    ahead = db.execute("SELECT count(*), count(*) FILTER (WHERE IsCancelled), max(StartTime) FROM meetings WHERE StartTime >= ?",
                       [end - dt.timedelta(hours=14)]).fetchone()
    assert ahead[0] >= SELLERS and ahead[1] > 0 and ahead[2] < end + dt.timedelta(days=14)
    assert db.execute("SELECT count(*) FROM mails WHERE SentTime >= ?", [end + dt.timedelta(hours=14)]).fetchone()[0] == 0


def test_the_sample_has_nine_weeks_by_default():
    from digest.sample.generator import DEFAULT_WEEKS

    assert DEFAULT_WEEKS == Settings().relationship.window_weeks == 9
    assert next(p for p in main.commands["sample"].params if p.name == "weeks").default == DEFAULT_WEEKS
