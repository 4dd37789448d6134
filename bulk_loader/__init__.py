"""bulk_loader: create and update Kartra leads from a CSV or XLSX sheet.

The Python API (the `bulk-loader` command is a thin skin over it):

    import bulk_loader

    loader = bulk_loader.Loader("leads.csv", template="templates/example.toml")
    checked = loader.check()                      # validate; nothing is sent
    with bulk_loader.KartraClient(bulk_loader.Credentials.from_env()) as client:
        summary = loader.run(client)              # check, then send every valid row

See `Loader` for the options, and the README's "Use from Python". The names below are
imported when first used, so `import bulk_loader` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bulk_loader.api import (
        Loader,
        forget_journal,
        kartra_time_zones,
        lead_memory_files,
        stale_journals,
    )
    from bulk_loader.errors import BulkLoaderError
    from bulk_loader.kartra.call_log import CallLog, LoggedClient
    from bulk_loader.kartra.client import (
        DEFAULT_API_URL,
        Credentials,
        KartraApi,
        KartraClient,
        account_label,
    )
    from bulk_loader.kartra.network import check_api_url, shown_url
    from bulk_loader.kartra.profiles import (
        Profile,
        add_profile,
        check_keyring,
        chosen_credentials,
        env_names,
        load_profiles,
        profile_app_id,
        profiles_file,
        remove_profile,
    )
    from bulk_loader.outcomes import Problem, ProblemCode, RowOutcome, RowStatus
    from bulk_loader.pipeline.accounts import RunPlan
    from bulk_loader.pipeline.check import CheckSummary
    from bulk_loader.pipeline.progress import Progress, SilentProgress
    from bulk_loader.pipeline.undo import UndoSummary
    from bulk_loader.results.files import output_name
    from bulk_loader.results.run_record import (
        EXIT_MEANINGS,
        check_record,
        error_record,
        import_record,
        several_record,
    )
    from bulk_loader.results.summary import ImportSummary
    from bulk_loader.sending.pacing import RetryPolicy
    from bulk_loader.sheets.folder import failed_rows_origin, sheets_in, written_by_us
    from bulk_loader.user_folders import config_folder

_HOMES = {
    "Loader": "bulk_loader.api",
    "forget_journal": "bulk_loader.api",
    "kartra_time_zones": "bulk_loader.api",
    "lead_memory_files": "bulk_loader.api",
    "stale_journals": "bulk_loader.api",
    "shown_url": "bulk_loader.kartra.network",
    "config_folder": "bulk_loader.user_folders",
    "DEFAULT_API_URL": "bulk_loader.kartra.client",
    "output_name": "bulk_loader.results.files",
    "CallLog": "bulk_loader.kartra.call_log",
    "LoggedClient": "bulk_loader.kartra.call_log",
    "sheets_in": "bulk_loader.sheets.folder",
    "failed_rows_origin": "bulk_loader.sheets.folder",
    "written_by_us": "bulk_loader.sheets.folder",
    "EXIT_MEANINGS": "bulk_loader.results.run_record",
    "check_record": "bulk_loader.results.run_record",
    "error_record": "bulk_loader.results.run_record",
    "import_record": "bulk_loader.results.run_record",
    "several_record": "bulk_loader.results.run_record",
    "check_api_url": "bulk_loader.kartra.network",
    "Profile": "bulk_loader.kartra.profiles",
    "add_profile": "bulk_loader.kartra.profiles",
    "check_keyring": "bulk_loader.kartra.profiles",
    "chosen_credentials": "bulk_loader.kartra.profiles",
    "env_names": "bulk_loader.kartra.profiles",
    "load_profiles": "bulk_loader.kartra.profiles",
    "profile_app_id": "bulk_loader.kartra.profiles",
    "profiles_file": "bulk_loader.kartra.profiles",
    "remove_profile": "bulk_loader.kartra.profiles",
    "BulkLoaderError": "bulk_loader.errors",
    "Credentials": "bulk_loader.kartra.client",
    "KartraApi": "bulk_loader.kartra.client",
    "KartraClient": "bulk_loader.kartra.client",
    "account_label": "bulk_loader.kartra.client",
    "RunPlan": "bulk_loader.pipeline.accounts",
    "Problem": "bulk_loader.outcomes",
    "ProblemCode": "bulk_loader.outcomes",
    "RowOutcome": "bulk_loader.outcomes",
    "RowStatus": "bulk_loader.outcomes",
    "CheckSummary": "bulk_loader.pipeline.check",
    "Progress": "bulk_loader.pipeline.progress",
    "SilentProgress": "bulk_loader.pipeline.progress",
    "ImportSummary": "bulk_loader.results.summary",
    "RetryPolicy": "bulk_loader.sending.pacing",
    "UndoSummary": "bulk_loader.pipeline.undo",
}

__all__ = [
    "DEFAULT_API_URL",
    "EXIT_MEANINGS",
    "BulkLoaderError",
    "CallLog",
    "CheckSummary",
    "Credentials",
    "ImportSummary",
    "KartraApi",
    "KartraClient",
    "Loader",
    "LoggedClient",
    "Problem",
    "ProblemCode",
    "Profile",
    "Progress",
    "RetryPolicy",
    "RowOutcome",
    "RowStatus",
    "RunPlan",
    "SilentProgress",
    "UndoSummary",
    "account_label",
    "add_profile",
    "check_api_url",
    "check_keyring",
    "check_record",
    "chosen_credentials",
    "config_folder",
    "env_names",
    "error_record",
    "failed_rows_origin",
    "forget_journal",
    "import_record",
    "kartra_time_zones",
    "lead_memory_files",
    "load_profiles",
    "output_name",
    "profile_app_id",
    "profiles_file",
    "remove_profile",
    "several_record",
    "sheets_in",
    "shown_url",
    "stale_journals",
    "written_by_us",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bulk_loader' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
