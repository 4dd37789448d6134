"""bulk-loader.toml (issue 17, point 7): defaults for any option, so a nightly line need
not repeat them; flags win over environment variables, which win over the files;
`config show` says where each value comes from; a mistake in a file is one line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder of the commands: a sheet, and a template beside it."""
    monkeypatch.chdir(tmp_path)
    with (tmp_path / "s.csv").open("w", newline="") as out:
        csv.writer(out).writerows([["E-mail", "Name"], ["ana@example.com", "Ana"]])
    (tmp_path / "t.toml").write_text('[fields]\nemail = "E-mail"\nfirst_name = "Name"\n')
    return tmp_path


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def shown(result: Result, command: str, option: str) -> str:
    """One option's line of `config show`, under its command."""
    lines = result.stdout.splitlines()
    start = lines.index(f"[{command}]")
    for line in lines[start + 1 :]:
        if line.startswith("["):
            break
        if line.split()[0] == option:
            return " ".join(line.split())
    raise AssertionError(f"{option} not shown under [{command}]")


def test_a_config_file_sets_the_options_a_run_would_repeat(folder: Path) -> None:
    (folder / "bulk-loader.toml").write_text('output-dir = "out"\n\n[run]\ntemplate = "t.toml"\n')
    result = invoke("run", "s.csv", "--dry-run")  # no --template: the file's
    assert result.exit_code == 0, result.output
    assert (folder / "out" / "s.csv.results.xlsx").exists()
    assert not (folder / "s.csv.results.xlsx").exists()


def test_flags_win_over_the_environment_which_wins_over_the_files(folder: Path) -> None:
    config = folder / "bulk-loader.toml"
    config.write_text('profile = "acme"\n\n[run]\nrate = 15\ntemplate = "t.toml"\n')
    result = invoke("config", "show", env={"KARTRA_PROFILE": "beta"})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"files: {config}"
    assert shown(result, "run", "--rate") == f"--rate 15.0 config {config}"
    assert shown(result, "run", "--template") == f"--template {folder / 't.toml'} config {config}"
    assert shown(result, "run", "--profile") == "--profile beta env KARTRA_PROFILE"
    assert shown(result, "results", "--profile") == "--profile beta env KARTRA_PROFILE"
    assert shown(result, "run", "--verify") == "--verify 5 default"
    without_env = invoke("config", "show")
    assert shown(without_env, "run", "--profile") == f"--profile acme config {config}"
    # A flag wins over the file: --template names another file, which does not exist.
    config.write_text("[run]\ntemplate = 't.toml'\n")
    flagged = invoke("run", "s.csv", "--dry-run", "--template", "other.toml")
    assert flagged.exit_code == 3 and "other.toml" in flagged.stderr


def test_config_flag_and_the_users_file(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path_factory.mktemp("user-config")
    monkeypatch.setenv("BULK_LOADER_CONFIG", str(user))
    (user / "bulk-loader.toml").write_text("[run]\nverify = 0\nrate = 10\n")
    (folder / "bulk-loader.toml").write_text("[run]\nrate = 12\n")
    both = invoke("config", "show")
    assert both.stdout.splitlines()[0] == (
        f"files: {user / 'bulk-loader.toml'}, {folder / 'bulk-loader.toml'}"
    )
    assert shown(both, "run", "--rate") == f"--rate 12.0 config {folder / 'bulk-loader.toml'}"
    assert shown(both, "run", "--verify") == f"--verify 0 config {user / 'bulk-loader.toml'}"
    elsewhere = folder / "nightly.toml"
    elsewhere.write_text("[run]\nrate = 5\n")
    chosen = invoke("--config", str(elsewhere), "config", "show")
    assert chosen.stdout.splitlines()[0] == f"files: {elsewhere}"
    assert shown(chosen, "run", "--rate") == f"--rate 5.0 config {elsewhere}"
    assert shown(chosen, "run", "--verify") == "--verify 5 default"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[run]\ntempalte = 't.toml'\n", "[run] tempalte: not an option of `run`"),
        ("colour = 'red'\n", "colour: no command has this option"),
        ("[run]\nrate = 'fast'\n", "rate: 'fast' is not a valid float range."),
        ("[run]\nrate = -1\n", "rate: -1.0 is not in the range x>=0."),
        ("[sandbox]\nport = 1\n", "[sandbox]: not a command a file can set"),
        ("[run\n", "not valid TOML: "),
    ],
)
def test_a_mistake_in_the_file_is_one_line_naming_it(folder: Path, text: str, said: str) -> None:
    (folder / "bulk-loader.toml").write_text(text)
    result = invoke("run", "s.csv", "--dry-run")
    assert result.exit_code == 3
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {folder / 'bulk-loader.toml'}: ")
    assert said in line
    missing = invoke("--config", "nowhere.toml", "run", "s.csv", "--dry-run")
    assert (
        missing.exit_code == 3 and missing.stderr == "error: --config nowhere.toml: no such file\n"
    )


def test_a_config_file_never_answers_a_question(folder: Path) -> None:
    (folder / "bulk-loader.toml").write_text("[run]\nyes = true\n")
    result = invoke("run", "s.csv", "--dry-run")
    assert result.exit_code == 3 and "[run] yes: a config file cannot set --yes" in result.stderr


def test_a_folders_file_never_says_where_the_credentials_go(folder: Path) -> None:
    (folder / "bulk-loader.toml").write_text('api-url = "https://kartra.invalid/api"\n')
    result = invoke("run", "s.csv", "--dry-run")
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: {folder / 'bulk-loader.toml'}: api-url: where the credentials go is set on "
        "the command line, in your own config folder's bulk-loader.toml or with --config, "
        "never by a folder's file\n"
    )
    for switch in ("dry-run", "insecure", "sandbox"):
        (folder / "bulk-loader.toml").write_text(f"[run]\n{switch} = true\n")
        refused = invoke("run", "s.csv")
        assert refused.exit_code == 3
        assert f"[run] {switch}: a config file cannot set --{switch}" in refused.stderr


def test_exported_credentials_win_over_a_config_files_profile(folder: Path) -> None:
    (folder / "bulk-loader.toml").write_text('profile = "acme"\n[run]\ntemplate = "t.toml"\n')
    env = {"KARTRA_APP_ID": "x", "KARTRA_API_KEY": "k", "KARTRA_API_PASSWORD": "p",
           "KARTRA_API_URL": "http://127.0.0.1:9/api"}  # fmt: skip
    result = invoke("run", "s.csv", "--dry-run", env=env)
    assert result.stderr.splitlines()[0] == (
        "note: the environment's KARTRA_APP_ID credentials win over profile acme of the config file"
    )
    assert "no profile 'acme'" not in result.stderr


def test_a_typo_in_the_file_gets_the_closest_option(folder: Path) -> None:
    (folder / "bulk-loader.toml").write_text("rat = 15\n")
    result = invoke("run", "s.csv", "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.endswith("rat: no command has this option (did you mean rate?)\n")


def test_the_results_format_from_the_file_names_csv_results(folder: Path) -> None:
    """issue 17 point 7: 'results format' among the defaults a file sets."""
    (folder / "bulk-loader.toml").write_text('results-format = "csv"\n[run]\ntemplate = "t.toml"\n')
    result = invoke("run", "s.csv", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "Results:   s.csv.results.csv"
    assert (folder / "s.csv.results.summary.csv").exists()
