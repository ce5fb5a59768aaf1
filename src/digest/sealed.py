"""Rendered messages at rest: sealed with AES-256-GCM under a key of their own week.

On real data the render step writes each .eml as ``<name>.eml.sealed``: ``MAGIC``, a random 96-bit
nonce, then the AES-256-GCM ciphertext and tag (``cryptography``'s AESGCM, authenticated: a changed
byte is refused, never decrypted into something else). Files sealed before 2026-12-03 are Fernet
tokens (AES-128-CBC plus HMAC-SHA256) and still open; Fernet took ~1 ms per message each way and
made files a third larger (base64), on every email four times (render, records, gate, delivery). Only the
steps that must read a message open it: the audit records (they hash the plaintext), the privacy
gate and delivery (Graph sends the plaintext bytes). Sample data stays readable, so the demo's
previews work.

Keys: one master key (``privacy.message_key``, else made once in ``<data.store>/message_key``);
each ISO week gets its own data key, HKDF-SHA256(master, info = "seller-digest message key <week>").
HKDF rather than MultiFernet: nothing per week has to be stored or wrapped, every process derives
the same key from the week alone, and the keys of two weeks are unrelated. Changing the master key
makes earlier weeks unreadable, which is what rotation wants once those weeks are purged.
Neither key is ever logged, shown or written into a run folder.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from digest.config import Settings
from digest.errors import ConfigError, InputError
from digest.runfolder import write_bytes_atomic

SUFFIX = ".sealed"
MAGIC = b"seller-digest sealed v2\n"  # then nonce + AES-256-GCM ciphertext and tag; anything else is a Fernet token
NONCE_BYTES = 12
KEY_FILE = "message_key"  # in data.store, when privacy.message_key is empty
MIN_MASTER = 32  # characters of a usable master key
SAMPLE_MARK = ".digest-sample.json"  # written into a data folder the demo generated (never into real data)


def stored_secret(store: str | Path, name: str) -> bytes:
    """A random secret kept in <store>/<name> (mode 0600), made once; parallel first calls agree on one."""
    store = Path(store)
    path = store / name
    if not path.is_file():
        store.mkdir(parents=True, exist_ok=True)
        tmp = store / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic: the first writer wins, later ones read its secret
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_MASTER:
        raise ConfigError(f"{path} holds no usable secret ({len(value)} characters, at least {MIN_MASTER} needed): "
                          "delete it to make a new one, or set the setting that replaces it.")
    return value.encode()


def master_key(settings: Settings) -> bytes:
    """The master key of messages at rest: privacy.message_key, else the one kept in the store."""
    configured = settings.privacy.message_key
    if configured:
        if len(configured) < MIN_MASTER:
            raise ConfigError(f"privacy.message_key is too short ({len(configured)} characters): use at least {MIN_MASTER} "
                              "random characters, e.g. from `python -c \"import secrets; print(secrets.token_urlsafe(48))\"`.")
        return configured.encode()
    return stored_secret(settings.data.store, KEY_FILE)


def week_key(master: bytes, week: str) -> bytes:
    """The key of one week's messages (a Fernet key: 32 bytes, URL-safe base64), derived from the master key (HKDF-SHA256)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"seller-digest message key {week}".encode()).derive(master)
    return base64.urlsafe_b64encode(derived)


def message_key(settings: Settings, week: str) -> bytes:
    """The key that opens (and seals) the rendered messages of `week`."""
    return week_key(master_key(settings), str(week))


def is_sample(settings: Settings) -> bool:
    """Whether data.folder holds the demo's generated sample (its messages stay readable, with previews)."""
    return (Path(settings.data.folder) / SAMPLE_MARK).is_file()


def sealing_key(settings: Settings, week: str) -> bytes | None:
    """The key rendering seals `week`'s messages with: None for the generated sample, else the week's key."""
    return None if is_sample(settings) else message_key(settings, week)


def is_sealed(path: str | Path) -> bool:
    return Path(path).name.endswith(SUFFIX)


def write_message(path: str | Path, data: bytes, key: bytes | None) -> Path:
    """Write a message atomically: sealed as <path>.sealed with `key`, or as it is without one. Returns the path written."""
    path = Path(path)
    if key is None:
        write_bytes_atomic(path, data)
        return path
    sealed = path.with_name(path.name + SUFFIX)
    nonce = os.urandom(NONCE_BYTES)
    write_bytes_atomic(sealed, MAGIC + nonce + _aead(key).encrypt(nonce, data, MAGIC))
    return sealed


@lru_cache(maxsize=16)
def _aead(key: bytes) -> AESGCM:
    """The AES-256-GCM cipher of a week's key: a key of its own (HKDF-SHA256 of the week key), not Fernet's halves."""
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"seller-digest sealed message v2 aes-256-gcm").derive(base64.urlsafe_b64decode(key)))


def read_message(path: str | Path, key: bytes | None) -> bytes:
    """The plaintext bytes of a message written by :func:`write_message` (a sealed one needs its week's key)."""
    path = Path(path)
    data = path.read_bytes()
    if not is_sealed(path):
        return data
    if key is None:
        raise InputError(f"{path} is sealed and no key was given to open it: read it through the audit or delivery steps.")
    try:
        if data.startswith(MAGIC):
            nonce = data[len(MAGIC):len(MAGIC) + NONCE_BYTES]
            return _aead(key).decrypt(nonce, data[len(MAGIC) + NONCE_BYTES:], MAGIC)
        return Fernet(key).decrypt(data)  # sealed before 2026-12-03
    except (InvalidToken, InvalidTag, ValueError):
        raise InputError(f"{path} cannot be opened with the key of its week: it was changed after rendering, or "
                         "privacy.message_key is not the one it was sealed with. Render the week again.") from None


def opener(settings: Settings, week: str):
    """A reader of one week's messages: the key is derived once, and only if a sealed message is read."""
    cache: list[bytes] = []

    def read(path: str | Path) -> bytes:
        if is_sealed(path) and not cache:
            cache.append(message_key(settings, week))
        return read_message(path, cache[0] if cache else None)

    return read
