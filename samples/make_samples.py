"""Regenerate the sample sheets, byte for byte: `python samples/make_samples.py`.

leads.xlsx / leads.csv: 50 fictional leads for templates/example.toml and the sandbox
account in samples/account.toml, with a handful of deliberate problems (bad email,
unknown time zone, unknown option, duplicate email, a URL without scheme).
clean.xlsx: the same layout, every row valid (phones stored as numbers, zips formatted
`00000`). clean.csv: headers named like Kartra's fields, so it needs no template.
Every address is at example.com / .org / .net; names are invented.
"""

from __future__ import annotations

import csv
import random
import re
import unicodedata
import zipfile
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
FIXED_TIME = (2026, 1, 1, 0, 0, 0)

HEADERS = [
    "Email", "First Name", "Last Name", "Phone", "Country Code", "Company", "Address",
    "City", "State", "Zip Code", "Country", "Time zone", "Website", "LinkedIn", "Colours",
    "Plan", "Source", "Favorite Dish", "Notes", "Tags", "Lists",
]  # fmt: skip

FIRST = ["Ana", "Bram", "Chiara", "Dmitri", "Esme", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kaia", "Luca", "Mira", "Nils", "Oona", "Pavel", "Quinn", "Rosa", "Soren", "Tamsin",
         "Ugo", "Vera", "Wim", "Xenia", "Yusuf", "Zoë", "José", "Björn", "Aoife",
         "Émile"]  # fmt: skip
LAST = ["Alder", "Brightwater", "Cobalt", "Dunmore", "Elmsworth", "Fairbank", "Gillow",
        "Hartfield", "Ivygate", "Juniper", "Kestrel", "Larchmont", "Mossley", "Northcote",
        "Oakhurst", "Pennyworth", "Quillon", "Rookwood", "Saltmarsh", "Thornbury"]  # fmt: skip
PLACES = [  # city, state, zip, country, country code, time zone
    ("Boston", "MA", "02134", "US", "+1", "America/New_York"),
    ("Chicago", "IL", "60601", "US", "+1", "America/Chicago"),
    ("Portland", "OR", "97201", "US", "+1", "America/Los_Angeles"),
    ("London", "", "EC1A 1BB", "GB", "+44", "Europe/London"),
    ("Bucharest", "", "010011", "RO", "+40", "Europe/Bucharest"),
    ("Amsterdam", "", "1012 AB", "NL", "+31", "Europe/Amsterdam"),
    ("Tokyo", "", "100-0001", "JP", "+81", "Asia/Tokyo"),
    ("Sydney", "NSW", "2000", "AU", "+61", "Australia/Sydney"),
    ("São Paulo", "SP", "01001-000", "BR", "+55", "America/Sao_Paulo"),
    ("Nairobi", "", "00100", "KE", "+254", "Africa/Nairobi"),
]
DISHES = ["beef lasagna", "pad thai", "ramen", "paella", "falafel", "pierogi", "", ""]
TAGS = ["VIP", "Newsletter", "Webinar 2026", "Customer", "Churn risk"]
LISTS = ["Weekly digest", "Product updates", "Events"]
DOMAINS = ["example.com", "example.org", "example.net"]


def lead(rng: random.Random, n: int) -> dict[str, object]:
    first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
    city, state, zip_code, country, code, zone = PLACES[n % len(PLACES)]
    slug = _ascii(f"{first}.{last}")
    return {
        "Email": f"{slug}@{DOMAINS[n % 3]}",
        "First Name": first,
        "Last Name": last,
        "Phone": 14155550100 + n * 37 if code == "+1" else 700000000 + n * 911,
        "Country Code": code,
        "Company": rng.choice(
            ["Acme Widgets", "Globex Example", "Initech Labs", "", "Umbrella Co"]
        ),
        "Address": f"{rng.randint(1, 250)} Example Street",
        "City": city,
        "State": state,
        "Zip Code": zip_code,
        "Country": country,
        "Time zone": zone,
        "Website": f"https://{slug.replace('.', '-')}.example.net" if n % 4 == 0 else "",
        "LinkedIn": f"https://www.linkedin.com/in/{slug.replace('.', '-')}-example"
        if n % 5 == 0
        else "",
        "Colours": ";".join(rng.sample(["red", "blue", "green"], rng.randint(0, 2))),
        "Plan": rng.choice(["basic", "pro", "enterprise", "Pro", ""]),
        "Source": rng.choice(["web", "event", "referral"]),
        "Favorite Dish": rng.choice(DISHES),
        "Notes": "Met at the spring fair; wants a demo." if n % 6 == 0 else "",
        "Tags": ";".join(rng.sample(TAGS, rng.randint(0, 2))),
        "Lists": ";".join(rng.sample(LISTS, rng.randint(0, 2))),
    }


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z.]", "", plain.lower())


def leads(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = [lead(rng, n) for n in range(count)]
    # Two leads that already exist in the sandbox account (edited, not created).
    rows[1].update(
        {"Email": "maria.lopez@example.com", "First Name": "Maria", "Last Name": "Lopez"}
    )
    rows[2].update(
        {"Email": "kenji.tanaka@example.org", "First Name": "Kenji", "Last Name": "Tanaka"}
    )
    rows[3].update({"Favorite Dish": "#clear"})  # clears the value in Kartra
    return rows


def with_problems(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The deliberate problems, one kind per row, at fixed rows."""
    rows[7]["Email"] = "hugo.hartfield@example"  # bad email: no top-level domain
    rows[12]["Time zone"] = "Europe/Paris"  # not one of Kartra's 76
    rows[18]["Plan"] = "premium"  # unknown drop_down option
    rows[23]["Colours"] = "red;purple"  # unknown checkbox option
    rows[30]["Website"] = "www.example.net"  # no https://
    rows[41]["Email"] = "Maria.Lopez@example.com"  # duplicate of row 3
    return rows


def write_xlsx(path: Path, rows: list[dict[str, object]], headers: list[str]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(headers)
    for row in rows:
        sheet.append([_xlsx_value(h, row.get(h, "")) for h in headers])
    zip_column = headers.index("Zip Code") + 1
    for (cell,) in sheet.iter_rows(min_row=2, min_col=zip_column, max_col=zip_column):
        if isinstance(cell.value, int):
            cell.number_format = "00000"
    book.save(path)
    _make_reproducible(path)


def _xlsx_value(header: str, value: object) -> object:
    """Store what Excel users end up with: phones as floats, 5-digit zips as numbers."""
    if header == "Phone" and isinstance(value, int):
        return float(value)  # reads back as 14155550100, not 14155550100.0
    if header == "Zip Code" and isinstance(value, str) and re.fullmatch(r"\d{5}", value):
        return int(value)  # with format 00000: 02134 keeps its leading zero
    return value


def _make_reproducible(path: Path) -> None:
    """Fixed zip timestamps and document dates, so regenerating changes no byte."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", data)
            target.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, zipfile.ZIP_DEFLATED)


def write_csv(path: Path, rows: list[dict[str, object]], headers: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(headers)
        for row in rows:
            writer.writerow([row.get(h, "") for h in headers])


def clean_csv_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The same leads under headers spelled like Kartra's fields (no template needed)."""
    names = {"email": "Email", "first_name": "First Name", "last_name": "Last Name",
             "phone": "Phone", "phone_country_code": "Country Code", "city": "City",
             "zip": "Zip Code", "country": "Country", "lead_preferred_time_zone": "Time zone",
             "tags": "Tags", "lists": "Lists"}  # fmt: skip
    return [{k: row[v] for k, v in names.items()} for row in rows]


def main() -> None:
    write_xlsx(HERE / "leads.xlsx", with_problems(leads(50, seed=2026)), HEADERS)
    write_csv(HERE / "leads.csv", with_problems(leads(50, seed=2027)), HEADERS)
    clean = leads(12, seed=7)
    write_xlsx(HERE / "clean.xlsx", clean, HEADERS)
    clean_rows = clean_csv_rows(clean)
    write_csv(HERE / "clean.csv", clean_rows, list(clean_rows[0]))


if __name__ == "__main__":
    main()
