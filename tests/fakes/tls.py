"""A self-signed certificate for 127.0.0.1 made at test time, and a threaded HTTPS server.

MSAL only accepts https authorities, so the fakes speak TLS; clients trust the certificate through
graph.ca_bundle (the PEM written here).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class KeyPair:
    cert_path: Path  # PEM certificate
    key_path: Path  # PEM private key (unencrypted)
    thumbprint: str  # SHA-1 of the DER certificate, hex upper-case (as Entra shows it)
    cert_pem: bytes


def make_certificate(folder: Path, name: str = "localhost", ip: str = "127.0.0.1") -> KeyPair:
    """A fresh RSA key and a self-signed certificate valid for `ip` and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)  # fixed: tests must not depend on the clock
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365 * 30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - what Entra calls the thumbprint
    return KeyPair(cert_path, key_path, thumbprint, cert_pem)


class HTTPSServer(ThreadingHTTPServer):
    """ThreadingHTTPServer on 127.0.0.1:<ephemeral> whose connections are TLS (handshake in the worker thread)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], keys: KeyPair):
        super().__init__(("127.0.0.1", 0), handler)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(keys.cert_path, keys.key_path)
        self._thread: threading.Thread | None = None

    def get_request(self):
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "HTTPSServer":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)


class TLSHandler(BaseHTTPRequestHandler):
    """Base handler: TLS handshake per connection, HTTP/1.1 keep-alive, quiet logs, abrupt resets."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, OSError):
            pass  # the client went away or we reset it on purpose

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the connection is already gone (reset on purpose or by the client)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        pass

    def reset_connection(self) -> None:
        """Drop the connection with a TCP RST and no answer (a 'connection reset' fault)."""
        try:
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # the makefile() reference would keep the socket open past close()
            self.request.close()
        except OSError:
            pass
        self.close_connection = True

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, doc: object | None, headers: dict[str, str] | None = None) -> None:
        import json

        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
