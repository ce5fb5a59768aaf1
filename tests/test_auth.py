"""App tokens through MSAL against the fake authority: secret, certificate, cache, clear failures."""

from __future__ import annotations

import logging

import certifi
import pytest
from delivery_env import CLIENT, SECRET, TENANT, authority, tls_keys  # noqa: F401 - fixtures

from digest.graph.auth import TokenProvider, make_session
from digest.config import Settings
from digest.errors import ConfigError, ServiceError
from fakes.tls import make_certificate


def _graph(keys, authority, **kw):
    values = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET, "authority_url": authority.url,
              "ca_bundle": str(keys.cert_path)}
    values.update(kw)
    return Settings().replace("graph", **values).graph


def test_secret_token_is_cached_across_sends(tls_keys, authority):
    tokens = TokenProvider(_graph(tls_keys, authority), make_session(_graph(tls_keys, authority)))
    first = tokens.token()
    assert authority.token_valid(first)
    assert tokens.token() == first and authority.token_requests == 1  # MSAL's cache answered the second time
    tokens.invalidate(first)
    assert tokens.token() != first and authority.token_requests == 2


def test_certificate_credential(tls_keys, authority, tmp_path):
    app = make_certificate(tmp_path / "app", name="app")
    authority.register("cert-app", certificate_pem=app.cert_pem)
    graph = _graph(tls_keys, authority, client_id="cert-app", client_secret="", certificate_path=str(app.key_path),
                   certificate_thumbprint=app.thumbprint)
    assert authority.token_valid(TokenProvider(graph, make_session(graph)).token())
    other = make_certificate(tmp_path / "other", name="other")  # a key the app registration does not know
    wrong = _graph(tls_keys, authority, client_id="cert-app", client_secret="", certificate_path=str(other.key_path),
                   certificate_thumbprint=other.thumbprint)
    with pytest.raises(ServiceError, match="AADSTS700027") as err:
        TokenProvider(wrong, make_session(wrong)).token()
    assert "certificate_path" in str(err.value)


def test_wrong_secret_names_tenant_client_and_code_never_the_secret(tls_keys, authority, caplog):
    caplog.set_level(logging.DEBUG)
    graph = _graph(tls_keys, authority, client_secret="not-the-secret-xyz")
    with pytest.raises(ServiceError) as err:
        TokenProvider(graph, make_session(graph)).token()
    text = str(err.value)
    assert TENANT in text and CLIENT in text and "AADSTS7000215" in text and "DIGEST_GRAPH__CLIENT_SECRET" in text
    assert "not-the-secret-xyz" not in text and "not-the-secret-xyz" not in caplog.text


def test_unknown_tenant_and_unknown_client(tls_keys, authority):
    graph = _graph(tls_keys, authority, tenant_id="fabrikam.onmicrosoft.com")
    with pytest.raises(ServiceError, match="fabrikam.onmicrosoft.com.*graph.tenant_id"):
        TokenProvider(graph, make_session(graph)).token()
    graph = _graph(tls_keys, authority, client_id="no-such-app")
    with pytest.raises(ServiceError, match="AADSTS700016.*graph.client_id"):
        TokenProvider(graph, make_session(graph)).token()


def test_missing_settings_are_config_errors(tls_keys, authority):
    with pytest.raises(ConfigError, match="graph.tenant_id"):
        TokenProvider(_graph(tls_keys, authority, tenant_id=""), make_session(_graph(tls_keys, authority)))
    graph = _graph(tls_keys, authority, client_secret="")
    with pytest.raises(ConfigError, match="DIGEST_GRAPH__CLIENT_SECRET"):
        TokenProvider(graph, make_session(graph)).token()
    graph = _graph(tls_keys, authority, client_secret="", certificate_path=str(tls_keys.key_path), certificate_thumbprint="12:34")
    with pytest.raises(ConfigError, match="certificate_thumbprint"):
        TokenProvider(graph, make_session(graph)).token()


def test_ca_bundle_wins_over_requests_ca_bundle(tls_keys, authority, monkeypatch):
    # An exported REQUESTS_CA_BUNDLE (here: the public roots, which do not include the fake's certificate)
    # would otherwise replace the session's verify setting for MSAL's requests.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    graph = _graph(tls_keys, authority)
    assert authority.token_valid(TokenProvider(graph, make_session(graph)).token())


def test_unreachable_authority(tls_keys, authority):
    graph = _graph(tls_keys, authority, authority_url="https://127.0.0.1:1", connect_timeout_seconds=1.0)
    with pytest.raises(ServiceError, match="unreachable.*graph.authority_url"):
        TokenProvider(graph, make_session(graph)).token()
