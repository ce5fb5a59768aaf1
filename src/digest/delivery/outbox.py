"""Rendered emails as files: RFC 5322 .eml (exact round trip), HTML previews and an index page.

Message layout: multipart/related [ multipart/alternative [text/plain, text/html], image/png ... ]
with each PNG carrying the Content-ID its ``cid:`` reference uses. The Graph sender reads these
files back with :func:`read_eml`, so everything a :class:`RenderedEmail` holds is in the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote
from typing import Callable, Iterable, Mapping, Sequence

import jinja2

from digest.config import PROJECT_ROOT
from digest.errors import InputError
from digest.email.message import Envelope, InlineImage, RenderedEmail
from digest.runfolder import write_bytes_atomic
from digest.sealed import write_message
from digest.weeks import IsoWeek

WEEK_HEADER = "X-Seller-Digest-Week"
MAX_STEM = 180  # file names stay well under the 255 bytes of common file systems, with ".eml" or "_files"
# refold_source="none": a header set raw (List-Unsubscribe) is written as given; a long URL folded by
# the policy would become RFC 2047 encoded-words, which no mail client reads as a link.
_POLICY = policy.SMTP.clone(max_line_length=78, refold_source="none")
RAW_HEADERS = ("List-Unsubscribe",)  # headers whose value is one or more <URI>: folded only between them


def file_stem(recipient: str) -> str:
    """The file name of a recipient's email, without suffix: the lower-case address, percent-encoded.

    Only letters, digits and ``@ . _ - +`` stay as they are; every other byte (``'``, ``&``, ``=``,
    ``|``, ``!``, ``%``, ``/`` ...) becomes ``%XX``, so two addresses never share a name and no name
    climbs out of its folder. Very long addresses are named by their hash. Nothing reads the
    recipient back from a file name: the batch manifest and the message's To say who it is for.
    """
    address = recipient.strip().lower()
    if "@" not in address:
        raise InputError(f"recipient {recipient!r} cannot name a file: it must be an email address like ana@contoso.com.")
    stem = quote(address, safe="@._-+")
    if stem.startswith("."):
        stem = "%2E" + stem[1:]
    if len(stem) > MAX_STEM:
        stem = "h-" + hashlib.sha256(address.encode("utf-8")).hexdigest()[:40]
    return stem


def build_message(email: RenderedEmail, sender: str, headers: Mapping[str, str] | None = None) -> EmailMessage:
    """The MIME message of a rendered email (To: the seller only; Date: the Monday after the week).

    `headers`: extra top-level headers, e.g. the RFC 8058 List-Unsubscribe pair (part of the audited bytes).
    """
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = email.subject
    msg["From"] = sender
    msg["To"] = Address(display_name=email.recipient_name, addr_spec=email.recipient)
    # Rendering is pure, so the Date is derived from the week, not from a clock; delivery stamps the real time.
    monday = IsoWeek.parse(email.week).shift(1).monday
    msg["Date"] = format_datetime(dt.datetime.combine(monday, dt.time(0), tzinfo=dt.timezone.utc))
    key = hashlib.sha256(email.idempotency_key.encode()).hexdigest()[:32]
    msg["Message-ID"] = f"<{key}@seller-digest>"
    msg[WEEK_HEADER] = email.week
    for name, value in (headers or {}).items():
        if name in RAW_HEADERS:  # "<a>, <b>" folded after each comma, never inside a URI
            msg.set_raw(name, value.replace(">, <", ">,\n <"))
        else:
            msg[name] = value
    msg["MIME-Version"] = "1.0"
    # Boundaries from the key, not random: the same email always gives the same bytes. "=_" never
    # occurs in quoted-printable or base64 bodies, so they cannot collide with the content.
    body = EmailMessage(policy=_POLICY)
    body.set_content(email.text, subtype="plain", cte="quoted-printable")
    body.make_alternative(boundary=f"=_alt_{key}")
    body.add_alternative(email.html, subtype="html", cte="quoted-printable")
    del body["MIME-Version"]
    msg.make_related(boundary=f"=_rel_{key}")  # the message itself is multipart/related: the alternative, then images
    msg.attach(body)
    for image in email.images:
        maintype, subtype = image.mime_type.split("/", 1)
        msg.add_related(image.data, maintype, subtype, cid=f"<{image.content_id}>", filename=image.filename,
                        disposition="inline")
        part = msg.get_payload()[-1]
        del part["MIME-Version"]  # only the top-level header counts (RFC 2045)
        if image.alt:
            part["Content-Description"] = " ".join(image.alt.split())
    return msg


@dataclass(frozen=True)
class BuiltEmail:
    """A rendered email as the bytes of its message, built where it was rendered (a render worker, so the
    process that writes the files does not spend ~10 ms per email on MIME). `email` is kept only for a preview."""

    recipient: str
    subject: str
    raw: bytes
    email: RenderedEmail | None = None


def built(email: RenderedEmail, sender: str, headers: Mapping[str, str] | None = None, keep_email: bool = False) -> BuiltEmail:
    """`email` with its message bytes (as :func:`write_eml` writes them)."""
    return BuiltEmail(email.recipient, email.subject, build_message(email, sender, headers).as_bytes(), email if keep_email else None)


def write_eml(email: RenderedEmail, folder: str | Path, sender: str = "seller-insights@example.com", *,
              headers: Mapping[str, str] | None = None, key: bytes | None = None) -> Path:
    """Write <folder>/<recipient>.eml atomically (sealed as .eml.sealed when a key is given); returns its path."""
    return write_built(built(email, sender, headers), folder, key)


def write_built(message: BuiltEmail, folder: str | Path, key: bytes | None = None) -> Path:
    """Write a built message as <folder>/<recipient>.eml atomically (sealed as .eml.sealed with `key`); returns its path."""
    return write_message(Path(folder) / f"{file_stem(message.recipient)}.eml", message.raw, key)


def read_eml(path: str | Path) -> RenderedEmail:
    """Read a file written by :func:`write_eml` back into the same RenderedEmail."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}. Render the batch again (digest render).") from None
    return parse_eml(data, path)


def parse_envelope(data: bytes, path: str | Path = "<message>") -> Envelope:
    """The recipient and week of a seller-digest .eml from its top-level headers alone (what delivery
    checks before it hands the bytes on unchanged). The header section ends at the first empty line
    (RFC 5322 §2.1); the body (~270 KB of MIME parts) is not parsed: that was most of ~6 ms per email."""
    end = min((i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i >= 0), default=len(data))
    msg = BytesHeaderParser().parsebytes(data[:end] + b"\r\n\r\n")
    to, week = _parsed(msg, "To"), msg.get(WEEK_HEADER)
    if to is None or len(to.addresses) != 1 or not week:
        raise InputError(f"{path} is not a seller-digest email (it needs exactly one To address and a {WEEK_HEADER} header). "
                         f"Render it again with digest render.")
    return Envelope(to.addresses[0].addr_spec, str(week).strip())


def parse_eml(data: bytes, path: str | Path = "<message>") -> RenderedEmail:
    """Parse the bytes of a seller-digest .eml (as :func:`write_eml` wrote them) into a RenderedEmail.

    The MIME structure is read with the compat32 policy and only the headers used here are parsed by
    the modern one: parsing every header of every part made this ~8 ms, once per email delivered.
    """
    # Through a binary stream, as from a file: the parser reads line endings the same way either way.
    msg = BytesParser().parse(io.BytesIO(data))
    to = _parsed(msg, "To")
    week = msg.get(WEEK_HEADER)
    if to is None or len(to.addresses) != 1 or not week:
        raise InputError(f"{path} is not a seller-digest email (it needs exactly one To address and a {WEEK_HEADER} header). "
                         f"Render it again with digest render.")
    html = text = None
    images: list[InlineImage] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and text is None:
            text = _text(part)
        elif ctype == "text/html" and html is None:
            html = _text(part)
        elif part.get_content_maintype() == "image":
            cid = str(part.get("Content-ID", "")).strip().strip("<>")
            alt = _parsed(part, "Content-Description")
            images.append(InlineImage(content_id=cid, filename=part.get_filename() or "", data=part.get_payload(decode=True),
                                      mime_type=ctype, alt=str(alt) if alt is not None else ""))
    if html is None or text is None:
        raise InputError(f"{path} lacks its {'HTML' if html is None else 'text'} part. Render it again with digest render.")
    address = to.addresses[0]
    return RenderedEmail(recipient=address.addr_spec, week=str(week).strip(), subject=str(_parsed(msg, "Subject")),
                         html=html, text=text, images=tuple(images), recipient_name=address.display_name or "")


def _parsed(msg, name: str):
    """One header as the modern policy gives it (RFC 2047 words decoded, addresses parsed), or None."""
    raw = msg.get(name)
    return None if raw is None else policy.default.header_fetch_parse(name, str(raw))


def _text(part) -> str:
    """A text part's content, as the modern policy's get_content() decodes it."""
    return (part.get_payload(decode=True) or b"").decode(part.get_param("charset", "ASCII"), errors="replace")


def write_preview(email: RenderedEmail, folder: str | Path) -> Path:
    """Write <recipient>.html with its PNGs in <recipient>_files/ so a browser shows it as sent."""
    stem = file_stem(email.recipient)
    folder = Path(folder)
    assets = folder / f"{stem}_files"
    assets.mkdir(parents=True, exist_ok=True)
    html = email.html
    for image in email.images:
        name = quote(image.filename or image.content_id, safe="._-")
        (assets / name).write_bytes(image.data)
        # Only the reference changes: the same markup, pointing at the file instead of the MIME part.
        html = html.replace(f'"cid:{image.content_id}"', f'"{stem}_files/{name}"')
    path = folder / f"{stem}.html"
    write_bytes_atomic(path, html.encode("utf-8"))
    return path


@dataclass(frozen=True)
class IndexEntry:
    """One line of the admins' index page: a rendered email (with its preview) or a skipped seller."""

    recipient: str
    subject: str = ""
    preview: str = ""  # path of the preview relative to the index page
    eml: str = ""
    size_bytes: int = 0
    skipped_reason: str = ""


def write_index(entries: Sequence[IndexEntry], folder: str | Path, title: str, data_as_of: str,
                templates: Path = PROJECT_ROOT / "templates") -> Path:
    """Write <folder>/index.html: every rendered email with links to its preview and .eml, and the skipped."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True, undefined=jinja2.StrictUndefined)
    rendered = [e for e in entries if not e.skipped_reason]
    skipped = [e for e in entries if e.skipped_reason]
    html = env.get_template("outbox_index.html.j2").render(title=title, data_as_of=data_as_of, rendered=rendered,
                                                           skipped=skipped)
    path = Path(folder) / "index.html"
    write_bytes_atomic(path, html.encode("utf-8"))
    return path


@dataclass(frozen=True)
class OutboxSummary:
    """What :func:`write_outbox` wrote: counts, who was skipped and why, and the index page."""

    rendered: int
    skipped: tuple[tuple[str, str], ...]  # (recipient, reason)
    total_bytes: int
    index: Path | None  # None when no previews were written
    files: tuple[tuple[str, str], ...] = ()  # (recipient, .eml file name in the folder), in rendering order


def write_outbox(results: Iterable, folder: str | Path, *, sender: str, title: str, data_as_of: str,
                 progress: Callable[[int], None] | None = None, headers: Callable[[str], Mapping[str, str]] | None = None,
                 key: bytes | None = None, previews: bool = True) -> OutboxSummary:
    """Write every rendered email (.eml, and with `previews` an HTML preview and the index page listing the skipped too).

    `results` holds RenderedEmail objects, BuiltEmail objects (their messages built already, with the
    same `sender` and `headers`; with `previews`, with their email) and skip results (anything with
    `recipient` and `reason`). `headers(recipient)`: extra headers of each message; `key`: seal every .eml with it (sealed.py).
    """
    folder = Path(folder)
    entries: list[IndexEntry] = []
    total = 0
    for done, result in enumerate(results, start=1):
        if isinstance(result, RenderedEmail):
            result = built(result, sender, headers(result.recipient) if headers else None, keep_email=previews)
        if isinstance(result, BuiltEmail):
            eml = write_built(result, folder, key)
            if previews and result.email is None:
                raise ValueError(f"the message of {result.recipient} was built without its email: no preview can be written")
            preview = write_preview(result.email, folder).name if previews else ""
            size = eml.stat().st_size
            total += size
            entries.append(IndexEntry(result.recipient, result.subject, preview, eml.name, size))
        else:
            entries.append(IndexEntry(result.recipient, skipped_reason=result.reason))
        if progress:
            progress(done)
    folder.mkdir(parents=True, exist_ok=True)
    index = write_index(entries, folder, title, data_as_of) if previews else None
    skipped = tuple((e.recipient, e.skipped_reason) for e in entries if e.skipped_reason)
    files = tuple((e.recipient.lower(), e.eml) for e in entries if not e.skipped_reason)
    return OutboxSummary(len(entries) - len(skipped), skipped, total, index, files)
