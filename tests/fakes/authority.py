"""A fake Microsoft Entra ID authority: OpenID discovery and the client-credentials token endpoint.

Answers like login.microsoftonline.com: AADSTS error codes in ``error_codes``, secrets compared
exactly, certificate assertions (RFC 7523 JWT signed with the app's key, ``x5t`` = SHA-1
thumbprint) verified against the registered certificate. Issued tokens are random; the Graph fake
asks :meth:`FakeAuthority.token_valid` about them.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography import x509

from fakes.tls import HTTPSServer, KeyPair, TLSHandler

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class App:
    client_id: str
    secret: str | None = None
    certificate_pem: bytes | None = None


@dataclass
class FakeAuthority:
    """The authority's state; ``server`` is set by :func:`start_authority`."""

    tenant: str
    apps: dict[str, App] = field(default_factory=dict)
    token_lifetime: int = 3599
    issued: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    token_requests: int = 0
    discovery_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: HTTPSServer | None = None

    @property
    def url(self) -> str:
        """The authority_url setting pointing here (the tenant is appended by the client)."""
        assert self.server is not None
        return self.server.base_url

    def register(self, client_id: str, secret: str | None = None, certificate_pem: bytes | None = None) -> None:
        self.apps[client_id] = App(client_id, secret, certificate_pem)

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self.issued.get(token)
        return expiry is not None and expiry > time.monotonic()

    def expire_all(self) -> None:
        with self.lock:
            self.issued = {t: 0.0 for t in self.issued}

    def issue(self) -> str:
        token = "fake-at-" + secrets.token_urlsafe(32)
        with self.lock:
            self.issued[token] = time.monotonic() + self.token_lifetime
        return token


def _aad_error(error: str, code: int, description: str) -> dict:
    return {"error": error, "error_description": f"AADSTS{code}: {description}", "error_codes": [code],
            "timestamp": "2026-01-01 00:00:00Z", "trace_id": secrets.token_hex(8), "correlation_id": secrets.token_hex(8)}


def _handler(state: FakeAuthority) -> type[TLSHandler]:
    class Handler(TLSHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlparse(self.path).path.strip("/").split("/")
            base = state.url
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                with state.lock:
                    state.discovery_requests += 1
                tenant = parts[0]
                if tenant != state.tenant:
                    self.send_json(400, _aad_error("invalid_tenant", 90002, f"Tenant '{tenant}' not found."))
                    return
                prefix = f"{base}/{tenant}"
                self.send_json(200, {
                    "issuer": f"{prefix}/v2.0", "token_endpoint": f"{prefix}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{prefix}/oauth2/v2.0/authorize",
                    "jwks_uri": f"{prefix}/discovery/v2.0/keys", "token_endpoint_auth_methods_supported":
                    ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                    "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                    "tenant_region_scope": "EU"})
                return
            self.send_json(404, {"error": "not_found", "error_description": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            parts = urlparse(self.path).path.strip("/").split("/")
            form = {k: v[0] for k, v in parse_qs(self.read_body().decode()).items()}
            if len(parts) != 4 or parts[1:] != ["oauth2", "v2.0", "token"]:
                self.send_json(404, {"error": "not_found", "error_description": f"no route {self.path}"})
                return
            with state.lock:
                state.token_requests += 1
            status, doc = _token(state, parts[0], form, f"{state.url}/{parts[0]}/oauth2/v2.0/token")
            self.send_json(status, doc)

    return Handler


def _token(state: FakeAuthority, tenant: str, form: dict[str, str], endpoint: str) -> tuple[int, dict]:
    if tenant != state.tenant:
        return 400, _aad_error("invalid_request", 90002, f"Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return 400, _aad_error("unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
    if form.get("scope") != GRAPH_SCOPE:
        return 400, _aad_error("invalid_scope", 1002012, f"The provided value for scope {form.get('scope')} is not valid.")
    app = state.apps.get(form.get("client_id", ""))
    if app is None:
        return 400, _aad_error("unauthorized_client", 700016, f"Application with identifier '{form.get('client_id')}' was not found in the directory.")
    if "client_secret" in form:
        if app.secret is None or not secrets.compare_digest(form["client_secret"], app.secret):
            return 401, _aad_error("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
    elif form.get("client_assertion_type") == ASSERTION_TYPE:
        problem = _check_assertion(app, form.get("client_assertion", ""), endpoint)
        if problem:
            return 401, _aad_error("invalid_client", 700027, f"Client assertion failed signature validation. {problem}")
    else:
        return 401, _aad_error("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
    return 200, {"token_type": "Bearer", "expires_in": state.token_lifetime, "ext_expires_in": state.token_lifetime,
                 "access_token": state.issue()}


def _check_assertion(app: App, assertion: str, endpoint: str) -> str | None:
    if app.certificate_pem is None:
        return "No certificate is registered for this application."
    cert = x509.load_pem_x509_certificate(app.certificate_pem)
    from cryptography.hazmat.primitives import hashes

    expected = {"x5t": base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA1())).rstrip(b"=").decode(),  # noqa: S303
                "x5t#S256": base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode()}
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        return f"Malformed assertion ({exc})."
    if not any(str(header.get(k, "")).rstrip("=") == v for k, v in expected.items()):
        return "Key was not found (thumbprint does not match a registered certificate)."
    try:
        claims = jwt.decode(assertion, cert.public_key(), algorithms=["RS256", "PS256"], audience=endpoint,
                            options={"require": ["exp", "aud", "iss", "sub"]})
    except jwt.PyJWTError as exc:
        return f"Invalid assertion ({exc})."
    if claims["iss"] != app.client_id or claims["sub"] != app.client_id:
        return "Issuer and subject must be the client id."
    return None


def start_authority(keys: KeyPair, tenant: str) -> FakeAuthority:
    """Start a fake authority for `tenant` on 127.0.0.1 (stop it with ``state.server.stop()``)."""
    state = FakeAuthority(tenant)
    state.server = HTTPSServer(_handler(state), keys).start()
    return state
