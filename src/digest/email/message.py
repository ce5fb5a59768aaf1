"""The hand-off between rendering and delivery: one fully rendered email, as a value object.

Rendering is pure and produces :class:`RenderedEmail`; mailers (outbox, Graph) only deliver it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InlineImage:
    """A PNG referenced from the HTML as ``cid:<content_id>``."""

    content_id: str
    filename: str
    data: bytes
    mime_type: str = "image/png"
    alt: str = ""


@dataclass(frozen=True)
class Envelope:
    """Who a message file is for and its week: what delivery reads from the audited .eml (its headers only)."""

    recipient: str
    week: str


@dataclass(frozen=True)
class RenderedEmail:
    """One seller's digest, ready to send: exactly one recipient, the seller."""

    recipient: str  # the seller's PersonId address; never anyone else
    week: str  # ISO week, e.g. 2026-W47
    subject: str
    html: str
    text: str
    images: tuple[InlineImage, ...] = ()
    recipient_name: str = ""

    @property
    def idempotency_key(self) -> str:
        """Stable key of this digest: one per (week, recipient)."""
        return f"{self.week}/{self.recipient.lower()}"
