"""The email's languages: gettext catalogs (Babel) for the templates and the Python texts.

Catalogs live next to the templates in ``templates/locale/<lang>/LC_MESSAGES/messages.po`` with
their compiled ``messages.mo`` (``python scripts/messages.py`` extracts, updates and compiles;
``tests/test_i18n.py`` fails when they are stale). A locale whose language has no catalog gets
the English texts, with its own number and date formats.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from pathlib import Path

import jinja2
from babel import Locale

from digest.email.formatting import Formatter

DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a text for extraction where it is defined; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Language:
    """One email's language: its locale, its catalog, and a formatter for its figures."""

    locale: Locale
    translations: gettext.NullTranslations
    fmt: Formatter

    @property
    def tag(self) -> str:
        """The BCP 47 tag for the html lang attribute: 'de', 'en-GB'."""
        return "-".join(p for p in (self.locale.language, self.locale.territory) if p)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)


class Catalogs:
    """Loads each language's catalog once and keeps one Jinja2 environment per catalog."""

    def __init__(self, templates: Path, **env_options) -> None:
        self.templates = templates
        self.env_options = env_options
        self._translations: dict[str, gettext.NullTranslations] = {}
        self._envs: dict[int, jinja2.Environment] = {}

    def translations(self, locale: Locale) -> gettext.NullTranslations:
        """The catalog of the locale (de_CH falls back to de), or none (English texts)."""
        key = str(locale)
        if key not in self._translations:
            candidates = [key, locale.language]
            self._translations[key] = gettext.translation(DOMAIN, self.templates / "locale", languages=candidates,
                                                          fallback=True)
        return self._translations[key]

    def language(self, locale: Locale, currency: str) -> Language:
        """Everything one email needs to speak the seller's language."""
        t = self.translations(locale)
        return Language(locale, t, Formatter(locale, currency, t))

    def env(self, language: Language) -> jinja2.Environment:
        """A Jinja2 environment with the i18n extension bound to the language's catalog."""
        key = id(language.translations)
        if key not in self._envs:
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(self.templates), extensions=["jinja2.ext.i18n"],
                                     **self.env_options)
            env.install_gettext_translations(language.translations, newstyle=True)
            self._envs[key] = env
        return self._envs[key]


def english() -> Language:
    """English texts and US formats without catalogs (the default when no language is given)."""
    locale = Locale("en", "US")
    t = gettext.NullTranslations()
    return Language(locale, t, Formatter(locale, "USD", t))
