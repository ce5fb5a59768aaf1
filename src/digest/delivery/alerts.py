"""Alerts to admins (admin.alert_addresses): a task failed for good, the gate blocked emails, a cohort is late.

An alert holds counts and a link to the run page only, never a seller's numbers or address. It
leaves through the same path as the digests (delivery.via: the outbox or Graph, from the first
sender mailbox), as a plain-text message with one To per admin; the same alert twice (same week,
kind and text) has the same Message-ID, so Graph's lookup sends it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from email.message import EmailMessage
from email.utils import format_datetime

from digest.config import Settings

KINDS = ("task_failed", "gate_blocked", "cohort_late")


def alert_message(settings: Settings, week: str, kind: str, summary: str, lines: list[str], to: str,
                  now: dt.datetime) -> tuple[EmailMessage, str]:
    """The alert as a MIME message to `to`, and its stable key."""
    assert kind in KINDS, kind
    key = hashlib.sha256(f"{week}/{kind}/{summary}/{to.lower()}".encode()).hexdigest()[:32]
    link = f"{settings.admin.public_url.rstrip('/')}/seller-digest/runs/{week}"
    msg = EmailMessage()
    msg["Subject"] = f"[{settings.render.product_name}] {week}: {summary}"
    msg["From"] = settings.render.sender_address
    msg["To"] = to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<alert-{key}@seller-digest>"
    msg["X-Seller-Digest-Week"] = week
    msg.set_content("\n".join([summary, "", *lines, "", f"Run page: {link}", "",
                               "This alert holds counts only; the run page and runs/<week>/outcomes.jsonl say more."]) + "\n")
    msg.add_alternative(_html(str(msg["Subject"]), summary, lines, link), subtype="html")
    return msg, key


def _html(subject: str, summary: str, lines: list[str], link: str) -> str:
    import jinja2

    from digest.config import PROJECT_ROOT

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"), autoescape=True)
    return env.get_template("alert.html.j2").render(subject=subject, summary=summary, lines=lines, link=link)


def send_alert(settings: Settings, week: str, kind: str, summary: str, lines: list[str], now: dt.datetime) -> int:
    """Send one alert to every admin address through the delivery path; returns how many went out (0 without admins).

    The outbox keeps alerts apart from the digests: <outbox_folder>/alerts/<week>/<kind>-<key>.eml.
    """
    from pathlib import Path

    from digest.runfolder import write_bytes_atomic

    admins = [a.strip() for a in settings.admin.alert_addresses if a.strip()]
    if not admins:
        return 0
    mailer = None
    sent = 0
    for to in admins:
        msg, key = alert_message(settings, week, kind, summary, lines, to, now)
        raw = msg.as_bytes()
        if settings.delivery.via == "outbox":
            write_bytes_atomic(Path(settings.delivery.outbox_folder) / "alerts" / week / f"{kind}-{key}.eml", raw)
            sent += 1
            continue
        from digest.delivery.mailer import Attempt
        from digest.delivery.send import make_mailer, senders_for

        pool = senders_for(settings, "graph", None)
        mailer = mailer or make_mailer(settings, "graph", pool[:1])
        # retry=True: look the Message-ID up first, so the same alert twice is sent once
        sent += mailer.deliver(_as_email(raw), raw, Attempt(pool[0], retry=True), lambda _draft: None).state == "sent"
    return sent


def _as_email(raw: bytes):
    """The alert as the mailers' value object (an alert has no HTML part: the text stands in for it)."""
    from email import policy
    from email.parser import BytesParser

    from digest.email.message import RenderedEmail

    msg = BytesParser(policy=policy.default).parsebytes(raw)
    text, html = msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
    return RenderedEmail(recipient=msg["To"].addresses[0].addr_spec, week=str(msg["X-Seller-Digest-Week"]),
                         subject=str(msg["Subject"]), html=html, text=text)
