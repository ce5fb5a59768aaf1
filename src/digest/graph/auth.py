"""Microsoft Entra ID (Azure AD) app tokens for Graph: MSAL client-credentials flow.

The one place that touches the client secret or the certificate's private key. A token is asked
for with the ``https://graph.microsoft.com/.default`` scope; MSAL keeps it in its in-memory cache,
so one :class:`TokenProvider` serves every send of a run. Nothing here logs a token or a secret,
and error messages name the tenant, the client id and the AAD error code, never the credential.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import msal
import requests

from digest.config import GraphSettings
from digest.errors import ConfigError, ServiceError

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class PinnedSession(requests.Session):
    """A requests session whose own ``verify`` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    requests lets those environment variables replace a session's verify setting when a request
    passes none (MSAL passes none), which would silently ignore graph.ca_bundle.
    """

    timeout: tuple[float, float] | None = None  # requests has no session-wide timeout; MSAL passes none

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            merged["verify"] = self.verify
        return merged


def make_session(graph: GraphSettings) -> requests.Session:
    """A session for the authority and Graph that trusts graph.ca_bundle when it is set."""
    session = PinnedSession()
    session.timeout = (graph.connect_timeout_seconds, graph.read_timeout_seconds)
    if graph.ca_bundle:
        if not Path(graph.ca_bundle).is_file():
            raise ConfigError(f"graph.ca_bundle: {graph.ca_bundle} does not exist. Point it at a PEM file or leave it empty.")
        session.verify = graph.ca_bundle
    return session


def _credential(graph: GraphSettings) -> Any:
    if graph.certificate_path:
        path = Path(graph.certificate_path)
        if not path.is_file():
            raise ConfigError(f"graph.certificate_path: {path} does not exist. Point it at the PEM private key of the app's certificate.")
        thumbprint = graph.certificate_thumbprint.replace(":", "").strip()
        if len(thumbprint) != 40 or any(c not in "0123456789abcdefABCDEF" for c in thumbprint):
            raise ConfigError(f"graph.certificate_thumbprint: {graph.certificate_thumbprint!r} is not a SHA-1 thumbprint. "
                              "Copy the 40 hex digits shown under Certificates & secrets of the app registration.")
        return {"private_key": path.read_text(encoding="utf-8"), "thumbprint": thumbprint}
    if graph.client_secret:
        return graph.client_secret
    raise ConfigError("Graph needs a credential: set DIGEST_GRAPH__CLIENT_SECRET, or graph.certificate_path and "
                      "graph.certificate_thumbprint (see docs/delivery.md).")


class TokenProvider:
    """App-only access tokens for Graph, cached by MSAL and refreshed when they near expiry."""

    def __init__(self, graph: GraphSettings, session: requests.Session):
        for name in ("tenant_id", "client_id"):
            if not getattr(graph, name).strip():
                raise ConfigError(f"graph.{name} is empty. Set it to the value shown on the app registration's Overview page.")
        self.tenant, self.client_id = graph.tenant_id.strip(), graph.client_id.strip()
        self.authority = f"{graph.authority_url.rstrip('/')}/{self.tenant}"
        self._graph = graph
        self._session = session
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()  # one token request at a time; the others reuse its result

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            try:
                # instance_discovery=False: the authority is a setting (national clouds, the test fake);
                # MSAL still fetches and checks the tenant's OpenID configuration.
                self._app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=_credential(self._graph), authority=self.authority,
                    http_client=self._session, instance_discovery=False)
            except ValueError as exc:
                raise ServiceError(f"token authority {self.authority} refused the tenant {self.tenant!r} of client id {self.client_id} "
                                   f"({_first_line(exc)}). Check graph.tenant_id and graph.authority_url.") from None
            except requests.RequestException as exc:
                raise ServiceError(f"token authority {self.authority} is unreachable ({type(exc).__name__}). "
                                   "Check graph.authority_url, the network and graph.ca_bundle.") from None
        return self._app

    def token(self) -> str:
        """A valid access token for Graph (from MSAL's cache when it still has one)."""
        with self._lock:
            app = self._application()
            try:
                result = app.acquire_token_for_client(scopes=[GRAPH_SCOPE])
            except requests.RequestException as exc:
                raise ServiceError(f"token authority {self.authority} is unreachable ({type(exc).__name__}). "
                                   "Check graph.authority_url, the network and graph.ca_bundle.") from None
        if "access_token" in result:
            return result["access_token"]
        codes = ",".join(f"AADSTS{c}" for c in result.get("error_codes", [])) or "no AADSTS code"
        raise ServiceError(f"no Graph token for tenant {self.tenant}, client id {self.client_id}: {result.get('error', 'error')} "
                           f"({codes}). {_fix(result)}")

    def invalidate(self, token: str) -> None:
        """Forget a token Graph refused (401) so the next call asks the authority again."""
        with self._lock:
            if self._app is None:
                return
            cache = self._app.token_cache
            for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                if item.get("secret") == token:
                    cache.remove_at(item)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _fix(result: dict) -> str:
    codes = set(result.get("error_codes", []))
    if codes & {7000215, 7000222}:
        return "The client secret is wrong or expired: create a new one and set DIGEST_GRAPH__CLIENT_SECRET."
    if codes & {700027, 700024}:
        return "The certificate assertion was refused: check graph.certificate_path and graph.certificate_thumbprint against the app registration."
    if codes & {700016}:
        return "No such application in this tenant: check graph.client_id and graph.tenant_id."
    if codes & {90002}:
        return "No such tenant: check graph.tenant_id."
    return "Check graph.tenant_id, graph.client_id and the credential against the app registration."
