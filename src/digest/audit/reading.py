"""What a reader of one .eml sees: its recipients and every word they could read or click.

The audit reads each message with the standard library's MIME parser and lxml's HTML parser, never
with the renderer's code, so a renderer bug cannot hide from it. The message is parsed with the compat32
policy (headers stay raw strings) and only the headers a person sees are parsed by the modern policy
(RFC 2047 words decoded): parsing every header of every part made reading a message back ~12 ms,
most of the audit's time per email.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

from lxml import etree

_SPACE = re.compile(r"\s+")
_LINE_BREAK = re.compile(r"\n|\r")  # what the modern policy removes to unfold a header (email.policy.linesep_splitter)
ATTRIBUTES = frozenset({"alt", "title", "href", "aria-label", "summary"})  # attribute values a person sees or clicks
HIDDEN = frozenset({"style", "script"})  # elements whose text no one sees


@dataclass(frozen=True)
class EmailContent:
    """What a reader of one .eml sees: its recipients and its words (text, HTML text, alt text, links)."""

    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    html: str
    text: str
    visible: str  # everything a person could read or click, whitespace-normalised, for scanning


def normalised(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def read_email(path: Path, data: bytes | None = None) -> EmailContent:
    """Parse one .eml (the standard library's parser, lxml for its HTML); `data`: its bytes, already opened."""
    if data is None:
        data = Path(path).read_bytes()
    msg = BytesParser().parse(io.BytesIO(data))  # compat32: headers stay strings until read
    html, text, extra = [], [], [_decoded(msg.get("Subject", ""), "Subject")]
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype == "text/html":
            html.append(_text_of(part))
        elif ctype == "text/plain" and part.get_content_disposition() != "attachment":
            text.append(_text_of(part))
        if part.get("Content-Description"):
            extra.append(_decoded(part["Content-Description"], "Content-Description"))
        if part.get_filename():
            extra.append(part.get_filename())
    parts: list[str] = []
    for h in html:
        parts += html_words(h)
    addresses = {k: getaddresses([_decoded(v, k) for v in msg.get_all(k, [])]) for k in ("To", "Cc", "Bcc")}
    recipients = {k: tuple(a.lower() for _, a in pairs if a) for k, pairs in addresses.items()}
    names = [n for pairs in addresses.values() for n, _ in pairs if n]
    visible = normalised(" \n ".join([*parts, *text, *extra, *names]))
    return EmailContent(recipients["To"], recipients["Cc"], recipients["Bcc"], "".join(html), "".join(text), visible)


def html_words(markup: str) -> list[str]:
    """The text of an HTML document in reading order, with the attribute values a person sees or clicks."""
    if not markup.strip():
        return []
    root = etree.fromstring(markup.encode("utf-8"), etree.HTMLParser(encoding="utf-8"))
    if root is None:
        return []
    out: list[str] = []
    hidden = 0  # depth inside style/script
    for event, element in etree.iterwalk(root, events=("start", "end")):
        is_element = isinstance(element.tag, str)  # not a comment or a processing instruction
        if event == "start":
            if is_element:
                for name, value in element.attrib.items():
                    if value and (name in ATTRIBUTES or name.startswith("data-")):
                        out.append(value)
                hidden += element.tag in HIDDEN
                if element.text and not hidden:
                    out.append(element.text)
            continue
        hidden -= is_element and element.tag in HIDDEN
        if element.tail and not hidden:
            out.append(element.tail)
    return out


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name: read what can be read
        return payload.decode("utf-8", errors="replace")


def _decoded(value, name: str) -> str:
    """A header as a person sees it, parsed by the modern policy (RFC 2047 words decoded) one header at a time."""
    value = str(value)
    if "=?" not in value:  # no encoded word: unfolding is all the policy would do
        return "".join(_LINE_BREAK.split(value))
    return str(policy.default.header_fetch_parse(name, value))
