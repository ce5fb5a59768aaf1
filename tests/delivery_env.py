"""Fixtures of the delivery tests: fake authority + fake Graph over TLS, and a rendered run folder."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from digest.audit import GATE_FILE
from digest.config import Settings
from digest.delivery.outbox import build_message, write_eml
from digest.runfolder import add_to_manifest
from digest.email.message import InlineImage, RenderedEmail
from digest.runfolder import RunFolder
from fakes.authority import FakeAuthority, start_authority
from fakes.graph_server import GraphFake, start_graph
from fakes.tls import KeyPair, make_certificate

TENANT = "contoso.onmicrosoft.com"
CLIENT = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cr3t-value-that-must-never-be-logged"
WEEK = "2026-W47"
SENDERS = ("digest1@contoso.com", "digest2@contoso.com", "digest3@contoso.com")
FROM = Settings().render.sender_address  # the From of every rendered .eml; the sender pool has Send As on it


def png(seed: int) -> bytes:
    """A small valid PNG (1x1, colour from `seed`)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"\x00" + bytes([seed % 256, (seed * 7) % 256, (seed * 13) % 256])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def email_for(recipient: str, week: str = WEEK, images: int = 2, html_extra: str = "") -> RenderedEmail:
    imgs = tuple(InlineImage(f"chart{i}@digest", f"chart{i}.png", png(i + len(recipient)), alt=f"chart {i}") for i in range(images))
    html = "<html><body><p>Hello</p>" + "".join(f'<img src="cid:{i.content_id}" alt="{i.alt}">' for i in imgs) + html_extra + "</body></html>"
    return RenderedEmail(recipient=recipient, week=week, subject=f"Seller insights {week}", html=html, text="Hello",
                         images=imgs, recipient_name=recipient.split("@")[0].title())


def eml_for(recipient: str, sender: str = FROM, **kw) -> tuple[RenderedEmail, bytes]:
    """A rendered email and the exact bytes of its .eml (what the privacy gate audits)."""
    email = email_for(recipient, **kw)
    return email, build_message(email, sender).as_bytes()


def recipients(n: int) -> list[str]:
    return [f"seller{i:04d}@contoso.com" for i in range(n)]


def write_run(settings: Settings, people: list[str], week: str = WEEK, blocked: dict[str, list[str]] | None = None,
              zones: dict[str, str] | None = None, batch_size: int = 100) -> RunFolder:
    """Rendered .eml files in batches, cards.jsonl (seller + time zone) and the privacy gate's verdict."""
    run = RunFolder.for_week(settings.runs.folder, week).ensure()
    for i, who in enumerate(people):
        path = write_eml(email_for(who, week), run.emails / f"{i // batch_size:04d}", sender=settings.render.sender_address)
        add_to_manifest(path.parent, who, path.name)
    blocked = blocked or {}
    with run.cards.open("w", encoding="utf-8") as f:
        for who in people:
            f.write(json.dumps({"seller": who, "week": week, "time_zone": (zones or {}).get(who, "Europe/Paris")}) + "\n")
    gate = {"week": week, "passed": [p for p in people if p not in blocked], "blocked": blocked}
    (run.root / GATE_FILE).write_text(json.dumps(gate), encoding="utf-8")
    return run


def settings_for(tmp: Path, keys: KeyPair | None = None, authority: FakeAuthority | None = None, graph: GraphFake | None = None,
                 senders: tuple[str, ...] = SENDERS[:1], **delivery) -> Settings:
    s = Settings().replace("runs", folder=str(tmp / "runs")).replace("data", folder=str(tmp / "data"))
    base = {"outbox_folder": str(tmp / "outbox"), "sender_mailboxes": senders, "backoff_seconds": 0.05,
            "max_backoff_seconds": 2.0, "request_seconds": 0.01}
    if graph is not None:
        base.update(messages_per_minute=graph.per_window, rate_window_seconds=graph.window)
    base.update(delivery)
    s = s.replace("delivery", **base)
    if authority is not None and graph is not None and keys is not None:
        s = s.replace("graph", tenant_id=TENANT, client_id=CLIENT, client_secret=SECRET, authority_url=authority.url,
                      graph_url=graph.url, ca_bundle=str(keys.cert_path), read_timeout_seconds=10.0)
    return s


@pytest.fixture(scope="session")
def tls_keys(tmp_path_factory) -> KeyPair:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def authority(tls_keys):
    state = start_authority(tls_keys, TENANT)
    state.register(CLIENT, secret=SECRET)
    yield state
    state.server.stop()


@pytest.fixture
def graph(tls_keys, authority):
    fake = start_graph(tls_keys, authority, SENDERS, per_window=30, window=1.0)
    fake.grant_send_as(FROM, *SENDERS)  # as the Exchange admin would (docs/delivery.md)
    yield fake
    fake.server.stop()
