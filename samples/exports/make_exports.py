"""Regenerate the sample exports, byte for byte: `python samples/exports/make_exports.py`.

One small export per tool `template init` has a preset for, with the tool's headers (see
the sources in each templates/presets/<tool>.toml), for the sandbox account in
samples/exports/account.toml:

- mailchimp_subscribed.csv: 12 rows of a Mailchimp audience without an Address merge
  field (CC, REGION and ZIP Code fill country, state and zip); row 9's email is
  written `name at example.com`.
- hubspot_contacts.csv: 10 contacts; row 9 has no email (HubSpot keeps such contacts).
- activecampaign_contacts.csv: 8 contacts, every row valid; row 5's phone `555-0123`
  (no area code, no country) is sent as written with a warning.
- kit_subscribers.csv: 8 subscribers, every row valid (row 7 is `cancelled`: the
  template's note says so, and the row is sent all the same).
- keap_contacts.csv: 8 contacts; row 7 has no email; row 4's phone `555-0123 (Work)` is
  sent as written with a warning.

And the Mailchimp audience export of the report, mailchimp_audience_301.csv: 301 rows
with the quirks of a real one (quoted tags, time zones Kartra lacks or in lower case,
phones written every way, national numbers, the one-cell Address with the country as a
code or a name, empty addresses), of which 6 emails are written `name at example.com`
(rows 19, 60, 101, 142, 204, 265) and row 154 is an exact copy of row 44. A quarter of
the rows have no address; where their CC is not the US and the phone is national (rows
30 and 75 on purpose, a few more by chance), the template cannot read the number in the
row's CC (see tests/test_presets.py). mailchimp_audience_301.xlsx is the same sheet as
a spreadsheet app saves it: numbers, dates and `+14155550123` stored as numbers.

Every address is at example.com / .org / .net, phones are in fictional ranges where
the country has one, names are invented.
"""

from __future__ import annotations

import csv
import io
import random
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
FIXED_TIME = (2026, 1, 1, 0, 0, 0)

FIRST = ["Ana", "Bram", "Chiara", "Dmitri", "Esme", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kaia", "Luca", "Mira", "Nils", "Oona", "Pavel", "Quinn", "Rosa", "Soren", "Tamsin",
         "Ugo", "Vera", "Wim", "Xenia", "Yusuf", "Zoë", "José", "Björn", "Aoife", "Émile",
         "Priya", "Kwame", "Mei", "Lars", "Sofia", "Tariq", "Hana", "Olu"]  # fmt: skip
LAST = ["Alder", "Brightwater", "Cobalt", "Dunmore", "Elmsworth", "Fairbank", "Gillow",
        "Hartfield", "Ivygate", "Juniper", "Kestrel", "Larchmont", "Mossley", "Northcote",
        "Oakhurst", "Pennyworth", "Quillon", "Rookwood", "Saltmarsh", "Thornbury",
        "Underhill", "Vale", "Whitlock", "Yarrow"]  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net"]


def slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z.]", "", plain.lower())


# -- Mailchimp -------------------------------------------------------------------------

MAILCHIMP_TAIL = [
    "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
    "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
    "EUID", "NOTES", "TAGS",
]  # fmt: skip
AUDIENCE = ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday",
            *MAILCHIMP_TAIL]  # fmt: skip
SUBSCRIBED = ["Email Address", "First Name", "Last Name", "Phone Number", "Company", "Position",
              "ZIP Code", *MAILCHIMP_TAIL]  # fmt: skip

MAILCHIMP_TAGS = ["Webinar 2026", "Customer", "Newsletter", "VIP", "Trade show 2025", "Podcast"]


class Place:
    """A place a member lives: the Address parts, Mailchimp's geo-IP columns, phones."""

    def __init__(
        self,
        city: str,
        state: str,
        zip_code: str,
        countries: Sequence[str],
        cc: str,
        region: str,
        zone: str,
        offsets: tuple[int, int],
        geo: tuple[float, float],
        phones: Sequence[str],
    ) -> None:
        self.city, self.state, self.zip, self.countries = city, state, zip_code, countries
        self.cc, self.region, self.zone, self.offsets, self.geo = cc, region, zone, offsets, geo
        self.phones = phones  # patterns: N is the row's digit, NN two digits


US_PHONES = ["+1 (AAA) 555-01NN", "tel:+1AAA55501NN", "(AAA) 555-01NN", "AAA-555-01NN",
             "+1AAA55501NN"]  # fmt: skip
PLACES = [
    Place("Springfield", "MA", "01776", ["US", "United States"], "US", "MA",
          "America/New_York", (-5, -4), (42.1014830, -72.5898110), US_PHONES),
    Place("Boston", "MA", "02134", ["US", "USA"], "US", "MA", "america/new_york", (-5, -4),
          (42.3600830, -71.0588670), US_PHONES),
    Place("San Francisco", "CA", "94105", ["US"], "US", "CA", "America/Los_Angeles", (-8, -7),
          (37.7749300, -122.4194160), US_PHONES),
    Place("Denver", "CO", "80202", ["US", "United States"], "US", "CO", "America/Denver",
          (-7, -6), (39.7392360, -104.9902510), US_PHONES),
    Place("Chicago", "IL", "60601", ["US"], "US", "IL", "America/Chicago", (-6, -5),
          (41.8781140, -87.6297980), US_PHONES),
    Place("Toronto", "ON", "M5H 2N2", ["CA", "Canada"], "CA", "ON", "America/Toronto",
          (-5, -4), (43.6532260, -79.3831840), ["+1 (416) 555-01NN", "416-555-01NN"]),
    Place("London", "", "EC1A 1BB", ["GB", "United Kingdom"], "GB", "ENG", "Europe/London",
          (0, 1), (51.5073510, -0.1277580),
          ["+44 20 7946 0NNN", "020 7946 0NNN", "+442079460NNN"]),
    Place("Paris", "", "75002", ["FR", "France"], "FR", "IDF", "Europe/Paris", (1, 2),
          (48.8566140, 2.3522220), ["+33 1 99 00 1N NN", "01 99 00 1N NN"]),
    Place("Berlin", "", "10117", ["DE", "Germany"], "DE", "BE", "Europe/Berlin", (1, 2),
          (52.5200070, 13.4049540), ["+49 30 23125 NNN", "030 23125NNN"]),
    Place("Singapore", "", "018956", ["SG", "Singapore"], "SG", "01", "Asia/Singapore", (8, 8),
          (1.2800950, 103.8508350), ["+65 6123 45NN", "6123 45NN"]),
]  # fmt: skip
ZURICH = Place("Zürich", "ZH", "8001", ["CH", "Switzerland"], "ch", "ZH", "europe/zurich",
               (1, 2), (47.3768870, 8.5416940), ["079 555 12 NN"])  # fmt: skip
TOKYO = Place("Tokyo", "", "100-0001", ["JP", "Japan"], "jp", "13", "asia/tokyo", (9, 9),
              (35.6761920, 139.6503110), ["03-1234-56NN"])  # fmt: skip
SYDNEY = Place("Sydney", "NSW", "2000", ["AU", "Australia"], "au", "nsw", "Australia/Sydney",
               (10, 11), (-33.8688200, 151.2092960), ["(02) 5550 12NN"])  # fmt: skip
# Of 20 members, where each lives: more than half in the US, as in the report.
PLACE_WEIGHTS = [3, 2, 2, 2, 2, 2, 2, 2, 2, 1]
STREETS = ["Main St", "Oak Ave", "Harbour Rd", "Elm St", "Station Rd", "Mill Ln", "Park Pl"]
AREA_CODES = ["415", "303", "617", "312", "413"]
INVALID_EMAILS = (17, 58, 99, 140, 201, 262)  # members whose email is spelled out
DUPLICATE_OF, DUPLICATE_AT = 42, 152  # that member's row copied to this index
NO_ADDRESS_GB = (28, 73)  # no Address, CC GB, a national British number


def phone(place: Place, n: int) -> str:
    pattern = place.phones[n % len(place.phones)]
    pattern = pattern.replace("AAA", AREA_CODES[n % len(AREA_CODES)])
    digits = f"{n % 1000:03d}"
    return pattern.replace("NNN", digits).replace("NN", digits[-2:]).replace("N", digits[-1])


def euid(rng: random.Random) -> str:
    while True:  # never a text a spreadsheet app reads as a number (all digits, 12e345)
        text = "".join(rng.choice("0123456789abcdef") for _ in range(10))
        if not re.fullmatch(r"\d+(e\d+)?", text):
            return text


def tags_cell(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def member(rng: random.Random, n: int, headers: Sequence[str]) -> dict[str, str]:
    """One member of an audience: a row of a Mailchimp export."""
    first, last = FIRST[n % len(FIRST)], LAST[(n * 7 + n // len(FIRST)) % len(LAST)]
    place = rng.choices(PLACES, PLACE_WEIGHTS)[0]
    located = rng.random() < 0.9
    has_address = rng.random() < 0.75
    line2 = rng.choice(["", "", "", "Suite 4", "Apt 12"])
    street = f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
    country = rng.choice(place.countries)
    parts = [street, *([line2] if line2 else []), place.city, place.state, place.zip, country]
    optin = datetime(2019, 1, 1) + timedelta(seconds=rng.randint(0, 6 * 365 * 86400))
    ip = rng.choice(["", f"203.0.113.{n % 250 + 1}", f"198.51.100.{n % 250 + 1}"])
    tags = rng.sample(MAILCHIMP_TAGS, rng.choice([0, 1, 1, 2, 2, 3]))
    row = {
        "Email Address": f"{slug(first)}.{slug(last)}.{n}@{DOMAINS[n % 3]}",
        "First Name": first,
        "Last Name": last,
        "Address": "  ".join(parts) if has_address else "",
        "Phone Number": phone(place, n) if rng.random() < 0.85 else "",
        "Birthday": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}" if n % 4 == 0 else "",
        "Company": rng.choice(["", "", "Acme Roofing", "Globex Example", "Initech Labs"]),
        "Position": rng.choice(["", "Owner", "Marketing lead", "Buyer"]),
        "ZIP Code": place.zip,
        "MEMBER_RATING": str(rng.randint(1, 5)),
        "OPTIN_TIME": when(optin),
        "OPTIN_IP": ip,
        "CONFIRM_TIME": when(optin + timedelta(seconds=rng.randint(30, 900))),
        "CONFIRM_IP": ip,
        **dict.fromkeys(["LATITUDE", "LONGITUDE", "GMTOFF", "DSTOFF"], ""),
        **dict.fromkeys(["TIMEZONE", "CC", "REGION"], ""),
        "LAST_CHANGED": when(optin + timedelta(days=rng.randint(1, 600))),
        "LEID": str(30000000 + rng.randint(0, 19999999)),
        "EUID": euid(rng),
        "NOTES": "Met at the expo, wants pricing" if n % 23 == 0 else "",
        "TAGS": tags_cell(tags),
    }
    if located:
        locate(row, place)
    return {header: row[header] for header in headers}


def locate(row: dict[str, str], place: Place) -> None:
    """Mailchimp's columns of where the signup's IP address is: the place's."""
    row.update(
        {
            "LATITUDE": f"{place.geo[0]:.7f}",
            "LONGITUDE": f"{place.geo[1]:.7f}",
            "GMTOFF": str(place.offsets[0]),
            "DSTOFF": str(place.offsets[1]),
            "TIMEZONE": place.zone,
            "CC": place.cc,
            "REGION": place.region,
        }
    )


def audience_301() -> list[dict[str, str]]:
    """The report's export: 300 members, 6 emails spelled out, one row twice."""
    rng = random.Random(301)
    rows = [member(rng, n, AUDIENCE) for n in range(300)]
    springfield, boston, san_francisco, denver, _, toronto, london, paris, berlin, singapore = (
        PLACES
    )
    known = {  # rows the tests look at (row n + 2 of the sheet): one of each quirk
        0: (springfield, "+1 (415) 555-0100", "1 Main St  Springfield  MA  01776  US", None),
        1: (boston, "tel:+14155550105", "12 Oak Ave  Suite 4  Boston  MA  02134  United States",
            "Europe/Paris"),
        2: (london, "+44 20 7946 0005", "10 Station Rd  London    EC1A 1BB  United Kingdom",
            None),
        3: (berlin, "030 23125004", "4 Mill Ln  Berlin    10117  Germany", None),
        4: (toronto, "416-555-0104", "9 Harbour Rd  Toronto  ON  M5H 2N2  Canada", None),
        5: (denver, "(303) 555-0105", "", None),
        6: (singapore, "+65 6123 4506", "1 Park Pl  Singapore    018956  SG", None),
        7: (boston, "617-555-0107", "7 Elm St  Boston  MA  02134  US", None),
        8: (san_francisco, "+14155550108", "8 Main St  San Francisco  CA  94105  USA", None),
        9: (london, "+442079460009", "9 Mill Ln  London    EC1A 1BB  GB", None),
        10: (paris, "01 99 00 10 10", "10 Park Pl  Paris    75002  France", None),
    }  # fmt: skip
    for n, (place, number, address, zone) in known.items():
        locate(rows[n], place)
        rows[n].update({"Phone Number": number, "Address": address})
        if zone is not None:  # signed up in Boston, lives by Paris time
            rows[n]["TIMEZONE"] = zone
    rows[0]["TAGS"] = '"Webinar 2026", "Customer"'
    for n in NO_ADDRESS_GB:
        locate(rows[n], london)
        rows[n].update({"Address": "", "Phone Number": f"020 7946 0{n:03d}"})
    for n in INVALID_EMAILS:
        rows[n]["Email Address"] = rows[n]["Email Address"].replace("@", " at ")
    rows.insert(DUPLICATE_AT, dict(rows[DUPLICATE_OF]))
    return rows


def subscribed() -> list[dict[str, str]]:
    """A small audience without an Address merge field: CC, REGION, ZIP Code are used."""
    rng = random.Random(12)
    rows = [member(rng, n, SUBSCRIBED) for n in range(12)]
    london, paris = PLACES[6], PLACES[7]
    local = {  # a national number and where the geo-IP says the member is
        0: (PLACES[0], "+1 401 555 0142", "02806"),
        1: (ZURICH, "079 555 12 34", "8001"),
        2: (TOKYO, "03-1234-5678", "100-0001"),
        3: (SYDNEY, "(02) 5550 1234", "2000"),
        4: (london, "020 7946 0004", "EC1A 1BB"),
        5: (paris, "", "75002"),
    }
    for n, (place, number, zip_code) in local.items():
        locate(rows[n], place)
        rows[n].update({"Phone Number": number, "ZIP Code": zip_code})
    rows[0]["REGION"] = "RI"
    rows[7]["Email Address"] = rows[7]["Email Address"].replace("@", " at ")
    return rows


def mailchimp_text(rows: Sequence[dict[str, str]], headers: Sequence[str]) -> str:
    """CSV as Mailchimp writes it: a field holding a space, comma or quote is quoted."""

    def field(value: str) -> str:
        if value and any(char in value for char in ' ,"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [",".join(map(field, headers))]
    lines += [",".join(field(row[h]) for h in headers) for row in rows]
    return "\n".join(lines) + "\n"


# -- the spreadsheet app ---------------------------------------------------------------


def app_value(header: str, text: str) -> object:
    """What a spreadsheet app makes of a cell of a CSV it opens: numbers, dates."""
    if text == "":
        return None
    if re.fullmatch(r"[+-]?\d+", text) and len(text.lstrip("+-")) <= 15:
        return int(text)  # LEID, MEMBER_RATING, GMTOFF, REGION "01"; +14155550123 too
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text):
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    if header == "Birthday" and re.fullmatch(r"\d\d/\d\d", text):
        month, day = map(int, text.split("/"))
        return datetime(2026, month, day)  # MM/DD: a date of the year it was opened
    return text


def write_xlsx(path: Path, title: str, rows: Sequence[dict[str, str]], headers: list[str]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]  # the app names the worksheet after the CSV file
    sheet.append(headers)
    for row in rows:
        sheet.append([app_value(h, row[h]) for h in headers])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, datetime):
                birthday = headers[cell.column - 1] == "Birthday"
                cell.number_format = "d-mmm" if birthday else "m/d/yyyy h:mm"
    book.save(path)
    make_reproducible(path)


def make_reproducible(path: Path) -> None:
    """Fixed zip timestamps and document dates, so regenerating changes no byte."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", data)
            target.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, zipfile.ZIP_DEFLATED)


# -- the other tools -------------------------------------------------------------------


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[str]], quote_header: bool) -> str:
    out = io.StringIO()
    style = csv.QUOTE_ALL if quote_header else csv.QUOTE_MINIMAL
    csv.writer(out, quoting=style, lineterminator="\r\n").writerow(headers)
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


HUBSPOT = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner",
    "Primary Associated Company ID", "Last Activity Date", "Lead Status",
    "Marketing contact status", "Create Date", "Associated Company", "Company Name",
    "Street Address", "City", "State/Region", "Postal Code", "Country/Region", "Website URL",
    "Twitter Username", "Time Zone", "Lifecycle Stage", "Unsubscribed from all email",
]  # fmt: skip
HUBSPOT_ROWS = [
    ["101", "Camille", "Durand", "camille.durand@example.com", "+33 6 12 34 56 78",
     "Inès Moreau", "20011", "2026-06-30 14:02", "NEW", "Marketing contact",
     "2026-03-12 09:14", "Durand Boulangerie", "Durand Boulangerie", "12 rue des Lilas",
     "Lyon", "Auvergne-Rhône-Alpes", "69003", "France", "https://durand.example.com",
     "@camilledurand", "Europe/Paris", "lead", "No"],
    ["102", "John", "Smith", "JOHN.SMITH@EXAMPLE.COM", "(415) 555-0101", "", "", "",
     "OPEN_DEAL", "Non-marketing contact", "2026-03-15 14:30", "", "", "", "San Francisco",
     "CA", "94105", "United States", "", "", "America/Los_Angeles", "customer", "No"],
    ["103", "", "", "noname@example.com", "", "", "", "", "", "", "2026-01-01 00:00", "", "",
     "", "", "", "", "", "", "", "", "subscriber", "Yes"],
    ["104", "Aroha", "Ngata-Smith", "aroha@example.com", "021 555 0199", "Paul Chen", "20013",
     "2026-07-01 08:45", "IN_PROGRESS", "Marketing contact", "2025-11-20 16:05",
     "Kiwi Boards, Ltd", "Kiwi Boards, Ltd", "1 Queen St", "Auckland", "", "1010",
     "New Zealand", "kiwiboards.example.com", "", "Pacific/Auckland", "opportunity", "No"],
    ["105", "Lars", "Øster", "lars.oster@example.com", "+47 22 55 55 55", "Inès Moreau", "",
     "", "", "", "2024-08-09 10:10", "", "", "", "Oslo", "", "0150", "Norway", "", "",
     "Europe/Oslo", "evangelist", "No"],
    ["106", "Priya", "Raman", "priya.raman@example.org", "+91 98765 43210", "Paul Chen",
     "20015", "2026-05-02 11:20", "CONNECTED", "Marketing contact", "2025-02-14 08:00",
     "Initech Labs", "Initech Labs", "22 MG Road", "Bengaluru", "Karnataka", "560001",
     "India", "https://initech.example.org", "", "Asia/Kolkata", "lead", "No"],
    ["107", "Tom", "Becker", "tom.becker@example.net", "030 23125107", "", "", "",
     "ATTEMPTED_TO_CONTACT", "Marketing contact", "2025-09-30 17:45", "", "", "Unter den Linden 7",
     "Berlin", "Berlin", "10117", "Germany", "", "", "Europe/Berlin", "lead", "No"],
    ["108", "Walk-in", "Visitor", "", "(617) 555-0108", "Paul Chen", "", "", "NEW",
     "Non-marketing contact", "2026-10-10 10:10", "", "", "", "Boston", "MA", "02134",
     "United States", "", "", "America/New_York", "lead", "No"],
    ["109", "Sofia", "Marino", "sofia.marino@example.com", "+39 06 1234 5678", "", "", "",
     "", "Marketing contact", "2023-04-01 09:00", "", "", "Via Roma 1", "Roma", "RM", "00184",
     "Italy", "", "", "Europe/Rome", "customer", "No"],
    ["110", "Kwame", "Mensah", "kwame.mensah@example.org", "(312) 555-0110", "Inès Moreau",
     "", "", "UNQUALIFIED", "Marketing contact", "2022-12-12 12:12", "", "", "", "Chicago",
     "IL", "60601", "USA", "", "", "America/Chicago", "other", "No"],
]  # fmt: skip

ACTIVECAMPAIGN = ["Email", "First Name", "Last Name", "Phone", "Account", "Tags",
                  "Date Created", "Date Updated", "IP Address", "City", "Country",
                  "Interests", "Website"]  # fmt: skip
ACTIVECAMPAIGN_ROWS = [
    ["ana@example.com", "Ana", "Lopez", "+14015550142", "Acme Roofing", "VIP,Webinar 2024",
     "2024-03-14 09:12:31", "2026-01-05 10:00:00", "203.0.113.7", "Barrington",
     "United States", "Roofing||Gutters", "https://acme.example.com"],
    ["jonas@example.com", "Jonas", "Keller", "+41795551234", "", "", "2023-01-02 08:00:00",
     "2023-01-02 08:00:00", "", "Zürich", "Switzerland", "", ""],
    ["mei@example.com", "Mei", "Tanaka", "", "", "Customers", "2022-11-30 17:45:10",
     "2025-06-01 12:00:00", "192.0.2.55", "Tokyo", "Japan", "Solar", ""],
    ["sam@example.com", "Sam", "Ortiz", "555-0123", "Ortiz & Sons, LLC",
     "Newsletter,Trade show 2023", "2021-05-06 07:08:09", "2024-02-02 10:10:10", "", "", "",
     "Roofing", ""],
    ["li@example.com", "伟", "李", "", "", "", "2020-01-05 00:00:01", "2020-01-05 00:00:01", "",
     "", "", "", ""],
    ["rosa@example.org", "Rosa", "Fairbank", "(413) 555-0166", "Fairbank Farms", "VIP",
     "2025-07-07 07:07:07", "2026-02-02 02:02:02", "198.51.100.24", "Springfield", "USA", "",
     "fairbank.example.org"],
    ["oona@example.net", "Oona", "Mossley", "+44 20 7946 0321", "", "Customers,VIP",
     "2024-10-10 10:10:10", "2024-10-11 09:00:00", "", "London", "United Kingdom", "", ""],
    ["pavel@example.com", "Pavel", "Kestrel", "0151 23456789", "", "", "2025-12-24 23:59:59",
     "2025-12-24 23:59:59", "203.0.113.99", "Hamburg", "Germany", "", ""],
]  # fmt: skip

KIT = ["first_name", "email_address", "state", "created_at", "last_name", "phone", "company",
       "tags"]  # fmt: skip
KIT_ROWS = [
    ["Maja", "maja@example.com", "active", "2025-03-03T12:00:00Z", "Lind", "+46701234567", "",
     "creators, weekly letter"],
    ["Nils Berg", "nils@example.com", "active", "2025-04-04T08:30:15Z", "", "", "", ""],
    ["Ana", "ana@example.org", "active", "2023-07-01T00:00:00Z", "Lopez", "+1 401 555 0142",
     "Acme Roofing", "buyers"],
    ["Sam", "sam@example.net", "inactive", "2022-02-02T10:10:10Z", "Ortiz", "", "",
     "weekly letter"],
    ["Mei", "mei@example.com", "active", "2021-12-24T23:59:59Z", "Tanaka", "", "",
     "webinar 2021,members,early birds"],
    ["Hugo", "hugo@example.org", "cancelled", "2020-06-15T09:00:00Z", "Hartfield", "", "", ""],
    ["Esme", "esme@example.net", "active", "2026-01-02T03:04:05Z", "Elmsworth",
     "+44 7700 900123", "Esme Makes", "creators"],
    ["Farid", "farid@example.com", "cold", "2019-09-09T09:09:09Z", "", "", "", "weekly letter"],
]  # fmt: skip

KEAP = ["Id", "First Name", "Middle Name", "Last Name", "Email", "Phone 1", "Phone 1 Type",
        "Street Address 1", "Street Address 2", "City", "State", "Postal Code", "Country",
        "Company", "Website", "Tags", "Date Created", "Lead Source"]  # fmt: skip
KEAP_ROWS = [
    ["1201", "Ana", "María", "Lopez", "ana@example.com", "'+1 401 555 0142   ", "Mobile",
     "1701 Bristol Ave.", "Unit 2", "Barrington", "RI", "02806", "United States",
     "Acme Roofing", "https://acme.example.com", "VIP,Webinar 2024", "03/14/2024 09:12 AM",
     "Website"],
    ["1202", "Wei", "", "Li", "wei@example.com", "'+6565948311   ", "Work", "", "", "", "", "",
     "Singapore", "", "", "Customers", "06/01/2023 08:00 AM", "Referral"],
    ["1203", "Sam", "", "Ortiz", "sam@example.com", "555-0123 (Work)", "Work", "12 Main St", "",
     "Springfield", "IL", "62701-1234", "United States", "Ortiz & Sons, LLC", "", "",
     "02/02/2022 10:10 AM", ""],
    ["1204", "Mei", "", "Tanaka", "mei@example.com", "", "", "", "", "", "", "", "Japan", "", "",
     "Newsletter,Trade show 2023", "12/24/2021 11:59 PM", "Trade show"],
    ["1205", "Jonas", "", "Keller", "jonas@example.com", "'+41 79 555 12 34   ", "Mobile",
     "Bahnhofstrasse 1", "", "Zürich", "ZH", "8001", "Switzerland", "", "", "",
     "01/05/2020 12:00 AM", ""],
    ["1206", "Greta", "", "Gillow", "", "(617) 555-0166", "Home", "5 Elm St", "", "Boston",
     "MA", "02134", "United States", "", "", "VIP", "07/07/2025 07:07 AM", "Phone call"],
    ["1207", "Luca", "", "Larchmont", "luca@example.org", "'+39 06 1234 5678   ", "Work",
     "Via Roma 1", "", "Roma", "RM", "00184", "Italy", "Larchmont SRL", "", "Customers",
     "09/09/2024 09:09 AM", "Website"],
    ["1208", "Oona", "", "Oakhurst", "oona@example.net", "020 7946 0555", "Mobile",
     "221B Baker St", "", "London", "", "NW1 6XE", "United Kingdom", "", "", "Newsletter",
     "11/11/2025 11:11 AM", "Referral"],
]  # fmt: skip


def write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def main() -> None:
    audience = audience_301()
    write(HERE / "mailchimp_audience_301.csv", mailchimp_text(audience, AUDIENCE))
    write_xlsx(HERE / "mailchimp_audience_301.xlsx", "mailchimp_audience_301", audience, AUDIENCE)
    write(HERE / "mailchimp_subscribed.csv", mailchimp_text(subscribed(), SUBSCRIBED))
    write(HERE / "hubspot_contacts.csv", csv_text(HUBSPOT, HUBSPOT_ROWS, quote_header=True))
    write(
        HERE / "activecampaign_contacts.csv",
        csv_text(ACTIVECAMPAIGN, ACTIVECAMPAIGN_ROWS, quote_header=True),
    )
    write(HERE / "kit_subscribers.csv", csv_text(KIT, KIT_ROWS, quote_header=False))
    write(HERE / "keap_contacts.csv", csv_text(KEAP, KEAP_ROWS, quote_header=False))


if __name__ == "__main__":
    main()
