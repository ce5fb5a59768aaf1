"""Outbox files: every .eml parses with the email package, round-trips exactly, previews and index."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import RenderSettings
from digest.delivery.outbox import file_stem, parse_envelope, read_eml, write_eml, write_outbox
from digest.errors import InputError
from digest.email.render import render_all
from render_cards import HOSTILE, full_cards, idle_cards, sparse_cards

AS_OF = "2026-11-23"


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outbox")
    cards = [full_cards(), sparse_cards(), idle_cards(), full_cards("Zoe.Quinn+digest@Contoso.com")]
    summary = write_outbox(render_all(cards, RenderSettings(), AS_OF), folder, sender="digest@example.com",
                           title="Outbox", data_as_of=AS_OF)
    return folder, summary


def _parse(path):
    with path.open("rb") as f:
        return BytesParser(policy=policy.default).parse(f)


def test_one_eml_per_rendered_seller_and_the_skipped_are_reported(outbox):
    folder, summary = outbox
    assert summary.rendered == 3 and summary.skipped == (("idle@contoso.com", "no collaboration recorded in 2026-W47"),)
    names = sorted(p.name for p in folder.glob("*.eml"))
    assert names == ["ana.lopez@contoso.com.eml", "bo@contoso.com.eml", "zoe.quinn+digest@contoso.com.eml"]
    assert summary.total_bytes / summary.rendered < 400_000


def test_every_eml_is_related_alternative_with_matching_cid_parts(outbox):
    folder, _ = outbox
    for path in folder.glob("*.eml"):
        msg = _parse(path)
        assert msg.get_content_type() == "multipart/related" and msg["MIME-Version"] == "1.0"
        first, *images = msg.iter_parts()
        assert first.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in first.iter_parts()] == ["text/plain", "text/html"]
        html = first.get_body(("html",)).get_content()
        text = first.get_body(("plain",)).get_content()
        parts = {str(p["Content-ID"]).strip("<>") for p in images}
        assert all(p.get_content_type() == "image/png" and p.get_content_disposition() == "inline" for p in images)
        assert set(re.findall(r'src="cid:([^"]+)"', html)) == parts
        assert path.stem == file_stem(msg["To"].addresses[0].addr_spec)
        assert msg["Cc"] is None and msg["Bcc"] is None and len(msg["To"].addresses) == 1
        assert len(html.encode()) < 95_000 and "Data as of November 23, 2026" in text


def test_the_eml_round_trip_is_exact_and_the_bytes_are_stable(tmp_path):
    renderer_out = list(render_all([full_cards()], RenderSettings(), AS_OF, names={"ana.lopez@contoso.com": "Ana María"}))
    email = renderer_out[0]
    path = write_eml(email, tmp_path)
    first = path.read_bytes()
    assert read_eml(path) == email
    assert write_eml(email, tmp_path).read_bytes() == first  # no random boundaries or ids


def test_hostile_names_survive_the_eml_escaped_in_html(outbox):
    folder, _ = outbox
    msg = _parse(folder / "ana.lopez@contoso.com.eml")
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert HOSTILE in msg.get_body(("plain",)).get_content()


def test_previews_point_at_png_files_alongside_and_the_index_links_them(outbox):
    folder, _ = outbox
    preview = (folder / "ana.lopez@contoso.com.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img[^>]+src="([^"]+)"', preview)
    assert len(srcs) == 5 and "cid:" not in preview
    assert all((folder / s).read_bytes().startswith(b"\x89PNG") for s in srcs)
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert 'href="ana.lopez@contoso.com.html"' in index and 'href="bo@contoso.com.eml"' in index
    assert "idle@contoso.com" in index and "no collaboration recorded in 2026-W47" in index


def test_delivery_reads_the_same_recipient_and_week_from_the_headers_alone(outbox, tmp_path):
    folder, summary = outbox
    named = write_eml(next(iter(render_all([full_cards("zoe@contoso.com")], RenderSettings(), AS_OF,
                                           names={"zoe@contoso.com": "Zoë, \"the\" Öster"}))), tmp_path)
    for path in [*(folder / name for _, name in summary.files), named]:
        raw = path.read_bytes()
        email, envelope = read_eml(path), parse_envelope(raw, path)
        assert (envelope.recipient, envelope.week) == (email.recipient, email.week)
        assert parse_envelope(raw.replace(b"\r\n", b"\n"), path) == envelope  # bare line feeds too


def test_read_eml_refuses_a_foreign_file_with_the_fix(tmp_path):
    path = tmp_path / "x.eml"
    path.write_bytes(b"Subject: hi\r\nTo: a@b.com, c@d.com\r\n\r\nhello\r\n")
    with pytest.raises(InputError, match="exactly one To address.*digest render"):
        read_eml(path)
    for foreign in (path.read_bytes(), b"To: a@b.com\r\n\r\nX-Seller-Digest-Week: 2026-W47\r\n", b""):
        with pytest.raises(InputError, match="exactly one To address.*digest render"):
            parse_envelope(foreign, path)  # a week header in the body is not one
    with pytest.raises(InputError, match="cannot name a file"):
        file_stem("../..")


def test_cli_render_writes_the_outbox_and_reports_counts(tmp_path):
    cards = tmp_path / "cards.jsonl"
    cards.write_text("\n".join(c.to_json() for c in (sparse_cards(), idle_cards())) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    env = {"DIGEST_DATA__STORE": str(tmp_path / "store"), "DIGEST_DATA__FOLDER": str(tmp_path / "data")}
    result = CliRunner(env=env).invoke(main, ["render", "--cards", str(cards), "--out", str(out), "--data-as-of", AS_OF, "--preview"])
    assert result.exit_code == 0, result.output
    assert "rendered 1 email(s)" in result.output and "skipped 1" in result.output
    assert "idle@contoso.com: no collaboration recorded in 2026-W47" in result.output
    assert "index.html" in result.output and (out / "bo@contoso.com.eml").is_file()
    plain = tmp_path / "plain"  # real data, no --preview: the .eml files only, nothing readable in a browser
    result = CliRunner(env=env).invoke(main, ["render", "--cards", str(cards), "--out", str(plain), "--data-as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in plain.iterdir()) == ["bo@contoso.com.eml"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seller": "x@y.com"}\n', encoding="utf-8")
    result = CliRunner(env=env).invoke(main, ["render", "--cards", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "is not a cards file" in result.output
