"""The command line: seed into a data dir, refuse to mix, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fieldtech.offline_store import Store


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fieldtech", *args], capture_output=True,
                          text=True, timeout=120)


def test_seed_then_refuse_to_seed_again(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "seed", "--customers", "30", "--controllers", "90")
    assert result.returncode == 0, result.stderr
    assert "Seeded 30 customers and 90 controllers" in result.stdout
    with Store(tmp_path / "fieldtech.db") as s:
        assert s.counts() == (30, 90)
        assert s.usage().controllers_limit == 150  # Bronze holds 90
    again = run("--data-dir", str(tmp_path), "seed")
    assert again.returncode == 1 and "already holds data" in again.stderr


def test_seed_rejects_nonsense(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "seed", "--controllers", "0")
    assert result.returncode == 2 and "between 1 and 100,000" in result.stderr
    # A count that sizes the account is refused before anything is generated (issue 12).
    result = run("--data-dir", str(tmp_path), "seed", "--customers", "99999999999")
    assert result.returncode == 2 and "between 1 and 100,000" in result.stderr
    assert not (tmp_path / "fieldtech.db").exists() or Store(
        tmp_path / "fieldtech.db").counts() == (0, 0)
    result = run("--data-dir", str(tmp_path), "seed", "--controllers", "many")
    assert result.returncode == 2 and "invalid int" in result.stderr


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "seed"):
        assert command in result.stdout


def test_triage_prints_the_most_urgent_first_and_exits_3_while_one_is_overdue(
        tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    assert run("--data-dir", str(tmp_path), "seed", "--customers", "5",
               "--controllers", "10").returncode == 0
    now = datetime.now(UTC)
    with Store(tmp_path / "fieldtech.db") as s:
        rows = [r for r in s.fleet_rows() if r.controller_id]

        def incident(n: int, due: timedelta, state: str = "open") -> dict:
            return {"entity": "incident", "id": f"i{n}", "op": "upsert", "data": {
                "id": f"i{n}", "controller_id": rows[n].controller_id, "kind": "offline",
                "severity": "warning", "state": state, "opened_at": now.isoformat(),
                "response_due_at": (now + due).isoformat(), "membership": "priority"}}
        s.apply_changes([incident(0, timedelta(hours=2)), incident(1, timedelta(minutes=10))],
                        1)
    calm = run("--data-dir", str(tmp_path), "triage", "--no-sync", "--json")
    assert calm.returncode == 0, calm.stderr
    listed = [json.loads(line) for line in calm.stdout.splitlines()]
    assert [i["id"] for i in listed] == ["i1", "i0"]  # due first, first
    assert listed[0]["controller"] == rows[1].name and not listed[0]["breaching"]

    with Store(tmp_path / "fieldtech.db") as s:
        s.apply_changes([incident(2, timedelta(minutes=-3))], 2)
    late = run("--data-dir", str(tmp_path), "triage", "--no-sync")
    assert late.returncode == 3
    assert late.stdout.splitlines()[0].split()[0].startswith("-")
    assert "3 open, 1 breaching." in late.stderr


def test_seed_refuses_a_store_that_holds_a_cloud_account(tmp_path: Path) -> None:
    """Seeded records are written as if pulled: in a synced store they would pass for the
    cloud account's and never be sent (issue 12, 7)."""
    with Store(tmp_path / "fieldtech.db") as s:
        s.set_sync_values(account_id="acct-42")
    result = run("--data-dir", str(tmp_path), "seed", "--force")
    assert result.returncode == 1 and "holds cloud account acct-42" in result.stderr
    with Store(tmp_path / "fieldtech.db") as s:
        assert s.counts() == (0, 0)


def test_seed_refuses_while_signed_in(tmp_path: Path) -> None:
    from fieldtech.cloud.session import Session, save_session

    save_session(Session(url="http://127.0.0.1:9", email="ana@example.com"))
    result = run("--data-dir", str(tmp_path / "d"), "seed", "--force")
    assert result.returncode == 1 and "signed in to http://127.0.0.1:9" in result.stderr
    assert "fieldtech logout" in result.stderr


def test_cloud_commands_and_simulate_keep_to_the_data_dir(tmp_path: Path) -> None:
    """They wrote the user's real data dir whatever FIELDTECH_DATA_DIR or --data-dir said
    (issue 12, 6)."""
    import os

    import pytest

    pytest.importorskip("sqlalchemy")
    made = run("--data-dir", str(tmp_path / "given"), "cloud", "create-account", "--email",
               "boss@example.com", "--name", "Green Thumb", "--password", "s3cret-pass")
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "given" / "cloud.sqlite3").is_file()
    codes = run("cloud", "issue-plan-codes", "1")  # FIELDTECH_DATA_DIR, set for every test
    assert codes.returncode == 0, codes.stderr
    assert (Path(os.environ["FIELDTECH_DATA_DIR"]) / "cloud.sqlite3").is_file()

    from fieldtech.server.commands import default_db_url

    assert default_db_url() == f"sqlite:///{Path(os.environ['FIELDTECH_DATA_DIR'])}/cloud.sqlite3"


def test_simulate_refuses_sizes_it_cannot_build_before_building_anything(
        tmp_path: Path) -> None:
    for flags, words in ((["--count", "99999999999"], "--count is 0 to"),
                         (["--zones", "0"], "--zones is 1 to 200"),
                         (["--opensprinkler", "-1"], "--opensprinkler is 0 to")):
        result = run("--data-dir", str(tmp_path), "simulate", *flags)
        assert result.returncode == 2 and words in result.stderr, result.stderr
    assert not (tmp_path / "simulator").exists()


def test_the_app_starts_without_garbage_collection_until_its_first_paint(
        tmp_path: Path, monkeypatch) -> None:
    """Start-up turns the collector off (its passes over start-up's objects cost 45-80 ms of
    the start) and on again once the first screenful is painted, and after a start that
    failed: an app left without it would grow for as long as it runs."""
    import gc

    from fieldtech.app import FieldtechApp
    from fieldtech.cli import app_commands

    monkeypatch.setenv("FIELDTECH_CONFIG_DIR", str(tmp_path / "config"))
    seen: dict[str, bool] = {}

    def run(app: FieldtechApp) -> None:
        seen["starting"] = gc.isenabled()
        app.after_first_paint()  # what the app calls after its first frame
        seen["painted"] = gc.isenabled()
        gc.disable()  # a run that never painted: _launch must still turn it on
        raise RuntimeError("the terminal went away")

    monkeypatch.setattr(FieldtechApp, "run", run)
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        app_commands._launch(tmp_path / "data")
    assert seen == {"starting": False, "painted": True} and gc.isenabled()


def test_opening_the_app_reads_its_arguments_as_the_full_parser_does() -> None:
    """`fieldtech [--data-dir DIR]` skips building every command's parser (start-up): it must
    read those arguments as the full parser does, and leave everything else to it."""
    from fieldtech.cli import _opening_the_app, build_parser

    for argv in ([], ["--data-dir", "/tmp/d"], ["--data-dir=/tmp/d"], ["--data-dir="]):
        fast, full = _opening_the_app(argv), build_parser().parse_args(argv)
        assert fast is not None and full.command is None, argv
        assert fast.data_dir == full.data_dir and getattr(full, "handler", None) is None
    for argv in (["seed"], ["--data-dir", "/tmp/d", "seed"], ["--version"], ["--help"],
                 ["--data-dir", "--version"], ["demo"], ["--data-dir"]):
        assert _opening_the_app(argv) is None, argv


def test_fieldtech_with_a_data_dir_opens_the_app_there(tmp_path: Path, monkeypatch) -> None:
    from fieldtech import cli
    from fieldtech.cli import app_commands

    opened = []
    monkeypatch.setattr(app_commands, "run_app", lambda args: opened.append(args.data_dir))
    monkeypatch.setenv("FIELDTECH_DATA_DIR", "elsewhere")  # (put back after the test)
    assert cli.main(["--data-dir", str(tmp_path)]) == 0
    assert opened == [str(tmp_path)] and cli.os.environ["FIELDTECH_DATA_DIR"] == str(tmp_path)
