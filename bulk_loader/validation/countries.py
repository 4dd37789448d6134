"""Country names and codes to the ISO 3166-1 alpha-2 code Kartra stores ("US", "DE").

The names come from pycountry (the ISO 3166-1 table and its translations), so a new
country or a renamed one arrives with a package update, not with an edit here. Read:

- codes: alpha-2 ("us"), alpha-3 ("DEU"), numeric ("840");
- English names: ISO's short name ("Viet Nam"), official name ("United States of
  America"), common name ("Vietnam"), "Korea, Republic of" turned round ("Republic of
  Korea"), a parenthesis dropped ("Falkland Islands");
- the names people use that ISO does not (ALIASES: "UK", "Holland", "Russia", ...);
- the names in the languages of LANGUAGES ("Deutschland", "Allemagne", "Alemania"), a
  name two countries share in different languages being left out;

in any case, without accents, dots or a leading "the", "St" read as "Saint" and "&" as
"and". Anything else is not a country: `country_code` says None and never guesses.
"""

from __future__ import annotations

import gettext
import unicodedata
from functools import cache, lru_cache

__all__ = ["ALIASES", "LANGUAGES", "country_code", "country_name"]

# Names in wide use that are neither ISO's names nor its codes.
ALIASES = {
    "UK": "GB", "Great Britain": "GB", "Britain": "GB", "England": "GB", "Scotland": "GB",
    "Wales": "GB", "Northern Ireland": "GB", "America": "US", "Russia": "RU",
    "Turkey": "TR", "Czech Republic": "CZ", "Macedonia": "MK", "Swaziland": "SZ",
    "Burma": "MM", "East Timor": "TL", "Vatican": "VA", "Vatican City": "VA",
    "Palestine": "PS", "Cape Verde": "CV", "Ivory Coast": "CI", "Holland": "NL",
    "Brunei": "BN", "Micronesia": "FM", "UAE": "AE", "DR Congo": "CD", "DRC": "CD",
    "Congo-Kinshasa": "CD", "Congo-Brazzaville": "CG", "Saint Helena": "SH", "Macau": "MO",
    "Bosnia": "BA", "Eire": "IE", "Republic of Ireland": "IE", "South Korea": "KR",
    "North Korea": "KP",
}  # fmt: skip
# Languages whose country names are read too: those of most of Kartra's users.
LANGUAGES = (
    "de", "fr", "es", "it", "pt", "pt_BR", "nl", "pl", "sv", "da", "nb_NO", "fi", "cs",
    "sk", "ro", "hu", "hr", "sl", "tr", "el", "ru", "uk", "ja", "zh_CN", "zh_TW", "ko",
)  # fmt: skip
_NAME_FIELDS = ("name", "official_name", "common_name")


def _key(text: str) -> str:
    """How names are compared: no accents, case, dots, leading "the"; St = Saint."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    bare = bare.casefold().replace("\u2019", "'").replace(".", "").replace("&", " and ")
    words = bare.split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join("saint" if word == "st" else word for word in words)


def _variants(name: str) -> list[str]:
    """A name and the forms people write it in: "Korea, Republic of" -> "Republic of
    Korea"; "Holy See (Vatican City State)" -> "Holy See"."""
    forms = [name]
    if "(" in name:
        forms.append(name.split("(")[0].strip())
    for form in list(forms):
        head, comma, tail = form.partition(", ")
        if comma and "," not in tail:
            forms.append(f"{tail} {head}")
    return forms


@cache
def _table() -> dict[str, str]:
    """Every name and code read, by its key (`_key`), to the alpha-2 code."""
    import pycountry

    table: dict[str, str] = {}
    countries = list(pycountry.countries)
    for country in countries:
        for field in ("alpha_2", "alpha_3", "numeric", *_NAME_FIELDS):
            value = getattr(country, field, None)
            for form in _variants(value) if isinstance(value, str) else []:
                table.setdefault(_key(form), country.alpha_2)
    for alias, code in ALIASES.items():
        table.setdefault(_key(alias), code)
    translated: dict[str, str | None] = {}  # None: two countries share this name
    for language in LANGUAGES:
        try:
            catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, [language])
        except OSError:  # a language the installed pycountry does not ship
            continue
        for country in countries:
            for field in _NAME_FIELDS:
                value = getattr(country, field, None)
                if not isinstance(value, str) or catalog.gettext(value) == value:
                    continue
                for form in _variants(catalog.gettext(value)):
                    key = _key(form)
                    if key and key not in table:
                        seen = translated.setdefault(key, country.alpha_2)
                        if seen != country.alpha_2:
                            translated[key] = None
    table.update({key: code for key, code in translated.items() if code is not None})
    table.pop("", None)
    return table


@lru_cache(maxsize=4096)
def country_code(value: str) -> str | None:
    """The ISO alpha-2 code of a country name or code, any case; None if not one."""
    if len(value) > 100:  # no country's name is that long: not worth normalising
        return None
    return _table().get(_key(value))


def country_name(code: str) -> str:
    """ISO's English short name for an alpha-2 code (the code itself if unknown)."""
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country is not None else code
