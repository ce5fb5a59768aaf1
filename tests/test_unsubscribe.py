"""One-click unsubscribe (RFC 8058): header → page → append-only store → the next run skips the seller → the audit counts it."""

from __future__ import annotations

import datetime as dt
import json
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from digest.airflow.unsubscribe import RateLimit, unsubscribe_router
from digest.audit.report import report
from digest.config import Settings
from digest.delivery.send import send_run
from digest.sample import generate_sample
from digest.pipeline.weekly import run_week
from digest.sources.optouts import link_optouts, make_token, read_events, read_token, unsubscribe_headers
from digest.weeks import IsoWeek

W = IsoWeek.parse("2026-W47")
PUBLIC = "https://digest.contoso.com"


def _settings(root: Path, runs: str = "runs") -> Settings:
    s = Settings().replace("data", folder=str(root / "data"), store=str(root / "store"))
    s = s.replace("runs", folder=str(root / runs)).replace("delivery", outbox_folder=str(root / f"outbox-{runs}"))
    s = s.replace("admin", public_url=PUBLIC, unsubscribe_secret="u" * 40)
    return s.replace("airflow", batch_size=5).replace("privacy", audit_salt="test-salt-" + "1" * 40, message_key="m" * 40)


def _client(settings: Settings, limit: RateLimit | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(unsubscribe_router(lambda: settings, limit), prefix="/seller-digest")
    return TestClient(app, base_url="https://digest.contoso.com")


def _sellers(settings: Settings) -> list[str]:
    cards = Path(settings.runs.folder) / str(W) / "cards.jsonl"
    return [json.loads(line)["seller"] for line in cards.read_text().splitlines()]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("unsubscribe")
    generate_sample(root / "data", sellers=12, weeks=4, seed=7, end_week=W)
    return root


def test_the_link_in_the_header_unsubscribes_and_the_next_run_skips_the_seller(root):
    first = _settings(root, "runs1")
    run_week(first, W, delivery="outbox")
    eml = sorted((root / "outbox-runs1" / str(W)).glob("*.eml"))[0]
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    seller = msg["To"].addresses[0].addr_spec.lower()
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
    assert https.startswith(f"{PUBLIC}/seller-digest/unsubscribe?t=") and mailto.startswith("mailto:") and "subject=unsubscribe" in mailto
    assert seller not in https, "the link must not carry the address in clear"
    raw_header = eml.read_bytes().split(b"\r\n\r\n", 1)[0].decode()
    assert "=?utf-8?" not in raw_header.split("List-Unsubscribe:", 1)[1].split("\r\nList-Unsubscribe-Post")[0]
    token = parse_qs(urlsplit(https).query)["t"][0]
    assert read_token(first, token) == seller

    client = _client(first)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (forged, make_token(first.replace("admin", unsubscribe_secret="x" * 40), seller), "", "not-a-token"):
        assert client.post(f"/seller-digest/unsubscribe?t={bad}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert read_events(first) == []
    page = client.get(urlsplit(https).path + "?" + urlsplit(https).query)  # what a scanner or a reader's click does
    assert page.status_code == 200 and "<form method=\"post\"" in page.text and seller not in page.text
    assert link_optouts(first) == frozenset(), "a GET must never unsubscribe"
    done = client.post(https.removeprefix(PUBLIC), data={"List-Unsubscribe": "One-Click"})  # RFC 8058 one-click
    assert done.status_code == 200 and "unsubscribed" in done.text and "resubscribe?t=" in done.text
    assert link_optouts(first) == {seller}
    log = (root / "store" / "optout_events.jsonl").read_text().splitlines()
    assert len(log) == 1 and json.loads(log[0])["event"] == "opt_out"

    second = _settings(root, "runs2")  # the next run: no card, no email; the audit counts the link's opt-out
    run_week(second, W, delivery="outbox")
    assert seller not in _sellers(second) and len(_sellers(second)) == len(_sellers(first)) - 1
    assert seller not in {p.name.removesuffix(".eml") for p in (root / "outbox-runs2" / str(W)).glob("*.eml")}
    audit = report(Path(second.runs.folder) / str(W), second)
    assert audit.exclusions["opted_out_by_link"] == 1 and audit.ok

    back = client.post(f"/seller-digest/resubscribe?t={token}")
    assert back.status_code == 200 and link_optouts(first) == frozenset()
    assert [e.event for e in read_events(first)] == ["opt_out", "opt_in"]  # append-only: the latest event wins
    third = _settings(root, "runs3")
    run_week(third, W, delivery="none")
    assert seller in _sellers(third)


def test_an_opt_out_after_the_gate_is_honoured_at_send_time(root, tmp_path):
    s = _settings(root, "runs4").replace("data", store=str(tmp_path / "store"))
    run_week(s, W, delivery="none")  # rendered and gated, held
    who = _sellers(s)[0]
    assert _client(s).post(f"/seller-digest/unsubscribe?t={make_token(s, who)}").status_code == 200
    now = dt.datetime(2026, 11, 23, 6, tzinfo=dt.timezone.utc)
    summary = send_run(s, str(W), via="outbox", start=now, clock=lambda: now.timestamp())
    assert summary.reasons.get("skipped: opted out") == 1
    assert who not in {p.name.removesuffix(".eml") for p in (root / "outbox-runs4" / str(W)).glob("*.eml")}


def test_the_pages_are_rate_limited_per_client_address(tmp_path):
    s = _settings(tmp_path).replace("admin", unsubscribe_per_minute=3)
    clock = [0.0]
    client = _client(s, RateLimit(clock=lambda: clock[0]))
    token = make_token(s, "ana@contoso.com")
    assert [client.get(f"/seller-digest/unsubscribe?t={token}").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = client.post(f"/seller-digest/unsubscribe?t={token}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert read_events(s) == [], "a refused request records nothing"
    clock[0] += 61
    assert client.post(f"/seller-digest/unsubscribe?t={token}").status_code == 200
    limit = RateLimit(clock=lambda: 0.0)
    assert all(limit.allow("10.0.0.1", 2) for _ in range(2)) and not limit.allow("10.0.0.1", 2) and limit.allow("10.0.0.2", 2)


def test_the_token_is_bound_to_the_seller_not_the_week_and_the_link_needs_https(tmp_path):
    s = _settings(tmp_path)
    assert make_token(s, "Ana@Contoso.com") == make_token(s, "ana@contoso.com") != make_token(s, "bo@contoso.com")
    assert read_token(s, make_token(s, "bo@contoso.com")) == "bo@contoso.com"
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="https"):
        unsubscribe_headers(s.replace("admin", public_url="http://digest.contoso.com"), "ana@contoso.com")
    local = unsubscribe_headers(s.replace("admin", public_url="http://127.0.0.1:8080/"), "ana@contoso.com")
    assert local["List-Unsubscribe"].startswith("<http://127.0.0.1:8080/seller-digest/unsubscribe?t=")
