"""Tags and lists: quoted names (a Mailchimp export), separators, names added to every
row, and what the account check suggests for a name it does not have."""

from __future__ import annotations

import csv
import io
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.cli.app import cli
from bulk_loader.errors import TemplateError
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.outcomes import Problem
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.results.summary import ImportSummary
from bulk_loader.sandbox import RunningSandbox, serve_in_thread
from bulk_loader.sending.pacing import RetryPolicy
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.mapping import load_template
from bulk_loader.template.model import ActionColumn
from bulk_loader.template.starter import guess_separator, starter_template
from bulk_loader.validation.account import AccountSnapshot
from bulk_loader.validation.checks import split_values
from bulk_loader.validation.validator import LeadRow, Validator

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = ROOT / "samples" / "account.toml"
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
POLICY = RetryPolicy(base_delay=0.0, max_delay=0.0, rate_limit_wait=0.2)
SEPARATORS = (";", ",", "|")
# What Mailchimp's audience export writes in its TAGS column.
MAILCHIMP = '"Webinar 2026", "Customer"'


# ---------------------------------------------------------------- splitting a cell


@pytest.mark.parametrize(
    ("cell", "separator", "names"),
    [
        (MAILCHIMP, ",", ["Webinar 2026", "Customer"]),
        ('"A, B", C', ",", ["A, B", "C"]),
        ("VIP;Customer", ";", ["VIP", "Customer"]),
        ("VIP , Customer", ",", ["VIP", "Customer"]),
        ("VIP | Churn risk", "|", ["VIP", "Churn risk"]),
        ('"A|B" | C', "|", ["A|B", "C"]),
        ('"VIP"; "Webinar 2026"', ";", ["VIP", "Webinar 2026"]),
        ('"Say ""hi""", VIP', ",", ['Say "hi"', "VIP"]),  # a quote inside, doubled
        ('He said "hi", VIP', ",", ['He said "hi"', "VIP"]),  # quotes mid-name are text
        ('"Two\nlines", VIP', ",", ["Two\nlines", "VIP"]),
        ('"VIP",, "VIP", "", ', ",", ["VIP"]),  # empty parts and repeats dropped
        (MAILCHIMP, ";", ['Webinar 2026, "Customer"']),  # the wrong separator: one name
    ],
)
def test_a_cell_is_read_as_one_csv_record(cell: str, separator: str, names: list[str]) -> None:
    """Quotes are understood with every separator: a quoted name may hold the separator."""
    assert split_values(cell, separator) == names


@pytest.mark.parametrize(
    ("cell", "separator", "names"),
    [
        ('"Webinar 2026, Customer', ",", ['"Webinar 2026', "Customer"]),
        ('5" screen; VIP', ";", ['5" screen', "VIP"]),
        ('VIP, "Customer', ",", ["VIP", '"Customer']),
        ('Line\nbreak, "VIP"', ",", ["Line\nbreak", '"VIP"']),  # a break outside quotes
    ],
)
def test_unbalanced_quotes_split_plainly_and_keep_the_text(
    cell: str, separator: str, names: list[str]
) -> None:
    """Quotes that do not pair up never raise: the cell is split as before, quotes kept."""
    assert split_values(cell, separator) == names


def kept(text: str) -> str:
    """The characters no splitting may drop or invent: all but quotes and white space."""
    return "".join(c for c in text if c != '"' and not c.isspace())


def is_subsequence(part: str, whole: str) -> bool:
    rest = iter(whole)
    return all(char in rest for char in part)


separators = st.sampled_from([*SEPARATORS, " / ", "&"])
cell_text = st.text(alphabet=st.sampled_from('ab "";,| \n\t\r\x00é'), max_size=40) | st.text(
    max_size=40
)


@given(cell_text, separators)
def test_splitting_never_raises_loses_or_invents_text(cell: str, separator: str) -> None:
    """Any cell: trimmed, distinct, non-empty names, in order, holding every character of
    the cell but quotes, white space and separators, and nothing else."""
    names = split_values(cell, separator)
    assert all(name == name.strip() and name for name in names)
    assert len(set(names)) == len(names)
    assert is_subsequence(kept("".join(names)), kept(cell))
    assert set(kept(cell.replace(separator, ""))) <= set(kept("".join(names)))


plain_names = st.lists(
    st.text(min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda name: name and '"' not in name and not set(SEPARATORS) & set(name)),
    min_size=1,
    max_size=6,
    unique=True,
)


@given(plain_names, st.sampled_from(SEPARATORS), st.booleans(), st.sampled_from(["", " ", "  "]))
def test_joined_names_split_back_quoted_or_not(
    names: list[str], separator: str, quoted: bool, space: str
) -> None:
    """Names joined by the separator (with spaces, in quotes or not) come back as they were."""
    parts = [f'"{name}"' if quoted else name for name in names]
    assert split_values((separator + space).join(parts), separator) == names


any_names = st.lists(
    st.text(min_size=1, max_size=12).map(str.strip).filter(bool),
    min_size=1,
    max_size=6,
    unique=True,
)


@given(any_names, st.sampled_from(SEPARATORS))
def test_names_written_as_csv_come_back_whatever_they_hold(
    names: list[str], separator: str
) -> None:
    """Names holding quotes, separators or line breaks, written as a CSV record (as
    Mailchimp and spreadsheets do), come back as they were."""
    out = io.StringIO()
    csv.writer(out, delimiter=separator).writerow(names)
    assert split_values(out.getvalue().removesuffix("\r\n"), separator) == names


# ---------------------------------------------------------------- the template


def load(tmp_path: Path, actions: str) -> Any:
    path = tmp_path / "t.toml"
    path.write_text(f'[fields]\nemail = "Email"\n[actions]\n{actions}\n', encoding="utf-8")
    return load_template(path)


def problems(tmp_path: Path, actions: str) -> dict[str, str]:
    with pytest.raises(TemplateError) as caught:
        load(tmp_path, actions)
    return {p.key: p.message for p in caught.value.problems}


def test_names_added_to_every_row_with_or_without_a_column(tmp_path: Path) -> None:
    """`add` names tags or lists for every row; a column is then optional."""
    template = load(
        tmp_path,
        'tags = { column = "Tags", separator = ",", add = ["Imported 2026-12"] }\n'
        'lists = { add = [" Weekly digest ", "Events", "Events"] }',
    )
    assert template.tags == ActionColumn("Tags", ",", ("Imported 2026-12",))
    assert template.lists == ActionColumn(None, ";", ("Weekly digest", "Events"))
    assert template.columns() == [("fields.email", "Email"), ("actions.tags.column", "Tags")]


@pytest.mark.parametrize(
    ("actions", "key", "fragment"),
    [
        ('tags = { column = "T", separator = "/" }', "actions.tags.separator", '";", ",", "|"'),
        ('tags = { column = "T", separator = " ; " }', "actions.tags.separator", "one of"),
        ('tags = { column = "T", add = "VIP" }', "actions.tags.add", "a list of names"),
        ('tags = { column = "T", add = [] }', "actions.tags.add", "a list of names"),
        ('lists = { add = ["Events", 3] }', "actions.lists.add", "3 is not a name"),
        ('lists = { add = ["  "] }', "actions.lists.add", "'  ' is not a name"),
        ("lists = {}", "actions.lists", "needs a column, names to add"),
        ('lists = { separator = "," }', "actions.lists", "needs a column, names to add"),
        ('lists = { add = ["E"], separator = "," }', "actions.lists.separator", "no column"),
        ('tags = { column = "T", addd = ["X"] }', "actions.tags.addd", "did you mean 'add'"),
        ('tags = { column = "", add = ["X"] }', "actions.tags.column", "non-empty string"),
        ("tags = 3", "actions.tags", "must be a table"),
    ],
)
def test_each_action_problem_names_its_key(
    tmp_path: Path, actions: str, key: str, fragment: str
) -> None:
    """Wrong types, unknown keys, separators other than ; , | -- each under its key."""
    found = problems(tmp_path, actions)
    assert fragment in found[key], found


# ---------------------------------------------------------------- rows and the account


def validate(
    tmp_path: Path, template: str, rows: Sequence[Sequence[str]]
) -> tuple[list[LeadRow], list[Problem], Any]:
    """Rows under the headers Email, Tags, Lists, Colours, validated with `template`."""
    sheet_path = tmp_path / "s.csv"
    with sheet_path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["Email", "Tags", "Lists", "Colours"], *rows])
    (tmp_path / "t.toml").write_text(template, encoding="utf-8")
    loaded = load_template(tmp_path / "t.toml")
    leads: list[LeadRow] = []
    found: list[Problem] = []
    with open_sheet(sheet_path) as sheet:
        validator = Validator(loaded, sheet, "upsert")
        for chunk in sheet.chunks(2):
            valid, problems_ = validator.validate(chunk)
            leads += valid
            found += problems_
        validator.close()
    return leads, found, loaded


def sample_account() -> AccountSnapshot:
    account = tomllib.loads(ACCOUNT.read_text(encoding="utf-8"))["account"]
    return AccountSnapshot({}, frozenset(account["tags"]), frozenset(account["lists"]))


def test_added_names_follow_each_row_s_own_once_even_on_empty_cells(tmp_path: Path) -> None:
    """A row's names first, then the added ones; a name in both is sent once."""
    template = (
        '[fields]\nemail = "Email"\n[actions]\n'
        'tags = { column = "Tags", separator = ",", add = ["Customer"] }\n'
        'lists = { add = ["Events"] }\n'
    )
    leads, found, _ = validate(
        tmp_path, template, [["a@example.com", MAILCHIMP, "", ""], ["b@example.com", "", "", ""]]
    )
    assert found == []
    assert [(lead.tags, lead.lists) for lead in leads] == [
        (("Webinar 2026", "Customer"), ("Events",)),
        (("Customer",), ("Events",)),
    ]


def test_checkbox_labels_are_split_the_same_way(tmp_path: Path) -> None:
    """A checkbox custom field's cell may quote its labels too."""
    template = (
        '[fields]\nemail = "Email"\n[custom_fields.color]\ncolumn = "Colours"\n'
        'type = "checkbox"\nseparator = ","\noptions = { "red, dark" = 620, blue = 621 }\n'
    )
    leads, found, _ = validate(tmp_path, template, [["a@example.com", "", "", '"red, dark", blue']])
    assert found == []
    assert leads[0].lead["custom_fields"] == [
        {"field_identifier": "color", "field_value": [620, 621]}
    ]


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("vip", "(did you mean 'VIP'?)"),
        ('"VIP"', "(did you mean 'VIP'?)"),
        ("\u201cVIP\u201d", "(did you mean 'VIP'?)"),
        ("' webinar 2026 '", "(did you mean 'Webinar 2026'?)"),
        (
            'Webinar 2026, "Customer"',
            "(did you mean 'Webinar 2026' and 'Customer'? "
            "for names separated by ',', set separator = \",\")",
        ),
        ("Webinar 2025", "(closest: 'Webinar 2026')"),
    ],
)
def test_a_name_the_account_lacks_gets_what_it_probably_meant(name: str, hint: str) -> None:
    """Case, surrounding quotes or spaces, another separator, a near spelling: suggested.
    The name is still a problem: Kartra does not say that it ignores case."""
    (problem,) = sample_account().missing_names(7, "Tags", "tag", [name])
    assert problem.code == "unknown_tag" and problem.value == name
    assert problem.message == (
        f"the account has no tag {name!r} {hint}; Kartra creates none by API"
    )


def test_a_name_like_no_other_gets_no_suggestion() -> None:
    (problem,) = sample_account().missing_names(7, "Lists", "list", ["Gold members"])
    assert problem.message == "the account has no list 'Gold members'; Kartra creates none by API"


def test_added_names_the_account_lacks_are_one_template_problem_per_name(tmp_path: Path) -> None:
    """Said once for the run, with the key that holds the name, not once per row."""
    template = (
        '[fields]\nemail = "Email"\n[actions]\n'
        'tags = { column = "Tags", add = ["Imported 2026-12", "vip"] }\n'
        'lists = { add = ["Events"] }\n'
    )
    rows = [[f"r{n}@example.com", "VIP", "", ""] for n in range(5)]
    leads, _, loaded = validate(tmp_path, template, rows)
    account = sample_account()
    assert [str(p) for p in account.template_problems(loaded)] == [
        "actions.tags.add: the account has no tag 'Imported 2026-12'; Kartra creates none by API",
        "actions.tags.add: the account has no tag 'vip' (did you mean 'VIP'?); "
        "Kartra creates none by API",
    ]
    with pytest.raises(TemplateError) as caught:
        for lead in leads:
            account.check(lead, loaded)
    assert len(caught.value.problems) == 2


# ---------------------------------------------------------------- against the sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """The sample account, with the tag Kartra's own importer would add this month."""
    text = ACCOUNT.read_text(encoding="utf-8").replace(
        'tags = ["VIP",', 'tags = ["Imported 2026-12", "VIP",'
    )
    assert "Imported 2026-12" in text
    account = tmp_path / "account.toml"
    account.write_text(text, encoding="utf-8")
    with serve_in_thread(account, rate=None) as running:
        yield running


def sheet(tmp_path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """A CSV with Mailchimp's headers; csv quotes the quotes as Mailchimp's export does."""
    path = tmp_path / "audience.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([["Email Address", "First Name", "TAGS"], *rows])
    return path


def template(tmp_path: Path, actions: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(
        f'[fields]\nemail = "Email Address"\nfirst_name = "First Name"\n[actions]\n{actions}\n',
        encoding="utf-8",
    )
    return path


def run(client: KartraClient, path: Path, template_path: Path) -> ImportSummary:
    options = ImportOptions(
        sheet=path, mode="create", template_path=template_path, rate=None, policy=POLICY
    )
    return run_import(options, client)


def result_rows(summary: ImportSummary) -> list[dict[str, Any]]:
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    rows = list(book["Results"].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_a_mailchimp_export_imports_with_its_tags(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """TAGS `"Webinar 2026", "Customer"` with separator "," assigns both tags."""
    path = sheet(tmp_path, [["ana@example.com", "Ana", MAILCHIMP], ["bo@example.com", "Bo", ""]])
    summary = run(client, path, template(tmp_path, 'tags = { column = "TAGS", separator = "," }'))
    assert summary.exit_code == 0
    ana = sandbox.state.find(email="ana@example.com")
    assert ana is not None and sorted(ana.tags) == ["Customer", "Webinar 2026"]


def test_added_tags_and_lists_ride_in_every_row_s_call(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Like Kartra's importer: every row gets "Imported 2026-12", in its one call."""
    rows = [[f"lead{n}@example.com", f"Lead{n}", MAILCHIMP if n % 2 else ""] for n in range(6)]
    actions = (
        'tags = { column = "TAGS", separator = ",", add = ["Imported 2026-12"] }\n'
        'lists = { add = ["Weekly digest"] }'
    )
    summary = run(client, sheet(tmp_path, rows), template(tmp_path, actions))
    assert summary.exit_code == 0
    assert sandbox.stats.by_cmd["create_lead"] == 6
    assert sandbox.stats.calls_total == 6 + 3  # and the three account look-ups
    for n in range(6):
        lead = sandbox.state.find(email=f"lead{n}@example.com")
        assert lead is not None and set(lead.lists) == {"Weekly digest"}
        own = ["Customer", "Webinar 2026"] if n % 2 else []
        assert sorted(lead.tags) == sorted([*own, "Imported 2026-12"])


def test_a_quoted_name_the_account_lacks_is_invalid_with_a_suggestion(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """The wrong separator, or an unbalanced quote: the row is not sent, and the message
    says what the account has."""
    path = sheet(
        tmp_path, [["a@example.com", "A", MAILCHIMP], ["b@example.com", "B", '"Customer; VIP']]
    )
    summary = run(client, path, template(tmp_path, 'tags = { column = "TAGS" }'))
    first, second = result_rows(summary)
    assert (first["result_status"], first["result_error_type"]) == ("invalid", "unknown_tag")
    assert "did you mean 'Webinar 2026' and 'Customer'?" in first["result_message"]
    assert (second["result_status"], second["result_error_type"]) == ("invalid", "unknown_tag")
    assert "'\"Customer' (did you mean 'Customer'?)" in second["result_message"]
    assert sandbox.stats.by_cmd["create_lead"] == 0


def test_an_added_tag_the_account_lacks_stops_the_run_with_one_line(tmp_path: Path) -> None:
    """Before anything is sent: one line for the template key, however many rows."""
    rows = [[f"lead{n}@example.com", f"Lead{n}", ""] for n in range(5)]
    actions = 'tags = { column = "TAGS", add = ["Imported 2025-12"] }'
    path, template_path = sheet(tmp_path, rows), template(tmp_path, actions)
    result = CliRunner().invoke(
        cli, ["run", str(path), "--template", str(template_path), "--sandbox"]
    )
    assert result.exit_code == 3, result.output
    assert result.stderr.endswith(
        f"\nerror: {template_path}: 1 problem\n"
        "  actions.tags.add: the account has no tag 'Imported 2025-12'; "
        "Kartra creates none by API\n"
    )
    assert not (tmp_path / "audience.results.xlsx").exists()


def test_an_added_tag_the_account_lacks_stops_a_sheet_of_invalid_rows_too(
    tmp_path: Path,
) -> None:
    """Said before the scan, so no sheet can hide it: here every row's email is bad."""
    rows = [[f"lead{n} at example", f"Lead{n}", ""] for n in range(3)]
    actions = 'tags = { column = "TAGS", add = ["Imported 2025-12"] }'
    path, template_path = sheet(tmp_path, rows), template(tmp_path, actions)
    result = CliRunner().invoke(
        cli, ["run", str(path), "--template", str(template_path), "--sandbox"]
    )
    assert result.exit_code == 3, result.output
    assert "actions.tags.add: the account has no tag 'Imported 2025-12'" in result.stderr


def test_template_init_reads_the_tags_separator_off_the_sheet(tmp_path: Path) -> None:
    """The command looks at the cells, not the headers alone: a Mailchimp sheet gets ','."""
    path = sheet(tmp_path, [["ana@example.com", "Ana", MAILCHIMP]])
    result = CliRunner().invoke(cli, ["template", "init", str(path)])
    assert result.exit_code == 0, result.output
    assert 'separator = ","' in result.output


# ---------------------------------------------------------------- template init


def test_guess_separator_reads_the_cells() -> None:
    """The separator found outside quotes in the most cells; none found: no guess."""
    assert guess_separator([MAILCHIMP, '"VIP"', ""]) == ","
    assert guess_separator(["VIP|Customer", "Events"]) == "|"
    assert guess_separator(['"A; B", C', "D, E"]) == ","
    assert guess_separator(["A, B; C"]) == ";"  # a tie: Kartra's own
    assert guess_separator(["VIP", ""]) is None


def test_template_init_proposes_the_separator_the_tags_use(tmp_path: Path) -> None:
    """Given rows, the starter template's tags separator is the sheet's; it loads back."""
    headers = ["Email Address", "First Name", "TAGS"]
    rows = [["ana@example.com", "Ana", MAILCHIMP], ["bo@example.com", "Bo"]]
    text = starter_template(headers, "audience.csv", rows)
    assert 'tags = { column = "TAGS", separator = "," }' in text
    assert 'separator = ";"' in starter_template(headers, "audience.csv")
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    assert load_template(path).tags == ActionColumn("TAGS", ",")
