"""Settings: one TOML file (``digest.toml``) plus environment overrides, validated at start-up.

Every setting lives in one section dataclass below, with its default and a one-line doc in the
field metadata. ``digest.example.toml`` documents them all (a test keeps it honest).

Environment overrides: ``DIGEST_<SECTION>__<NAME>``, e.g. ``DIGEST_METRICS__MAIL_SENT_MINUTES=4``.
Lists in the environment are comma-separated. The file is found at ``--config``, else
``$DIGEST_CONFIG``, else ``./digest.toml``; without a file the defaults apply.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, get_args, get_origin, get_type_hints

from digest.errors import ConfigError

ENV_PREFIX = "DIGEST_"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

PERSONAL_DOMAINS = (
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "zoho.com",
    "yandex.com", "yandex.ru", "qq.com", "163.com", "126.com", "naver.com", "hey.com",
    "fastmail.com", "tutanota.com", "orange.fr", "free.fr", "laposte.net", "libero.it",
)


def setting(default: Any, doc: str, *, secret: bool = False, **checks: Any) -> Any:
    """Declare a setting: its default, a doc line, and checks (min, max, choices, time_zone, database_url)."""
    meta = {"doc": doc, "secret": secret, **checks}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


class _Section:
    """Base of the section dataclasses: repr and str show secrets as '***' and URLs without their password."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={shown_value(getattr(self, f.name), f)!r}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{type(self).__name__}({shown})"

    def check(self, origin: str) -> None:
        """Checks across the settings of a section (each setting's own checks come from its field); none by default."""


@dataclass(frozen=True, repr=False)
class DataSettings(_Section):
    folder: str = setting("var/data", "Data folder read by runs (CONTRACT.md §1); relative paths are from the working directory.")
    store: str = setting("var/store", "Folder where accepted uploads are kept as snapshots (upload time + content hash).")
    default_time_zone: str = setting("UTC", "Time zone of sellers whose org TimeZone is blank (IANA name).", time_zone=True)
    arrival_lag: str = setting("2h", "How long after a seller's week ends (midnight Sunday in their zone) its collaboration metadata is complete, like '2h' or '90m': nobody is computed earlier.", duration=True)


@dataclass(frozen=True, repr=False)
class MetricsSettings(_Section):
    mail_sent_minutes: float = setting(5.0, "Minutes counted for a mail the seller sent.", min=0)
    mail_received_minutes: float = setting(2.5, "Minutes counted for a mail the seller received (to, cc or bcc).", min=0)
    chat_message_minutes: float = setting(0.5, "Minutes counted per chat message the seller sent.", min=0)
    extrapolation_share: float = setting(0.8, "Share of a domain's matched contacts one account needs to take the whole domain (0–1].", min=0.01, max=1)
    group_attribute: str = setting("FunctionType", "Org attribute whose value names a colleague's internal group.")
    internal_domains: tuple[str, ...] = setting((), "Internal email domains; empty = the domains of all PersonId in org data.")
    personal_domains: tuple[str, ...] = setting(PERSONAL_DOMAINS, "Personal email domains: external, never matched to an account by extrapolation.")
    session_sellers: int = setting(10_000, "Most sellers one metrics session computes when several cohorts are due at once (digest run): fewer sessions are quicker, smaller ones need less memory.", min=1)


@dataclass(frozen=True, repr=False)
class PrivacySettings(_Section):
    excluded_domains: tuple[str, ...] = setting((), "Domains whose participants drop the whole interaction for everyone in it.")
    excluded_addresses: tuple[str, ...] = setting((), "Addresses whose participation drops the whole interaction for everyone in it.")
    min_group_size: int = setting(5, "Smallest group any comparison with other people may use (never below 5).", min=5)
    audit_salt: str = setting("", "Secret salt of the hashes in audit records; empty = a random salt made once and kept in <data.store>/audit_salt.", secret=True)
    gate_mode: str = setting("email", "What a privacy-gate violation stops: email (only that email) or run (every email of the run).", choices=("email", "run"))
    raw_data_days: int = setting(35, "Days accepted uploads are kept in data.store before `digest purge` deletes them (the newest is always kept; 0 = keep forever).", min=0)
    rendered_email_days: int = setting(14, "Days rendered emails and cards of a run (and outbox files) are kept before purge (audit records stay; 0 = keep forever).", min=0)
    message_key: str = setting("", "Master key that seals rendered emails at rest on real data (each week gets its own key derived from it); empty = a random key made once in <data.store>/message_key.", secret=True)
    keep_sent_days: int = setting(0, "Days a delivered email's files stay in the run folder once the ledger says sent (0 = deleted right after delivery).", min=0)


@dataclass(frozen=True, repr=False)
class RunSettings(_Section):
    folder: str = setting("runs", "Where run folders (runs/<week>/) are written.")


@dataclass(frozen=True, repr=False)
class RenderSettings(_Section):
    explore_url: str = setting("https://insights.example.com/explore", "Where each card's Explore button leads (your dashboard).")
    docs_url: str = setting("https://github.com/seller-digest/seller-digest/blob/main/docs/metrics.md", "Link to how the numbers are computed.")
    product_name: str = setting("Seller insights", "Name of the email shown in its header and subject.")
    opt_out_url: str = setting("mailto:seller-insights@example.com?subject=Opt%20out", "How a seller opts out (a web page or a mailto: link), shown in every footer.")
    calendar_url: str = setting("https://outlook.office.com/calendar/view/workweek", "Where the leadership card's Manage meetings button leads (Outlook calendar week view).")
    sender_address: str = setting("seller-insights@example.com", "From address written into rendered .eml files (delivery chooses the real sending mailbox).")
    accent_color: str = setting("#0B6E79", "Accent colour of headings and buttons (hex #RRGGBB; keep contrast with white text).")
    top_accounts: int = setting(5, "Accounts named one by one in the time-with-customers chart, table and text; the rest are summed as 'and N more'.", min=1, max=8)
    max_rows: int = setting(6, "Accounts or groups drawn in each bar chart (the rest are counted in the text).", min=1, max=10)
    currency: str = setting("USD", "ISO 4217 code of the CRM potentials (e.g. USD, EUR, GBP), shown on every potential.")
    default_locale: str = setting("en_US", "Language and number/date formats of a seller without a Locale in org/people.csv (e.g. en_US, en_GB, de_DE); emails have English and German texts.")


@dataclass(frozen=True, repr=False)
class DeliverySettings(_Section):
    via: str = setting("outbox", "How emails leave: outbox (write .eml files) or graph (Microsoft Graph).", choices=("outbox", "graph"))
    outbox_folder: str = setting("var/outbox", "Where the outbox mailer writes delivered .eml files.")
    sender_mailboxes: tuple[str, ...] = setting((), "Mailboxes Graph sends from (a pool: recipients are spread over them); needed for via = graph.")
    ledger_url: str = setting("", "SQLAlchemy URL of the delivery ledger; empty = SQLite in the run folder (runs/<week>/deliveries.sqlite). PostgreSQL in distributed mode.", secret=True, database_url=True)
    messages_per_minute: int = setting(30, "Messages one sender mailbox may send per rate window (Exchange Online: 30 per minute).", min=1)
    rate_window_seconds: float = setting(60.0, "Length of that rate window in seconds (60 = Exchange's minute; shrink only to test against the fake).", min=0.01)
    recipients_per_day: int = setting(10000, "Recipients one sender mailbox may reach per day window (Exchange Online: 10,000).", min=1)
    day_window_seconds: float = setting(86400.0, "Length of the day window in seconds (86400; shrink only to test against the fake).", min=0.01)
    max_in_flight: int = setting(4, "Requests in flight at once per sender mailbox (Exchange allows 4).", min=1, max=4)
    local_send_time: str = setting("Mon 07:00", "When a seller's digest may go out at the earliest, in their own time zone, in the week after the reported one (e.g. 'Mon 07:00'); each seller is sent as soon as possible after it.", weekly_time=True)
    deadline: str = setting("Mon 09:00", "When every digest should have gone out, in each seller's own time zone, in the week after the reported one (e.g. 'Mon 09:00'); the plan warns past it.", weekly_time=True)
    max_attempts: int = setting(6, "Attempts per request on throttling (429), 503, 504, timeouts or resets before the recipient fails.", min=1)
    backoff_seconds: float = setting(1.0, "First backoff between attempts when the service gives no Retry-After (doubles each time, with jitter).", min=0)
    max_backoff_seconds: float = setting(60.0, "Longest wait between two attempts (also caps Retry-After).", min=0)
    request_seconds: float = setting(0.25, "Typical Graph answer time; the delivery plan counts two requests per message with it.", min=0)
    claim_lease_seconds: float = setting(600.0, "How long a worker's claim on a ledger row lasts without progress before another worker may take it over.", min=0.1)


@dataclass(frozen=True, repr=False)
class GraphSettings(_Section):
    tenant_id: str = setting("", "Azure AD tenant id (or domain) of the app registration.")
    client_id: str = setting("", "Application (client) id of the app registration.")
    client_secret: str = setting("", "Client secret; prefer the DIGEST_GRAPH__CLIENT_SECRET environment variable.", secret=True)
    certificate_path: str = setting("", "PEM file with the private key of the app's certificate (used instead of a client secret when set).")
    certificate_thumbprint: str = setting("", "SHA-1 thumbprint (hex) of that certificate as shown in the app registration.")
    authority_url: str = setting("https://login.microsoftonline.com", "Token authority (the tenant id is appended); point at a fake or a national cloud.")
    graph_url: str = setting("https://graph.microsoft.com/v1.0", "Microsoft Graph base URL.")
    ca_bundle: str = setting("", "CA bundle (PEM) to trust for the authority and Graph; empty = the system's and requests' defaults. Set, it wins over REQUESTS_CA_BUNDLE.")
    connect_timeout_seconds: float = setting(10.0, "Timeout to open a connection to the authority or Graph.", min=0.1)
    read_timeout_seconds: float = setting(60.0, "Timeout waiting for an answer from the authority or Graph.", min=0.1)


@dataclass(frozen=True, repr=False)
class PullSettings(_Section):
    source: str = setting("files", "Where collaboration metadata comes from: files (the data folder as uploaded) or graph (pulled from Microsoft Graph into data.folder before each snapshot; docs/pull.md).", choices=("files", "graph"))
    weeks: int = setting(4, "ISO weeks pulled, ending with the reported week (4 = the 28-day window the cards need, which includes the prior week); the pull covers at least relationship.window_weeks all the same.", min=1, max=26)
    mailboxes: tuple[str, ...] = setting((), "Mailboxes to pull; empty = the sellers of the week (assigned in crm/seller_assignments.csv, in org/people.csv, not opted out).")
    kinds: tuple[str, ...] = setting(("mail", "meeting", "call", "chat"), "What to pull: any of mail, meeting, call, chat (calls and chats need tenant-wide permissions; docs/pull.md).")
    page_size: int = setting(100, "Items asked per Graph page ($top); Graph pages with @odata.nextLink beyond it.", min=1, max=1000)
    max_workers: int = setting(8, "Mailboxes pulled at once (Exchange allows 4 concurrent requests per mailbox; each worker pulls one mailbox).", min=1, max=64)
    chunk_rows: int = setting(50000, "Rows buffered per collaboration file before they are written to Parquet (bounds memory).", min=100)
    max_attempts: int = setting(6, "Attempts per Graph request on throttling (429), 503, 504, timeouts or resets before the mailbox is reported as failed.", min=1)
    backoff_seconds: float = setting(1.0, "First backoff between attempts when Graph gives no Retry-After (doubles each time, with jitter).", min=0)
    max_backoff_seconds: float = setting(60.0, "Longest wait between two attempts (also caps Retry-After).", min=0)


@dataclass(frozen=True, repr=False)
class AirflowSettings(_Section):
    schedule: str = setting("0 12 * * 0", "Cron of the weekly digest DAG: it must start before the first cohort is due (default Sunday 12:00 UTC, before Monday 07:00 on Pacific/Kiritimati); each cohort then waits for its own due time. Empty = no schedule (runs are triggered by hand or by another system).")
    time_zone: str = setting("UTC", "Time zone the cron is read in.", time_zone=True)
    batch_size: int = setting(250, "Sellers per mapped render/deliver task (one Airflow task per batch, never per seller).", min=1)
    pool: str = setting("seller_digest_senders", "Airflow pool the deliver tasks run in (created by `digest airflow up`).")
    pool_slots: int = setting(4, "Slots of the delivery pool: deliver tasks at once; size it to your sender mailboxes (one per mailbox).", min=1)
    retries: int = setting(3, "Retries of a task after a transient error (a service or I/O failure); bad input fails at once.", min=0)
    retry_delay_seconds: int = setting(60, "First wait before a retry; it doubles on each retry (exponential backoff).", min=1)
    max_retry_delay_seconds: int = setting(900, "Longest wait between two retries.", min=1)
    home: str = setting("var/airflow", "AIRFLOW_HOME of the embedded mode (airflow.cfg, SQLite database, logs, admin password file).")
    api_port: int = setting(8080, "Port of the embedded api-server (UI and REST), always bound to 127.0.0.1.", min=1, max=65535)
    upload_inbox: str = setting("var/inbox", "Folder the crm_upload DAG watches for CRM or org uploads (one sub-folder or file set per upload).")
    upload_poll: str = setting("*/15 * * * *", "Cron at which the crm_upload DAG looks into the inbox (it also runs on the upload asset).")


@dataclass(frozen=True, repr=False)
class AdminSettings(_Section):
    public_url: str = setting("http://127.0.0.1:8080", "Address at which sellers reach the Airflow api-server (its /seller-digest/unsubscribe page); https, except on 127.0.0.1 or localhost.")
    unsubscribe_secret: str = setting("", "Secret that signs the one-click unsubscribe links; empty = a random secret made once in <data.store>/unsubscribe_secret.", secret=True)
    unsubscribe_per_minute: int = setting(20, "Requests one client address may make to the unsubscribe pages per minute (more get 429).", min=1)
    alert_addresses: tuple[str, ...] = setting((), "Admins alerted (through delivery.via: outbox or Graph) when a task fails for good, the privacy gate blocks an email, or a cohort misses its deadline; counts and a link only. Empty = no alerts.")


@dataclass(frozen=True, repr=False)
class RelationshipSettings(_Section):
    window_weeks: int = setting(9, "ISO weeks of the relationship window ending with the reported week (9 ≈ 60 days; CONTRACT.md §8).", min=2, max=26)
    lookahead_days: int = setting(14, "Days after the window's end read for the next meeting with an account (the pull reads the calendar this far ahead).", min=0, max=90)
    expected_weeks: int = setting(6, "Weeks with any interaction that give an account full marks for frequency (F in the health score).", min=1, max=26)
    reply_days: int = setting(14, "Longest gap, in days, between a mail and the other side's next mail in the conversation that still counts as a reply.", min=1, max=60)
    recency_days: int = setting(30, "Days of silence after which an account scores 0 for recency (R in the health score).", min=1, max=365)
    weight_frequency: float = setting(0.4, "Weight of F (weeks with interaction) in the 0-100 health score.", min=0, max=1)
    weight_recency: float = setting(0.3, "Weight of R (days since the last interaction) in the health score.", min=0, max=1)
    weight_balance: float = setting(0.3, "Weight of B (mails received against mails sent) in the health score.", min=0, max=1)

    def check(self, origin: str) -> None:
        """The health score is 0-100 only if its weights add up to 1."""
        total = self.weight_frequency + self.weight_recency + self.weight_balance
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(f"{origin}: relationship.weight_frequency + weight_recency + weight_balance = {total:g}; "
                              "they must add up to 1 (e.g. 0.4, 0.3, 0.3) so the health score stays 0-100.")


SECTIONS: dict[str, type] = {
    "data": DataSettings,
    "metrics": MetricsSettings,
    "privacy": PrivacySettings,
    "runs": RunSettings,
    "render": RenderSettings,
    "delivery": DeliverySettings,
    "graph": GraphSettings,
    "pull": PullSettings,
    "airflow": AirflowSettings,
    "admin": AdminSettings,
    "relationship": RelationshipSettings,
}


@dataclass(frozen=True)
class Settings:
    data: DataSettings = field(default_factory=DataSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    runs: RunSettings = field(default_factory=RunSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    graph: GraphSettings = field(default_factory=GraphSettings)
    pull: PullSettings = field(default_factory=PullSettings)
    airflow: AirflowSettings = field(default_factory=AirflowSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    relationship: RelationshipSettings = field(default_factory=RelationshipSettings)
    source: str = "defaults"  # where the settings came from, for reports (never holds secrets)

    def replace(self, section: str, **values: Any) -> "Settings":
        """A copy with some settings of one section changed (validated like the file)."""
        current = dataclasses.asdict(getattr(self, section))
        current.update(values)
        built = _build_section(section, SECTIONS[section], current, origin="override")
        return dataclasses.replace(self, **{section: built})


def iter_settings() -> list[tuple[str, str, dataclasses.Field]]:
    """Every (section, name, field) pair: used by docs tests and `digest config`."""
    out = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            out.append((section, f.name, f))
    return out


def load_settings(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply environment overrides, validate everything."""
    environ = os.environ if environ is None else environ
    explicit = path is not None or "DIGEST_CONFIG" in environ
    file = Path(path if path is not None else environ.get("DIGEST_CONFIG", "digest.toml"))
    raw: dict[str, Any] = {}
    source = "defaults"
    if file.is_file():
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc}). Fix the syntax; digest.example.toml shows the layout.") from exc
        source = str(file)
    elif explicit:
        raise ConfigError(f"config file {file} does not exist. Create it from digest.example.toml or drop --config/DIGEST_CONFIG.")
    for key, value in raw.items():
        _check_section(file, key, value)
    _check_env_sections(environ)
    sections = {}
    for name, cls in SECTIONS.items():
        values = dict(raw.get(name, {}))
        values.update(_env_overrides(name, cls, environ))
        sections[name] = _build_section(name, cls, values, origin=source)
    return Settings(**sections, source=source)


def _check_section(file: Path, key: str, value: Any) -> None:
    """A top-level TOML key must be a known section written as one table of settings."""
    if key not in SECTIONS:
        owners = [s for s, name, _ in iter_settings() if name == key]
        if owners and not isinstance(value, dict):
            raise ConfigError(f"{file}: {key} is outside any section. Move it below a [{owners[0]}] line "
                              f"(the setting is {owners[0]}.{key}).")
        raise ConfigError(f"{file}: unknown section [{key}]{_suggest(key, SECTIONS)}. Valid sections: {', '.join(SECTIONS)}.")
    if not isinstance(value, dict):
        raise ConfigError(f"{file}: [{key}] must be a table of settings: write a [{key}] line followed by name = value lines "
                          f"(not {key} = ... and not [[{key}]]).")


def _check_env_sections(environ: Mapping[str, str]) -> None:
    """Every DIGEST_<SECTION>__<NAME> variable must name a known section (a typo would be ignored silently)."""
    for key in environ:
        if key.startswith(ENV_PREFIX) and "__" in key:
            section = key[len(ENV_PREFIX):].split("__", 1)[0].lower()
            if section not in SECTIONS:
                raise ConfigError(f"environment variable {key}: there is no section {section!r}{_suggest(section, SECTIONS)}. "
                                  f"Name it DIGEST_<SECTION>__<NAME> with a section among {', '.join(SECTIONS)}, or unset it.")


def _env_overrides(section: str, cls: type, environ: Mapping[str, str]) -> dict[str, Any]:
    prefix = f"{ENV_PREFIX}{section.upper()}__"
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):].lower()
        if name not in names:
            raise ConfigError(f"environment variable {key}: {section}.{name} is not a setting{_suggest(name, names)}.")
        out[name] = _EnvValue(key, value)
    return out


@dataclass(frozen=True)
class _EnvValue:
    variable: str
    text: str


def _build_section(section: str, cls: type, values: dict[str, Any], origin: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = get_type_hints(cls)
    for key in values:
        if key not in fields:
            raise ConfigError(f"{origin}: unknown setting {section}.{key}{_suggest(key, fields)}. See digest.example.toml for every setting.")
    kwargs = {}
    for name, value in values.items():
        where = value.variable if isinstance(value, _EnvValue) else f"{origin}: {section}.{name}"
        kwargs[name] = _coerce(value, hints[name], fields[name], f"{section}.{name}", where)
    built = cls(**kwargs)
    built.check(origin)
    return built


def _coerce(value: Any, hint: Any, f: dataclasses.Field, name: str, where: str) -> Any:
    is_env = isinstance(value, _EnvValue)
    raw = value.text if is_env else value
    shown = repr(shown_value(raw, f)) if isinstance(raw, str) or not f.metadata.get("secret") else "***"
    try:
        if get_origin(hint) is tuple:
            item = get_args(hint)[0]
            items = [s.strip() for s in raw.split(",") if s.strip()] if isinstance(raw, str) else raw
            if not isinstance(items, (list, tuple)):
                raise TypeError("a list")
            out: Any = tuple(_scalar(v, item, is_env) for v in items)
        else:
            out = _scalar(raw, hint, is_env)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {shown} is not {exc}. Set {name} to {_describe(hint)}.") from None
    meta = f.metadata
    if "min" in meta and out < meta["min"]:
        raise ConfigError(f"{where}: {shown} is below the minimum {meta['min']}. Set {name} to at least {meta['min']}.")
    if "max" in meta and out > meta["max"]:
        raise ConfigError(f"{where}: {shown} is above the maximum {meta['max']}. Set {name} to at most {meta['max']}.")
    if "choices" in meta and out not in meta["choices"]:
        raise ConfigError(f"{where}: {shown} is not one of {', '.join(meta['choices'])}. Set {name} to one of them.")
    if meta.get("time_zone"):
        try:
            zoneinfo.ZoneInfo(out)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: 'America' is a folder, a name too long
            raise ConfigError(f"{where}: {shown} is not a known IANA time zone. Set {name} to a name like 'Europe/Paris' or 'UTC'.") from None
    if meta.get("weekly_time"):
        from digest.weeks import parse_weekly_time

        parse_weekly_time(out, where)
    if meta.get("duration"):
        from digest.weeks import parse_duration

        parse_duration(out, where)
    if meta.get("database_url") and out:
        _check_database_url(out, name, where, shown)
    return out


DATABASE_URL_FIX = ("to a SQLAlchemy URL like postgresql+psycopg2://user:password@host:5432/db, "
                    "or leave it empty for SQLite in the run folder")


def _check_database_url(url: str, name: str, where: str, shown: str) -> None:
    """A database URL SQLAlchemy can parse, with a port (when given) between 1 and 65535."""
    from sqlalchemy.engine import make_url  # only when a URL is set: reading settings stays light
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        port = parsed.port
        parsed.get_dialect()  # the database kind (postgresql, sqlite, ...); its driver is imported only on connect
    except NoSuchModuleError:
        raise ConfigError(f"{where}: {shown} names a database kind SQLAlchemy does not know. Set {name} {DATABASE_URL_FIX}.") from None
    except ArgumentError:
        raise ConfigError(f"{where}: {shown} is not a database URL. Set {name} {DATABASE_URL_FIX}.") from None
    except ValueError:  # make_url reads the port with int()
        raise ConfigError(f"{where}: {shown} has a port that is not a number. Set {name} {DATABASE_URL_FIX}.") from None
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError(f"{where}: {shown} has port {port}, outside 1-65535. Set {name} {DATABASE_URL_FIX}.")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:(//)?")


def hide_password(url: str) -> str:
    """A database URL (or any URL-like text) safe to show: the password part is '***'.

    Parseable URLs go through SQLAlchemy's own rendering; anything else loses whatever could be a
    password: from the first ':' of its user part to the last '@', else everything after a ':'.
    """
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparseable value: mask by hand below
        pass
    prefix = m.group(0) if (m := _SCHEME.match(url)) else ""
    rest = url[len(prefix):]
    if "@" in rest:
        userinfo, host = rest.rsplit("@", 1)
        if ":" in userinfo:
            return f"{prefix}{userinfo.split(':', 1)[0]}:***@{host}"
        return f"{prefix}{userinfo if prefix.endswith('//') else '***'}@{host}"
    if ":" in rest:
        return f"{prefix}{rest.split(':', 1)[0]}:***"
    return url


def shown_value(value: Any, f: dataclasses.Field) -> Any:
    """A setting's value as it may be shown (repr, `digest config`, errors): secrets '***', URLs without password."""
    if f.metadata.get("database_url") and isinstance(value, str):
        return hide_password(value) if value else value
    if f.metadata.get("secret"):
        return "***" if value else value
    return value


def _scalar(raw: Any, hint: Any, from_env: bool) -> Any:
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        if from_env and isinstance(raw, str) and raw.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        raise TypeError("true or false")
    if hint is int:
        if isinstance(raw, bool) or not (isinstance(raw, int) or (from_env and isinstance(raw, str))):
            raise TypeError("a whole number")
        try:
            return int(raw)
        except ValueError:
            raise TypeError("a whole number") from None
    if hint is float:
        if isinstance(raw, bool) or not (isinstance(raw, (int, float)) or (from_env and isinstance(raw, str))):
            raise TypeError("a number")
        try:
            number = float(raw)
        except ValueError:
            raise TypeError("a number") from None
        if not math.isfinite(number):
            raise TypeError("a finite number")
        return number
    if hint is str:
        if not isinstance(raw, str):
            raise TypeError("a string")
        return raw
    raise TypeError(f"a {hint}")  # pragma: no cover - a section declared an unsupported type


def _describe(hint: Any) -> str:
    if get_origin(hint) is tuple:
        return f"a list of {_describe(get_args(hint)[0])}s (comma-separated in the environment)"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(hint, str(hint))


def _suggest(name: str, options: Any) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def example_toml() -> str:
    """The documented example settings file: every setting, its doc line and its default."""
    lines = [
        "# seller-digest settings (digest.toml). Every setting is shown with its default.",
        "# Copy this file to digest.toml and change what you need; unknown keys are refused.",
        "# Any setting can also come from the environment: DIGEST_<SECTION>__<NAME>, e.g.",
        "#   DIGEST_METRICS__MAIL_SENT_MINUTES=4   (lists: comma-separated)",
        "# Regenerate this file with: digest config --example > digest.example.toml",
    ]
    for section, cls in SECTIONS.items():
        lines += ["", f"[{section}]"]
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            lines.append(f"# {f.metadata['doc']}")
            if f.metadata.get("secret"):
                lines.append(f"# {f.name} = \"\"   (secret: set DIGEST_{section.upper()}__{f.name.upper()} instead)")
            else:
                lines.append(f"{f.name} = {toml_value(default)}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """A setting's value written as TOML (the example file and the Airflow settings snapshot)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string
