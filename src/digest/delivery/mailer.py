"""What a mailer is: it delivers one already rendered email and says what happened.

Two implementations: :class:`OutboxMailer` (writes .eml files into delivery.outbox_folder, the
default) and ``digest.delivery.graph.GraphMailer`` (Microsoft Graph). Mailers never render, never
decide who may receive an email (the privacy gate did) and never write the ledger themselves:
they report the draft id through ``on_drafted`` and return an :class:`Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from digest.email.message import Envelope, RenderedEmail


@dataclass(frozen=True)
class Attempt:
    """What the ledger knows about earlier tries of this digest."""

    sender: str  # the mailbox this recipient is sent from (kept across retries)
    draft_id: str = ""  # a draft recorded by an earlier try
    retry: bool = False  # an earlier try may have reached the service: look before creating anything


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended: sent, or failed with a reason (and the service's error code)."""

    state: str  # "sent" or "failed"
    reason: str = ""
    error_code: str = ""
    draft_id: str = ""
    message_id: str = ""
    mailbox_unusable: bool = False  # the sender mailbox itself is refused (unknown, no access): stop using it


class Mailer(Protocol):
    """Delivers rendered emails; `via` names the mechanism in the ledger."""

    via: str

    def deliver(self, email: Envelope | RenderedEmail, raw: bytes, attempt: Attempt, on_drafted: Callable[[str], None]) -> Outcome:
        """Deliver `raw` (the exact bytes of the audited .eml; `email`: its recipient and week) once, and report the outcome."""
        ...  # pragma: no cover - a Protocol


class OutboxMailer:
    """Delivers by writing the audited .eml, byte for byte, as <outbox_folder>/<week>/<recipient>.eml (rewriting it is harmless)."""

    via = "outbox"

    def __init__(self, folder: str | Path, sender: str):
        self.folder = Path(folder)
        self.sender = sender

    def deliver(self, email: Envelope | RenderedEmail, raw: bytes, attempt: Attempt, on_drafted: Callable[[str], None]) -> Outcome:
        """Write `raw` as the recipient's .eml; the file path is the message id."""
        from digest.delivery.outbox import file_stem
        from digest.runfolder import write_bytes_atomic

        path = self.folder / email.week / f"{file_stem(email.recipient)}.eml"
        try:
            write_bytes_atomic(path, raw)
        except OSError as exc:
            return Outcome("failed", f"cannot write into {self.folder / email.week} ({exc.strerror or exc}); "
                                     "check delivery.outbox_folder and its permissions", "OSError")
        return Outcome("sent", message_id=str(path))
