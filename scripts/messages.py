"""Extract, update and compile the email's message catalogs (Babel).

    python scripts/messages.py            # rewrite templates/locale/messages.pot, update each
                                          # language's messages.po and compile its messages.mo
    python scripts/messages.py --check    # exit 1 if any of them is stale (tests/test_i18n.py does this)

Messages come from the email templates (Jinja2's i18n extension: ``_()``, ``ngettext()``) and the
Python texts of ``src/digest/email`` (``_()``, ``gettext()``, ``ngettext()``, ``N_()``). English is
the source language: its catalog is filled with the English texts themselves. Every other
language's catalog must translate every message (no empty or fuzzy entry) for the check to pass.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "templates" / "locale"
LANGUAGES = ("en", "de")
STAMP = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)  # fixed: the files change only when messages do
JINJA = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
METHODS = [("src/digest/email/**.py", "python"), ("templates/_*.html.j2", "jinja2"),
           ("templates/email.*.j2", "jinja2"), ("templates/subject.txt.j2", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extract() -> Catalog:
    """Every message of the email, sorted, without line numbers (moving code does not make it stale)."""
    template = Catalog(project="seller-digest", version="1", creation_date=STAMP, revision_date=STAMP,
                       msgid_bugs_address="https://github.com/seller-digest/seller-digest/issues", fuzzy=False)
    found = extract_from_dir(ROOT, METHODS, options_map={"templates/**.j2": JINJA}, keywords=KEYWORDS,
                             comment_tags=("NOTE:",), strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, None)], auto_comments=comments, context=context)
    return template


def _po_text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, sort_output=True, include_lineno=False)
    return out.getvalue()


def _mo_bytes(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _updated(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=language)
    else:
        catalog = Catalog(locale=language, project="seller-digest", version="1")
    catalog.creation_date = catalog.revision_date = STAMP
    catalog.fuzzy = False
    # A fresh template each time: update() adopts the template's message objects.
    catalog.update(extract(), no_fuzzy_matching=True, update_header_comment=True)
    catalog.obsolete.clear()
    if language == "en":  # the source language: every text is its own translation
        for m in catalog:
            if m.id:
                m.string = m.id
                m.flags.discard("fuzzy")
    return catalog


def problems(language: str, catalog: Catalog) -> list[str]:
    """Messages a catalog leaves untranslated or fuzzy, and python-format mismatches."""
    out = []
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if not all(strings) or m.fuzzy:
            out.append(f"{language}: {'fuzzy' if m.fuzzy else 'untranslated'}: {m.id!r}")
        for err in m.check(catalog):
            out.append(f"{language}: {m.id!r}: {err}")
    return out


def build() -> dict[Path, bytes]:
    """The content every catalog file should have, by path."""
    template = extract()
    files = {LOCALE_DIR / "messages.pot": _po_text(template)}
    for language in LANGUAGES:
        catalog = _updated(language)
        folder = LOCALE_DIR / language / "LC_MESSAGES"
        files[folder / "messages.po"] = _po_text(catalog)
        files[folder / "messages.mo"] = _mo_bytes(catalog)
    return files


def main(argv: list[str]) -> int:
    files = build()
    stale = [p for p, data in files.items() if not p.exists() or p.read_bytes() != data]
    if "--check" in argv:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)} (run python scripts/messages.py)")
        return 1 if stale else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(files[p])
        print(f"wrote {p.relative_to(ROOT)}")
    for language in LANGUAGES:
        with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
            for line in problems(language, read_po(f, locale=language)):
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
