from __future__ import annotations

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
