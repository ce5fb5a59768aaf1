from __future__ import annotations

import os

import pytest

from digest.config import load_settings
from digest.errors import ConfigError


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.metrics.mail_sent_minutes == 5.0
    assert s.metrics.mail_received_minutes == 2.5
    assert s.metrics.chat_message_minutes == 0.5
    assert s.metrics.extrapolation_share == 0.8
    assert s.metrics.group_attribute == "FunctionType"
    assert s.privacy.min_group_size == 5
    assert s.data.default_time_zone == "UTC"
    assert "gmail.com" in s.metrics.personal_domains
    assert s.source == "defaults"


def test_file_and_env_override(tmp_path):
    f = tmp_path / "digest.toml"
    f.write_text("[metrics]\nmail_sent_minutes = 4\n")
    s = load_settings(f, environ={"DIGEST_METRICS__CHAT_MESSAGE_MINUTES": "1.5",
                                  "DIGEST_PRIVACY__EXCLUDED_DOMAINS": "a.com, b.com"})
    assert s.metrics.mail_sent_minutes == 4.0
    assert s.metrics.chat_message_minutes == 1.5
    assert s.privacy.excluded_domains == ("a.com", "b.com")


@pytest.mark.parametrize("toml, words", [
    ("[metrics]\nmail_sent_minuts = 4\n", ["metrics.mail_sent_minuts", "did you mean 'mail_sent_minutes'"]),
    ("[metric]\n", ["unknown section [metric]", "did you mean 'metrics'"]),
    ("[metrics]\nmail_sent_minutes = 'five'\n", ["metrics.mail_sent_minutes", "'five'", "a number"]),
    ("[privacy]\nmin_group_size = 2\n", ["privacy.min_group_size", "at least 5"]),
    ("[data]\ndefault_time_zone = 'Mars/Olympus'\n", ["data.default_time_zone", "IANA time zone"]),
    ("[metrics\n", ["not valid TOML"]),
])
def test_bad_file_names_setting_and_fix(tmp_path, toml, words):
    f = tmp_path / "digest.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as exc:
        load_settings(f, environ={})
    for w in words:
        assert w in str(exc.value)


def test_bad_env_names_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="DIGEST_METRICS__NOPE"):
        load_settings(None, environ={"DIGEST_METRICS__NOPE": "1"})


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


# --- finding 7: no secret in any message, every setting error is exit 2 and names the setting ---------

SECRET = "s3cret-Pa55"


def _config_cli(tmp_path, toml: str, env: dict[str, str] | None = None, args: tuple[str, ...] = ("config",)):
    """Run `digest --config <file> ...` through click with only the given DIGEST_ variables."""
    from click.testing import CliRunner

    from digest.cli import main

    f = tmp_path / "digest.toml"
    f.write_text(toml)
    clean = {k: None for k in os.environ if k.startswith("DIGEST_")}
    return CliRunner().invoke(main, ["--config", str(f), *args], env={**clean, **(env or {})})


@pytest.mark.parametrize("url, shown", [
    (f"postgresql:user:{SECRET}@host/db", "'postgresql:user:***@host/db'"),
    (f"postgresql//user:{SECRET}@host/db", "user:***@host/db"),
    (f"user:{SECRET}@host", "user:***@host"),
])
def test_a_ledger_url_that_is_not_a_url_is_refused_without_its_password(tmp_path, url, shown):
    for toml, env in ((f"[delivery]\nledger_url = {url!r}\n", {}), ("", {"DIGEST_DELIVERY__LEDGER_URL": url})):
        result = _config_cli(tmp_path, toml, env)
        assert result.exit_code == 2, result.output
        assert SECRET not in result.output
        assert "delivery.ledger_url" in result.output and shown in result.output
        assert "is not a database URL" in result.output and "postgresql+psycopg2://user:password@host:5432/db" in result.output
        assert "leave it empty for SQLite in the run folder" in result.output


@pytest.mark.parametrize("port", ["notaport", "99999", "0"])
def test_a_ledger_url_with_a_bad_port_is_a_setting_error_not_an_internal_error(tmp_path, monkeypatch, port):
    monkeypatch.chdir(tmp_path)
    url = f"postgresql+psycopg2://u:{SECRET}@db.example.com:{port}/digest"
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={"DIGEST_DELIVERY__LEDGER_URL": url})
    text = str(caught.value)
    assert "DIGEST_DELIVERY__LEDGER_URL" in text and "delivery.ledger_url" in text and "port" in text and port in text
    assert SECRET not in text and "u:***@db.example.com" in text
    result = _config_cli(tmp_path, f"[delivery]\nledger_url = {url!r}\n")
    assert result.exit_code == 2 and "internal error" not in result.output and SECRET not in result.output


def test_good_ledger_urls_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in (f"postgresql+psycopg2://u:{SECRET}@db.example.com:5432/digest", "sqlite:///var/ledger.sqlite", ""):
        assert load_settings(None, environ={"DIGEST_DELIVERY__LEDGER_URL": url}).delivery.ledger_url == url


def test_repr_and_str_of_settings_and_sections_mask_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"DIGEST_GRAPH__CLIENT_SECRET": SECRET, "DIGEST_PRIVACY__AUDIT_SALT": SECRET + "salt",
           "DIGEST_DELIVERY__LEDGER_URL": f"postgresql+psycopg2://u:{SECRET}@db.example.com:5432/digest"}
    s = load_settings(None, environ=env)
    assert s.graph.client_secret == SECRET  # the value itself is kept
    for shown in (repr(s), str(s), repr(s.graph), str(s.graph), repr(s.privacy), repr(s.delivery), str(s.delivery)):
        assert SECRET not in shown
    assert "client_secret='***'" in repr(s.graph) and "audit_salt='***'" in repr(s.privacy)
    assert "ledger_url='postgresql+psycopg2://u:***@db.example.com:5432/digest'" in repr(s.delivery)
    assert "tenant_id=''" in repr(s.graph)  # other settings still shown
    assert "client_secret=''" in repr(load_settings(None, environ={}).graph)  # an empty secret shows as empty


def test_digest_config_masks_secrets_and_the_ledger_password(tmp_path):
    url = f"postgresql+psycopg2://u:{SECRET}@db.example.com:5432/digest"
    result = _config_cli(tmp_path, "", {"DIGEST_GRAPH__CLIENT_SECRET": SECRET, "DIGEST_DELIVERY__LEDGER_URL": url})
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "graph.client_secret = '***'" in result.output
    assert "delivery.ledger_url = 'postgresql+psycopg2://u:***@db.example.com:5432/digest'" in result.output


@pytest.mark.parametrize("toml, env, words", [
    ("data = [1, 2]\n", {}, ["[data] must be a table"]),
    ("data = 'x'\n", {}, ["[data] must be a table"]),
    ("[[data]]\nfolder = 'a'\n", {}, ["[data] must be a table"]),
    ("mail_sent_minutes = 4\n", {}, ["mail_sent_minutes", "outside any section", "[metrics]"]),
    ("[data]\ndefault_time_zone = 'America'\n", {}, ["data.default_time_zone", "'America'", "IANA time zone"]),
    ("[data]\ndefault_time_zone = '" + "a" * 300 + "'\n", {}, ["data.default_time_zone", "IANA time zone"]),
    ("", {"DIGEST_AIRFLOW__TIME_ZONE": "Europe"}, ["DIGEST_AIRFLOW__TIME_ZONE", "airflow.time_zone"]),
    ("[metrics]\nmail_sent_minutes = nan\n", {}, ["metrics.mail_sent_minutes", "a finite number"]),
    ("[metrics]\nmail_sent_minutes = inf\n", {}, ["metrics.mail_sent_minutes", "a finite number"]),
    ("", {"DIGEST_METRICS__MAIL_SENT_MINUTES": "nan"}, ["DIGEST_METRICS__MAIL_SENT_MINUTES", "metrics.mail_sent_minutes"]),
    ("", {"DIGEST_PRIVACY__MIN_GROUP_SIZE": "five"}, ["DIGEST_PRIVACY__MIN_GROUP_SIZE", "privacy.min_group_size", "a whole number"]),
    ("", {"DIGEST_METRIC__MAIL_SENT_MINUTES": "4"}, ["DIGEST_METRIC__MAIL_SENT_MINUTES", "no section 'metric'", "did you mean 'metrics'"]),
    ("", {"DIGEST_DELIVERY__VIA": "pigeon"}, ["DIGEST_DELIVERY__VIA", "delivery.via", "outbox, graph"]),
    ("", {"DIGEST_DELIVERY__LEDGER_URL": "oracle9://u:pw@h/db"}, ["delivery.ledger_url", "oracle9://u:***@h/db", "database kind"]),
    ("[graph]\nclient_secret = 42\n", {}, ["graph.client_secret", "a string"]),
])
def test_every_setting_error_names_the_setting_and_exits_2(tmp_path, toml, env, words):
    result = _config_cli(tmp_path, toml, env)
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output
    flat = " ".join(result.output.split())
    for w in words:
        assert w in flat, (w, result.output)


def test_a_secret_setting_with_a_bad_value_is_not_shown(tmp_path):
    result = _config_cli(tmp_path, f"[privacy]\naudit_salt = [{SECRET!r}]\n")
    assert result.exit_code == 2 and "privacy.audit_salt" in result.output and SECRET not in result.output


# --- finding 9: error text with [brackets] is printed as written, not eaten as console markup ---------

def test_an_unknown_section_is_named_in_the_cli_error(tmp_path):
    result = _config_cli(tmp_path, "[dta]\nfolder = 'x'\n[bold]\n")
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "unknown section [dta] (did you mean 'data'?)" in flat
    assert "error:" in flat
