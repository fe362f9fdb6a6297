"""The command line: seed into a data dir, refuse to mix, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
