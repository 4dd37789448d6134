"""Presets of `template init`: an export of Mailchimp, HubSpot, ActiveCampaign, Kit or
Keap is recognised by its headers and gets a template that imports it as it is.

Each sample export in samples/exports/ goes through what an ops team does: `template
init`, a dry run, a real run into the sandbox (samples/exports/account.toml), with no
edit of the sheet or the template. The Mailchimp export of the report (301 rows, as CSV
and as a spreadsheet app saves it in XLSX) is checked lead by lead.
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader import Credentials, KartraClient, Loader, RowStatus
from bulk_loader.cli.app import cli
from bulk_loader.sandbox import serve_in_thread
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.mapping import load_template
from bulk_loader.template.model import FieldTransform, SplitMap
from bulk_loader.template.presets import header_key, presets, recognise
from bulk_loader.template.starter import starter_template

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = ROOT / "samples" / "exports"
ACCOUNT = EXPORTS / "account.toml"
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


@dataclass(frozen=True)
class Sample:
    file: str
    preset: str  # the preset file's name
    name: str
    rows: int
    invalid: dict[str, int]  # problem code -> rows; every other row is created
    warnings: dict[str, int]


SAMPLES = [
    Sample("mailchimp_subscribed.csv", "mailchimp", "Mailchimp audience export", 12,
           {"invalid_email": 1}, {}),
    Sample("hubspot_contacts.csv", "hubspot", "HubSpot contacts export", 10,
           {"missing_email": 1}, {}),
    Sample("activecampaign_contacts.csv", "activecampaign", "ActiveCampaign contacts export",
           8, {}, {"phone_not_parsed": 1}),
    Sample("kit_subscribers.csv", "kit", "Kit (ConvertKit) subscribers export", 8, {}, {}),
    Sample("keap_contacts.csv", "keap", "Keap contacts export", 8, {"missing_email": 1},
           {"phone_not_parsed": 1}),
]  # fmt: skip
IDS = [sample.preset for sample in SAMPLES]


def headers_of(path: Path) -> list[str]:
    with open_sheet(path) as opened:
        return list(opened.headers)


def init(tmp_path: Path, sheet: Path) -> tuple[str, Path]:
    """`bulk-loader template init SHEET`, as printed, and the file it was saved to."""
    result = CliRunner().invoke(cli, ["template", "init", str(sheet)])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"{sheet.stem}.toml"
    path.write_text(result.stdout, encoding="utf-8")
    return result.stdout, path


def copy(tmp_path: Path, name: str) -> Path:
    """The sample beside the test's files: its results and journal go there."""
    return Path(shutil.copy(EXPORTS / name, tmp_path / name))


def results(path: Path) -> dict[int, dict[str, Any]]:
    """The results workbook's rows by sheet row number."""
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book["Results"].iter_rows(values_only=True))
    book.close()
    return {n: dict(zip(rows[0], row, strict=True)) for n, row in enumerate(rows[1:], start=2)}


# -- the preset files ---------------------------------------------------------------------


def test_every_preset_ships_in_the_package_and_has_a_sample() -> None:
    """templates/presets links to the package's folder, which pyproject ships; every
    preset there has its sample export (and so its test) here."""
    shown = ROOT / "templates" / "presets"
    packaged = ROOT / "bulk_loader" / "data" / "presets"
    assert shown.resolve() == packaged.resolve()
    names = sorted(path.stem for path in packaged.glob("*.toml"))
    assert names == sorted(p.key for p in presets()) == sorted(IDS)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/presets/*.toml" in data["tool"]["setuptools"]["package-data"]["bulk_loader"]


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_each_export_is_recognised_and_named(sample: Sample) -> None:
    preset = recognise(headers_of(EXPORTS / sample.file))
    assert preset is not None and preset.key == sample.preset
    assert preset.name == sample.name
    first = Loader(EXPORTS / sample.file).starter_template().splitlines()[0]
    assert first == f"# {sample.name}: preset templates/presets/{sample.preset}.toml"


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_no_other_preset_claims_an_export(sample: Sample) -> None:
    """Each sample holds the signature of its own preset only."""
    present = {header_key(h) for h in headers_of(EXPORTS / sample.file)}
    holding = [p.key for p in presets() if all(header_key(h) in present for h in p.signature)]
    assert holding == [sample.preset]


@pytest.mark.parametrize("name", ["leads.csv", "leads.xlsx", "clean.csv"])
def test_a_sheet_no_preset_knows_gets_the_generic_template(name: str) -> None:
    headers = headers_of(ROOT / "samples" / name)
    assert recognise(headers) is None
    text = starter_template(headers, name)
    assert text.startswith(f"# Starter template for {name}, by `bulk-loader template init`.")
    assert "preset" not in text


# -- template init, a dry run and a real run, with no edit ---------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_each_export_imports_as_it_is(tmp_path: Path, sample: Sample) -> None:
    sheet = copy(tmp_path, sample.file)
    _, template = init(tmp_path, sheet)
    load_template(template)
    loader = Loader(sheet, template=template)
    checked = loader.check()
    bad = sum(sample.invalid.values())
    assert (checked.report.rows_read, checked.report.rows_invalid) == (sample.rows, bad)
    found = Counter(p.code for p in checked.problems if not p.is_warning)
    assert found == Counter(sample.invalid)
    with (
        serve_in_thread(ACCOUNT, rate=None) as sandbox,
        KartraClient(GOOD, api_url=sandbox.url) as client,
    ):
        summary = loader.run(client, rate=None, memory=False, restart=True)
        stored = sandbox.state.dump()["leads"]
    assert dict(summary.statuses) == {
        RowStatus.CREATED: sample.rows - bad,
        **({RowStatus.INVALID: bad} if bad else {}),
    }
    assert dict(summary.errors) == sample.invalid
    assert dict(summary.warnings) == sample.warnings
    assert len(stored) == sample.rows - bad


def test_mailchimp_without_an_address_takes_country_and_state_from_cc_and_region(
    tmp_path: Path,
) -> None:
    """No Address column: CC (any case) is the country, REGION the state, and a national
    number is read in the row's CC."""
    text, path = init(tmp_path, EXPORTS / "mailchimp_subscribed.csv")
    template = load_template(path)
    assert template.splits == ()
    assert template.fields["country"] == "CC" and template.fields["state"] == "REGION"
    assert template.fields["zip"] == "ZIP Code"
    assert "# Left out: this sheet has no column 'Address'.\n# [split.address]" in text
    sheet = copy(tmp_path, "mailchimp_subscribed.csv")
    with (
        serve_in_thread(ACCOUNT, rate=None) as sandbox,
        KartraClient(GOOD, api_url=sandbox.url) as client,
    ):
        Loader(sheet, template=path).run(client, rate=None, memory=False)
        zurich = sandbox.state.find(email="bram.hartfield.1@example.org")
        tokyo = sandbox.state.find(email="chiara.oakhurst.2@example.net")
    assert zurich is not None and tokyo is not None
    assert {k: zurich.fields[k] for k in ("country", "state", "zip", "phone_country_code",
                                          "phone", "lead_preferred_time_zone")} == {
        "country": "CH", "state": "ZH", "zip": "8001", "phone_country_code": "+41",
        "phone": "795551234", "lead_preferred_time_zone": "Europe/Brussels",
    }  # fmt: skip
    assert (tokyo.fields["phone_country_code"], tokyo.fields["phone"]) == ("+81", "312345678")
    assert tokyo.fields["lead_preferred_time_zone"] == "Asia/Tokyo"


# -- the Mailchimp export of the report ----------------------------------------------------

ACCEPTANCE = "mailchimp_audience_301"
SPELLED_OUT = [19, 60, 101, 142, 204, 265]  # `name at example.com`
DUPLICATE, ORIGINAL = 154, 44


@dataclass
class Imported:
    template: str
    checked: Any
    summary: Any
    leads: dict[str, Any]  # email -> the sandbox's lead
    results: dict[int, dict[str, Any]]


@pytest.fixture(scope="module", params=["csv", "xlsx"])
def imported(request: pytest.FixtureRequest) -> Iterator[Imported]:
    """The export through `template init`, a dry run and a real run, once per format."""
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        work = Path(folder)
        patch.setenv("BULK_LOADER_CACHE", str(work / "cache"))
        sheet = copy(work, f"{ACCEPTANCE}.{request.param}")
        text = Loader(sheet).starter_template()
        template = work / "mailchimp.toml"
        template.write_text(text, encoding="utf-8")
        loader = Loader(sheet, template=template)
        checked = loader.check(results=work / "dry.xlsx")
        with (
            serve_in_thread(ACCOUNT, rate=None) as sandbox,
            KartraClient(GOOD, api_url=sandbox.url) as client,
        ):
            summary = loader.run(client, rate=None, memory=False)
            leads = {lead.email: lead for lead in sandbox.state.leads.values()}
        assert summary.results is not None
        yield Imported(text, checked, summary, leads, results(summary.results))


def test_the_report_export_creates_every_row_but_the_bad_ones(imported: Imported) -> None:
    """301 rows: 294 created; the 6 addresses written `name at example.com` are invalid
    with the fix suggested; the exact copy of a row is a duplicate."""
    assert imported.checked.report.rows_read == 301
    assert imported.checked.report.rows_invalid == 7
    assert dict(imported.summary.statuses) == {RowStatus.CREATED: 294, RowStatus.INVALID: 7}
    assert dict(imported.summary.errors) == {"invalid_email": 6, "duplicate_lead": 1}
    assert len(imported.leads) == 294
    invalid = {n: row for n, row in imported.results.items() if row["result_status"] == "invalid"}
    assert sorted(invalid) == sorted([*SPELLED_OUT, DUPLICATE])
    for n in SPELLED_OUT:
        written = invalid[n]["Email Address"]
        fixed = written.replace(" at ", "@")
        assert f"did you mean '{fixed}'?" in invalid[n]["result_message"]
        assert invalid[n]["result_error_type"] == "invalid_email"
    assert invalid[DUPLICATE]["result_error_type"] == "duplicate_lead"
    assert f"row {ORIGINAL}" in invalid[DUPLICATE]["result_message"]
    problems = {p.row: p for p in imported.checked.problems if not p.is_warning}
    assert problems[60].message == (
        "'ugo.yarrow.58 at example.org' is not a valid email address "
        "(did you mean 'ugo.yarrow.58@example.org'?)"
    )


def test_the_report_export_gets_the_mailchimp_preset(imported: Imported) -> None:
    assert imported.template.startswith(
        "# Mailchimp audience export: preset templates/presets/mailchimp.toml\n"
    )
    doc = tomllib.loads(imported.template)
    assert doc["split"]["address"] == {"column": "Address", "format": "mailchimp"}
    assert doc["actions"]["tags"] == {"column": "TAGS", "separator": ","}
    assert doc["fields"]["phone"] == {
        "column": "Phone Number",
        "transform": "phone",
        "region": "US",
    }
    assert doc["fields"]["ip"] == "OPTIN_IP"
    # CC and REGION: the fallback of the typed Address, where it gives none.
    assert doc["fields"]["country"] == {"column": "CC", "transform": "country"}
    assert doc["fields"]["state"] == "REGION"
    assert "custom_fields" not in doc  # suggestions only: it imports into any account
    assert '# [custom_fields.mailchimp_rating]\n# column = "MEMBER_RATING"' in imported.template


def lead_of(imported: Imported, row: int) -> Any:
    email = imported.results[row]["Email Address"]
    return imported.leads[email]


# Sheet row -> what Kartra holds: phone code and number, country, time zone, tags.
KNOWN = {
    2: ("+1", "4155550100", "US", "America/New_York", ["Webinar 2026", "Customer"]),
    3: ("+1", "4155550105", "US", "Europe/Brussels", None),  # tel:+1..., Europe/Paris
    4: ("+44", "2079460005", "GB", "Europe/London", None),  # country written as a name
    5: ("+49", "3023125004", "DE", "Europe/Brussels", None),  # national, Europe/Berlin
    6: ("+1", "4165550104", "CA", "America/New_York", None),  # America/Toronto
    8: ("+65", "61234506", "SG", "Asia/Kuala_Lumpur", None),  # Asia/Singapore
    9: ("+1", "6175550107", "US", "America/New_York", None),  # america/new_york
    10: ("+1", "4155550108", "US", "America/Los_Angeles", None),  # +1415... (a number in XLSX)
    11: ("+44", "2079460009", "GB", "Europe/London", None),  # +44207... (a number in XLSX)
    12: ("+33", "199001010", "FR", "Europe/Brussels", None),  # national, in France
}


@pytest.mark.parametrize("row", sorted(KNOWN))
def test_known_rows_reach_kartra_right(imported: Imported, row: int) -> None:
    code, phone, country, zone, tags = KNOWN[row]
    lead = lead_of(imported, row)
    got = lead.fields
    assert (got["phone_country_code"], got["phone"]) == (code, phone)
    assert got["country"] == country
    assert got["lead_preferred_time_zone"] == zone
    expected_tags = tags if tags is not None else _tags(imported.results[row]["TAGS"])
    assert lead.tags == expected_tags


def _tags(cell: str | None) -> list[str]:
    return [part.strip().strip('"') for part in (cell or "").split(",") if part.strip()]


def test_the_one_cell_address_is_split(imported: Imported) -> None:
    fields = lead_of(imported, 2).fields
    assert {k: fields[k] for k in ("address", "city", "state", "zip", "country")} == {
        "address": "1 Main St",
        "city": "Springfield",
        "state": "MA",
        "zip": "01776",
        "country": "US",
    }
    assert lead_of(imported, 3).fields["address"] == "12 Oak Ave, Suite 4"


def test_a_national_number_without_an_address_is_read_in_the_main_country(
    imported: Imported,
) -> None:
    """Row 7: no Address, CC US, `(303) 555-0105`: read in the US, the country its CC
    names (the Address's fallback); America/Denver is Kartra's America/Boise."""
    fields = lead_of(imported, 7).fields
    assert (fields["phone_country_code"], fields["phone"]) == ("+1", "3035550105")
    assert fields["lead_preferred_time_zone"] == "America/Boise"
    assert fields["country"] == "US"


def test_every_tag_zone_and_phone_sent_is_kartras(imported: Imported) -> None:
    """Across all 294 leads: tags as the TAGS cell names them, only Kartra's zones, and
    every phone split into code and national number unless a warning says otherwise."""
    zones = set((ROOT / "bulk_loader" / "data" / "time_zones.txt").read_text().split())
    warned = {
        row["Email Address"]
        for row in imported.results.values()
        if row["result_status"] == "created" and "Phone Number:" in (row["result_message"] or "")
    }
    for row in imported.results.values():
        if row["result_status"] != "created":
            continue
        lead = imported.leads[row["Email Address"]]
        assert lead.tags == _tags(row["TAGS"])
        if row["TIMEZONE"]:
            assert lead.fields["lead_preferred_time_zone"] in zones
        if row["Phone Number"] and lead.email not in warned:
            assert lead.fields["phone_country_code"].startswith("+")
            assert lead.fields["phone"].isdigit()


def test_rows_without_an_address_are_read_in_their_cc(imported: Imported) -> None:
    """Rows 30 and 75: no Address, CC GB, `020 7946 0028`. Kartra should get +44 and GB.

    The template cannot say so today: Kartra's one country field is filled by the
    Address split, a field takes one column, and the phone transform reads a national
    number in the row's country field or in the template's region only. Wanted: a
    way to read the phone in another column's country (CC) without sending it.
    """
    got = [
        (fields.get("phone_country_code"), fields["phone"], fields.get("country"))
        for fields in (lead_of(imported, row).fields for row in (30, 75))
    ]
    expected = [("+44", "2079460028", "GB"), ("+44", "2079460073", "GB")]
    if got != expected:
        pytest.xfail(
            "a row with no Address is neither read in nor sent with its CC "
            f"(got {got}): needs a phone region taken from a column (validation)"
        )


def test_the_csv_and_the_xlsx_send_the_same_leads() -> None:
    """Both formats of the export give the same leads, but for the numbers a spreadsheet
    app stored as numbers in rows with no Address (the + lost, see the test above)."""
    runs: dict[str, dict[str, Any]] = {}
    for suffix in ("csv", "xlsx"):
        with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
            work = Path(folder)
            patch.setenv("BULK_LOADER_CACHE", str(work / "cache"))
            sheet = copy(work, f"{ACCEPTANCE}.{suffix}")
            template = work / "t.toml"
            template.write_text(Loader(sheet).starter_template(), encoding="utf-8")
            with (
                serve_in_thread(ACCOUNT, rate=None) as sandbox,
                KartraClient(GOOD, api_url=sandbox.url) as client,
            ):
                Loader(sheet, template=template).run(client, rate=None, memory=False)
                runs[suffix] = {
                    lead.email: (lead.fields, lead.tags) for lead in sandbox.state.leads.values()
                }
    assert runs["csv"].keys() == runs["xlsx"].keys()
    differ = {email for email in runs["csv"] if runs["csv"][email] != runs["xlsx"][email]}
    for email in differ:
        csv_fields, xlsx_fields = runs["csv"][email][0], runs["xlsx"][email][0]
        # Only what the spreadsheet app turned into numbers differs: phones (+ lost) and
        # a REGION code such as 01, which became 1.
        if csv_fields.get("state") != xlsx_fields.get("state"):
            assert csv_fields["state"].lstrip("0") == xlsx_fields["state"]
        assert {k: v for k, v in csv_fields.items() if not k.startswith(("phone", "state"))} == {
            k: v for k, v in xlsx_fields.items() if not k.startswith(("phone", "state"))
        }
    assert len(differ) <= 20


# -- what the sheet decides ------------------------------------------------------------


def test_the_email_column_of_a_translated_mailchimp_export_is_its_first() -> None:
    """German labels: "Emailadresse" is the first column, so it is the email."""
    headers = ["Emailadresse", "Vorname", "Nachname", "MEMBER_RATING", "OPTIN_TIME",
               "OPTIN_IP", "TIMEZONE", "CC", "REGION", "LEID", "EUID", "TAGS"]  # fmt: skip
    doc = tomllib.loads(starter_template(headers))
    assert doc["fields"]["email"] == "Emailadresse"
    assert doc["fields"]["country"] == {"column": "CC", "transform": "country"}


def test_headers_match_in_any_case_and_spacing_and_keep_the_sheets_spelling(
    tmp_path: Path,
) -> None:
    headers = ["email address", " first name", "member_rating", "OPTIN_TIME", "leid",
               "EUID", "Phone  Number", "tags", "address"]  # fmt: skip
    text = starter_template(headers)
    assert text.startswith("# Mailchimp audience export")
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    template = load_template(path)
    assert template.fields["email"] == "email address"
    assert template.fields["first_name"] == " first name"
    assert template.fields["phone"] == "Phone  Number"
    assert template.transforms["phone"] == FieldTransform("phone")
    assert template.splits == (SplitMap("address", "address", "mailchimp"),)
    assert template.tags is not None and template.tags.column == "tags"


def test_the_unsubscribed_file_says_what_it_is() -> None:
    headers = ["Email Address", "MEMBER_RATING", "OPTIN_TIME", "UNSUB_TIME", "UNSUB_REASON",
               "LEID", "EUID", "TAGS"]  # fmt: skip
    text = starter_template(headers)
    assert "# Note: this is the unsubscribed file of the export" in text
    assert '# column = "UNSUB_REASON"' in text  # not placed: a custom field to adapt


def test_columns_the_preset_does_not_know_are_placed_by_name() -> None:
    """An audience's own merge fields: "Company" and "Website" by name (and not twice),
    the rest offered as custom fields; an export's own id never becomes Kartra's id."""
    headers = ["Email Address", "MEMBER_RATING", "OPTIN_TIME", "LEID", "EUID", "Website",
               "Mobile", "Contact ID", "Interests", "Phone Number"]  # fmt: skip
    text = starter_template(headers)
    doc = tomllib.loads(text)
    assert doc["fields"]["website"] == "Website"
    assert doc["fields"]["phone"]["column"] == "Phone Number"
    assert "id" not in doc["fields"]
    assert '# column = "Mobile"' in text and '# column = "Contact ID"' in text
    assert '# column = "Interests"' in text


def test_hubspot_takes_the_first_company_column_it_has() -> None:
    base = ["Record ID", "Email", "Contact owner", "Create Date"]
    both = tomllib.loads(starter_template([*base, "Associated Company", "Company Name"]))
    one = tomllib.loads(starter_template([*base, "Associated Company"]))
    assert both["fields"]["company"] == "Company Name"
    assert one["fields"]["company"] == "Associated Company"


def preset_columns(key: str) -> list[str]:
    """The first header each entry of a preset names, in file order."""
    doc = tomllib.loads((ROOT / "templates" / "presets" / f"{key}.toml").read_text("utf-8"))
    specs = [*doc.get("fields", {}).values(), *doc.get("actions", {}).values()]
    specs += [*doc.get("split", {}).values(), *doc.get("custom_fields", {}).values()]
    columns = [spec.get("column") if isinstance(spec, dict) else spec for spec in specs]
    return [column[0] if isinstance(column, list) else column for column in columns if column]


@pytest.mark.parametrize("key", IDS)
def test_every_entry_of_a_preset_loads_when_the_sheet_has_its_column(
    tmp_path: Path, key: str
) -> None:
    """A sheet holding every column the preset names: each entry that is not `off` is
    live, or left out for an earlier one (never for a missing column), and it loads."""
    preset = next(p for p in presets() if p.key == key)
    headers = list(dict.fromkeys([*preset.signature, *preset_columns(key)]))
    text = starter_template(headers, "all.csv")
    assert "this sheet has no column" not in text
    assert "Placed by name" not in text and "Columns not placed" not in text
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    template = load_template(path)
    assert template.fields["email"] in headers
    assert {h.casefold() for _, h in template.columns()} <= {h.casefold() for h in headers}


@given(
    st.sampled_from(SAMPLES),
    st.data(),
    st.lists(st.text(max_size=12), max_size=4),
)
def test_a_preset_template_always_loads_on_its_sheet(
    sample: Sample, data: st.DataObject, extra: list[str]
) -> None:
    """Any part of an export (its signature kept), in any order, with other columns:
    the template printed loads, and reads only columns the sheet has."""
    headers = headers_of(EXPORTS / sample.file)
    preset = next(p for p in presets() if p.key == sample.preset)
    signature = {header_key(h) for h in preset.signature}
    kept = data.draw(st.lists(st.sampled_from(headers), unique=True))
    chosen = [h for h in headers if header_key(h) in signature] + kept + extra
    chosen = list(dict.fromkeys(data.draw(st.permutations(chosen))))
    if not any(h.strip() for h in chosen):
        return
    text = starter_template(chosen, sample.file)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.toml"
        path.write_text(text, encoding="utf-8")
        template = load_template(path)
    present = {h.strip().casefold() for h in chosen}
    assert all(header.strip().casefold() in present for _, header in template.columns())
