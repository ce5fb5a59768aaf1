"""Opt-outs from the email's own link (RFC 8058 one-click), kept append-only next to the snapshots.

Every click is one JSON line in ``<data.store>/optout_events.jsonl`` (``opt_out`` or ``opt_in``,
the seller, when, how), appended under a lock and synced; nothing is ever rewritten. A seller's
latest event wins. Readers merge the link opt-outs with the data folder's ``optouts.csv`` at load
time (the cards, the gate) and at send time, so the snapshot in force is never touched and an
opt-out counts from the next email on. An opt-in undoes an opt-out made with the link; an entry
an admin put in ``optouts.csv`` stays until the admin removes it.

The link carries a token that names the seller and proves the link was made by us: AES-SIV
(deterministic authenticated encryption, RFC 5297, from ``cryptography``) of the address under a
key derived from ``admin.unsubscribe_secret``. Why not a plain HMAC next to the address: the
address would then sit readable in every URL, proxy and access log; AES-SIV is just as unforgeable
(its tag is a CMAC-based PRF over the address), hides the address, and stays deterministic, so
the same email always renders to the same bytes. It is bound to the seller, not to a week: a link
in an old email keeps working.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from digest.config import Settings
from digest.errors import ConfigError
from digest.sealed import stored_secret

LOG = "optout_events.jsonl"
LOG_LOCK = ".optout_events.lock"
SECRET_FILE = "unsubscribe_secret"
EVENTS = ("opt_out", "opt_in")
PATH = "/seller-digest/unsubscribe"  # where the plugin's app answers (plugins/seller_digest_plugin.py URL_PREFIX)
_CONTEXT = [b"seller-digest unsubscribe v1"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


# --- the token --------------------------------------------------------------------------------

def _cipher(settings: Settings) -> AESSIV:
    secret = settings.admin.unsubscribe_secret.encode() or stored_secret(settings.data.store, SECRET_FILE)
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"seller-digest unsubscribe token").derive(secret)
    return AESSIV(key)


def make_token(settings: Settings, seller: str) -> str:
    """The token of a seller's unsubscribe link (URL-safe, the same for every week)."""
    sealed = _cipher(settings).encrypt(seller.strip().lower().encode(), _CONTEXT)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def read_token(settings: Settings, token: str) -> str | None:
    """The seller a token was made for, or None for anything we did not make (forged, cut, or another secret)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        seller = _cipher(settings).decrypt(raw, _CONTEXT).decode()
    except (InvalidTag, ValueError, UnicodeDecodeError):
        return None
    return seller if "@" in seller else None


def unsubscribe_headers(settings: Settings, seller: str) -> dict[str, str]:
    """The RFC 8058 headers of a seller's message: an https one-click link and a mailto, and the One-Click marker."""
    base = settings.admin.public_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.hostname or (
            parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS):
        raise ConfigError(f"admin.public_url {base!r} must be an https address at which sellers reach the Airflow api-server "
                          "(e.g. https://airflow.contoso.com); plain http only for 127.0.0.1 or localhost.")
    link = f"{base}{PATH}?t={make_token(settings, seller)}"
    mailto = f"mailto:{quote(settings.render.sender_address, safe='@.+-_')}?subject=unsubscribe"
    return {"List-Unsubscribe": f"<{link}>, <{mailto}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


# --- the event log ----------------------------------------------------------------------------

@dataclass(frozen=True)
class OptoutEvent:
    """One click: a seller opted out or back in."""

    at: str
    seller: str
    event: str
    via: str


def record_event(settings: Settings, seller: str, event: str, *, via: str = "link", now: dt.datetime | None = None) -> OptoutEvent:
    """Append one event to the store's opt-out log (synced before returning: a confirmation means it is kept)."""
    if event not in EVENTS:
        raise ValueError(f"event {event!r}: one of {EVENTS}")
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    item = OptoutEvent(moment.isoformat().replace("+00:00", "Z"), seller.strip().lower(), event, via)
    store = Path(settings.data.store)
    store.mkdir(parents=True, exist_ok=True)
    line = json.dumps(item.__dict__, sort_keys=True) + "\n"
    with _locked(store):
        fd = os.open(store / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    return item


def read_events(settings: Settings) -> list[OptoutEvent]:
    """Every event in the order it was recorded (a line cut short by a crash is left out)."""
    path = Path(settings.data.store) / LOG
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError, TypeError, KeyError):
            doc = json.loads(line)
            if doc["event"] in EVENTS:
                out.append(OptoutEvent(doc["at"], doc["seller"], doc["event"], doc.get("via", "link")))
    return out


def link_optouts(settings: Settings) -> frozenset[str]:
    """Sellers whose latest event is an opt-out (lower-case)."""
    latest: dict[str, str] = {}
    for e in read_events(settings):
        latest[e.seller] = e.event
    return frozenset(s for s, event in latest.items() if event == "opt_out")


def with_link_optouts(table, settings: Settings):
    """The optouts table of a data folder plus the sellers who opted out with the link."""
    import pyarrow as pa

    have = {p.lower() for p in table.column("PersonId").to_pylist() if p}
    extra = sorted(link_optouts(settings) - have)
    if not extra:
        return table
    return pa.concat_tables([table, pa.table({"PersonId": pa.array(extra, table.schema.field("PersonId").type)})])


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    with (store / LOG_LOCK).open("a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
