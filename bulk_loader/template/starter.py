"""`template init`: a first-draft template guessed from a sheet's headers.

Headers are placed by name: known synonyms first ("E-mail Address" -> email), then a
close spelling of a Kartra field name. What cannot be placed is left commented out as a
custom field to adapt. The output is valid TOML as printed; every header is written as an
escaped TOML string, so no header text (quotes, newlines, "=cmd|...") can break out.
Given some of the sheet's rows, the tags and lists columns get the separator their cells
use (`"Webinar 2026", "Customer"` from Mailchimp: a comma).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from bulk_loader.template.fields import ACTIONS, CUSTOM_FIELD_TYPES, KARTRA_FIELDS

__all__ = ["guess_field", "guess_separator", "starter_template", "toml_string"]

# Normalised header (lower case, letters and digits only) -> Kartra field or action.
SYNONYMS: dict[str, str] = {
    **{name.replace("_", ""): name for name in KARTRA_FIELDS},
    "mail": "email", "emailaddress": "email", "emailadress": "email", "email1": "email",
    "leadid": "id", "kartraid": "id", "contactid": "id",
    "newemailaddress": "new_email", "changeemailto": "new_email",
    "phonenumber": "phone", "mobile": "phone", "mobilephone": "phone", "cell": "phone",
    "cellphone": "phone", "telephone": "phone", "tel": "phone", "phoneno": "phone",
    "countrycode": "phone_country_code", "dialcode": "phone_country_code",
    "callingcode": "phone_country_code", "phonecode": "phone_country_code",
    "firstname": "first_name", "givenname": "first_name", "forename": "first_name",
    "first": "first_name", "fname": "first_name",
    "middle": "middle_name", "middleinitial": "middle_name",
    "lastname": "last_name", "surname": "last_name", "familyname": "last_name",
    "last": "last_name", "lname": "last_name", "secondlastname": "last_name2",
    "ipaddress": "ip", "streetaddress": "address", "street": "address", "address1": "address",
    "zipcode": "zip", "postcode": "zip", "postalcode": "zip", "postal": "zip",
    "town": "city", "province": "state", "region": "state", "county": "state",
    "countryname": "country", "company": "company", "companyname": "company",
    "organisation": "company", "organization": "company", "employer": "company",
    "photo": "lead_picture", "picture": "lead_picture", "avatar": "lead_picture",
    "image": "lead_picture", "photourl": "lead_picture", "url": "website", "web": "website",
    "homepage": "website", "site": "website", "websiteurl": "website",
    "timezone": "lead_preferred_time_zone", "tz": "lead_preferred_time_zone",
    "preferredtimezone": "lead_preferred_time_zone", "vatid": "sales_tax_id",
    "vatnumber": "sales_tax_id", "taxid": "sales_tax_id", "salestaxid": "sales_tax_id",
    "linkedinurl": "linkedin", "facebookurl": "facebook", "twitterhandle": "twitter",
    "x": "twitter", "tags": "tags", "tag": "tags", "lists": "lists", "list": "lists",
    "mailinglists": "lists", "mailinglist": "lists",
}  # fmt: skip


def _normalise(header: str) -> str:
    return re.sub(r"[^0-9a-z]", "", header.casefold())


def guess_field(header: str) -> str | None:
    """The Kartra field (or "tags"/"lists") a header most likely means, if any."""
    key = _normalise(header)
    if not key:
        return None
    if key in SYNONYMS:
        return SYNONYMS[key]
    close = difflib.get_close_matches(key, list(SYNONYMS), n=1, cutoff=0.85)
    return SYNONYMS[close[0]] if close else None


# The separators a template's tags and lists may use; the first is Kartra's own.
SEPARATORS = (";", ",", "|")


def guess_separator(cells: Iterable[str]) -> str | None:
    """The separator a tags or lists column uses: of `;`, `,` and `|`, the one found
    outside double quotes in the most cells (`;` on a tie); None if no cell holds one."""
    counts = dict.fromkeys(SEPARATORS, 0)
    for cell in cells:
        for separator in _outside_quotes(cell).intersection(SEPARATORS):
            counts[separator] += 1
    best = max(SEPARATORS, key=lambda separator: counts[separator])
    return best if counts[best] else None


def _outside_quotes(cell: str) -> set[str]:
    """The characters of `cell` that stand outside double quotes."""
    found: set[str] = set()
    inside = False
    for char in cell:
        if char == '"':
            inside = not inside
        elif not inside:
            found.add(char)
    return found


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string holding `text` exactly; control characters escaped."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _comment_text(text: str) -> str:
    """`text` safe inside a TOML comment: a file name may hold a newline, which would end it."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04X}" for c in text)


def _identifier(header: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", header.casefold()).strip("_")
    return slug or "field"


def starter_template(
    headers: Sequence[str], source: str = "", rows: Sequence[Sequence[str]] = ()
) -> str:
    """TOML text for `template init`: placed headers mapped, the rest commented out.

    `rows`: some of the sheet's rows, if at hand; the tags and lists columns then get
    the separator their cells use.
    """
    fields: dict[str, str] = {}
    actions: dict[str, tuple[str, str]] = {}  # tags/lists -> (header, separator)
    unplaced: list[str] = []
    for index, header in enumerate(headers):
        if not header.strip():
            continue
        guess = guess_field(header)
        if guess in ACTIONS and guess not in actions:
            cells = (row[index] for row in rows if index < len(row))
            actions[guess] = (header, guess_separator(cells) or SEPARATORS[0])
        elif guess is not None and guess not in fields and guess not in ACTIONS:
            fields[guess] = header
        else:
            unplaced.append(header)
    lines = [
        f"# Starter template{' for ' + _comment_text(source) if source else ''}, "
        "by `bulk-loader template init`.",
        "# Check every line; see templates/example.toml for what each key means.",
        "",
        "[template]",
        'mode = "upsert"      # create | edit | upsert',
        'match = "email"      # email | id',
        '# clear = "#clear"   # a cell holding exactly this clears the value in Kartra',
        "",
        "[fields]             # Kartra lead field = sheet header",
    ]
    lines += [f"{name} = {toml_string(header)}" for name, header in fields.items()]
    if actions:
        lines += ["", "[actions]"]
        lines.append("# separator: one of ; , | (names in double quotes may hold it)")
        for name, (header, separator) in actions.items():
            column = toml_string(header)
            lines.append(f'{name} = {{ column = {column}, separator = "{separator}" }}')
    if unplaced:
        lines += ["", "# Columns not placed: map them as custom fields, or leave them out."]
        for header in unplaced:
            lines += [
                f"# [custom_fields.{_identifier(header)}]",
                f"# column = {toml_string(header)}",
                f'# type = "input_field"   # {" | ".join(CUSTOM_FIELD_TYPES)}',
            ]
    return "\n".join(lines) + "\n"
