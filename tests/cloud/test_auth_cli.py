"""`fieldtech login / logout / auth status` against the real reference server on 127.0.0.1.

Driven in-process through `fieldtech.cli.main` (plus one real subprocess). No OS keyring daemon
exists here: the keyring backends are in keyrings.py (in memory, hanging) or keyring's own
failing one, installed with `keyring.set_keyring` by fixtures in conftest.py.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from keyrings import HangingKeyring, MemoryKeyring

from fieldtech.cli import main
from fieldtech.cloud.api import CloudAPI
from fieldtech.cloud.session import Session, save_session, session_path
from fieldtech.domain.errors import NotSignedIn
from fieldtech.server.embedded import free_port
from tests.cloud.conftest import FAST_RETRY, CloudAccount

pytestmark = pytest.mark.usefixtures("no_env_token")


class FakeTerminal(io.StringIO):
    """Standard input that says it is a terminal, so login may ask its question."""

    def isatty(self) -> bool:
        return True


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str,
        stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def login(capsys, monkeypatch, account: CloudAccount, *extra: str,
          password: str | None = None) -> tuple[int, str, str]:
    return run(capsys, monkeypatch, "login", account.url, "--email", account.email,
               "--password-stdin", *extra, stdin=(password or account.password) + "\n")


def server_accepts(account: CloudAccount, token: str) -> bool:
    try:
        with CloudAPI(account.url, token, retry=FAST_RETRY) as api:
            api.me()
    except NotSignedIn:
        return False
    return True


def token_count(account: CloudAccount) -> int:
    response = httpx.get(f"{account.url}/v1/auth/tokens",
                         headers={"Authorization": f"Bearer {account.token}"})
    return len(response.json()["tokens"])


def assert_never_shown(token: str, config: Path, *outputs: str) -> None:
    for text in outputs:
        assert token not in text
    for path in (session_path(), config / "settings.toml"):
        if path.exists():
            assert token not in path.read_text()


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


# -- with an OS keyring -----------------------------------------------------------------------


def test_login_keeps_the_token_in_the_keyring_and_status_shows_the_account(
    capsys, monkeypatch, new_account, memory_keyring: MemoryKeyring, config: Path
) -> None:
    account = new_account()
    code, out, err = login(capsys, monkeypatch, account)
    assert code == 0, err
    assert "Signed in to" in out and "OS keyring" in out

    token = memory_keyring.passwords[("fieldtech", f"{account.url} {account.email}")]
    assert server_accepts(account, token)

    code, status, status_err = run(capsys, monkeypatch, "auth", "status")
    assert code == 0, status_err
    assert f"Contractor {account.email} (id {account.account_id})" in status
    assert f"E-mail:   {account.email}" in status
    assert f"Server:   {account.url}" in status
    assert "from the OS keyring" in status
    assert "Accepted: yes" in status
    assert "Warning" not in status_err

    toml = session_path().read_text()
    assert account.url in toml and 'storage = "keyring"' in toml
    assert_never_shown(token, config, out, err, status, status_err)
    assert not (config / "credentials").exists()


def test_wrong_password(capsys, monkeypatch, new_account, memory_keyring: MemoryKeyring) -> None:
    account = new_account()
    code, _out, err = login(capsys, monkeypatch, account, password="not it")
    assert code == 1
    assert "Wrong e-mail or password." in err
    assert memory_keyring.passwords == {}
    assert not session_path().exists()


def test_unreachable_server(capsys, monkeypatch, memory_keyring: MemoryKeyring) -> None:
    code, _out, err = run(capsys, monkeypatch, "login", dead_url(), "--email", "a@b.example",
                         "--password-stdin", stdin="pw\n")
    assert code == 2
    assert "Cannot reach the cloud at http://127.0.0.1:" in err
    assert "Your edits" not in err  # nothing is queued by a login


@pytest.mark.parametrize("url", ["cloud.example.com", "ftp://cloud.example.com", "http://",
                                 "https://host:99999"])
def test_bad_url(capsys, monkeypatch, memory_keyring: MemoryKeyring, url: str) -> None:
    code, _out, err = run(capsys, monkeypatch, "login", url, "--email", "a@b.example",
                         "--password-stdin", stdin="pw\n")
    assert code == 2
    assert "is not a cloud address" in err


def test_not_signed_in(capsys, monkeypatch, memory_keyring: MemoryKeyring) -> None:
    code, _out, err = run(capsys, monkeypatch, "auth", "status")
    assert code == 1
    assert "Not signed in" in err and "fieldtech login URL" in err


def test_logout_revokes_on_the_server_and_removes_the_token(
    capsys, monkeypatch, new_account, memory_keyring: MemoryKeyring, config: Path
) -> None:
    account = new_account()
    assert login(capsys, monkeypatch, account)[0] == 0
    token = memory_keyring.passwords[("fieldtech", f"{account.url} {account.email}")]

    code, out, err = run(capsys, monkeypatch, "logout")
    assert code == 0, err
    assert "revoked on the server" in out and "Removed it from the OS keyring" in out
    assert memory_keyring.passwords == {}
    assert not session_path().exists()
    assert not server_accepts(account, token)  # 401 now
    assert server_accepts(account, account.token)  # only that token: the fixture's still works
    assert_never_shown(token, config, out, err)

    assert run(capsys, monkeypatch, "auth", "status")[0] == 1


def test_logging_in_again_revokes_the_previous_token(
    capsys, monkeypatch, new_account, memory_keyring: MemoryKeyring
) -> None:
    first, second = new_account(), new_account()
    assert login(capsys, monkeypatch, first)[0] == 0
    old = memory_keyring.passwords[("fieldtech", f"{first.url} {first.email}")]
    assert login(capsys, monkeypatch, second)[0] == 0
    assert not server_accepts(first, old)
    assert list(memory_keyring.passwords) == [("fieldtech", f"{second.url} {second.email}")]


def test_offline_status_and_logout_say_so(
    capsys, monkeypatch, new_account, memory_keyring: MemoryKeyring
) -> None:
    account = new_account()
    url = dead_url()  # as if the cloud were down: a session for a server that does not answer
    session = Session(url, account.email, account.account_id, "Greenline")
    save_session(session)
    memory_keyring.set_password("fieldtech", session.keyring_username, account.token)

    code, out, _err = run(capsys, monkeypatch, "auth", "status")
    assert code == 0
    assert "Accepted: not checked: offline (Cannot reach the cloud" in out
    assert "Greenline (id" in out

    code, out, _err = run(capsys, monkeypatch, "logout")
    assert code == 0
    assert "could NOT be revoked on the server" in out
    assert memory_keyring.passwords == {}
    assert not session_path().exists()


def test_status_when_the_server_no_longer_accepts_the_token(
    capsys, monkeypatch, new_account, memory_keyring: MemoryKeyring
) -> None:
    account = new_account()
    assert login(capsys, monkeypatch, account)[0] == 0
    token = memory_keyring.passwords[("fieldtech", f"{account.url} {account.email}")]
    with CloudAPI(account.url, token, retry=FAST_RETRY) as api:
        api.revoke_current_token()
    code, out, _err = run(capsys, monkeypatch, "auth", "status")
    assert code == 1
    assert "no longer accepts this token" in out


# -- headless: no keyring ---------------------------------------------------------------------


def test_headless_login_refuses_to_store_without_being_asked(
    capsys, monkeypatch, new_account, no_keyring, config: Path
) -> None:
    account = new_account()
    code, _out, err = login(capsys, monkeypatch, account)
    assert code == 1
    assert "No OS keyring is available" in err
    assert "FIELDTECH_TOKEN" in err and "--insecure-storage" in err
    assert not session_path().exists()
    assert not (config / "credentials").exists()
    assert token_count(account) == 1  # refused before asking the server for a token


def test_headless_login_with_insecure_storage(
    capsys, monkeypatch, new_account, no_keyring, config: Path
) -> None:
    account = new_account()
    code, out, err = login(capsys, monkeypatch, account, "--insecure-storage")
    assert code == 0, err
    assert "Warning:" in err and "readable only by you" in err
    path = config / "credentials" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = path.read_text().strip()
    assert server_accepts(account, token)

    code, status, status_err = run(capsys, monkeypatch, "auth", "status")
    assert code == 0
    assert f"from the file {path} (insecure)" in status
    assert "Warning: the token is in a file" in status_err
    assert_never_shown(token, config, out, err, status, status_err)

    code, out, err = run(capsys, monkeypatch, "logout")
    assert code == 0
    assert not path.exists()
    assert not server_accepts(account, token)


def test_headless_login_asks_on_a_terminal(
    capsys, monkeypatch, new_account, no_keyring, config: Path
) -> None:
    account = new_account()
    monkeypatch.setattr(sys, "stdin", FakeTerminal(f"y\n{account.password}\n"))
    code = main(["login", account.url, "--email", account.email, "--password-stdin"])
    _out, err = capsys.readouterr()
    assert code == 0, err
    assert "Keep the token in the file" in err and "[y/N]" in err
    assert (config / "credentials" / "token").exists()

    clear = FakeTerminal(f"n\n{account.password}\n")
    monkeypatch.setattr(sys, "stdin", clear)
    assert main(["login", account.url, "--email", account.email, "--password-stdin"]) == 1


def test_a_hanging_keyring_counts_as_none(
    capsys, monkeypatch, new_account, hanging_keyring: HangingKeyring
) -> None:
    account = new_account()
    start = time.monotonic()
    code, _out, err = login(capsys, monkeypatch, account)
    assert code == 1
    assert "did not answer within 3 s" in err
    assert time.monotonic() - start < 6

    start = time.monotonic()
    code, _out, err = login(capsys, monkeypatch, account, "--insecure-storage")
    assert code == 0, err
    assert time.monotonic() - start < 3  # the hung keyring is not waited on again


def test_a_token_file_others_can_read_is_not_used(
    capsys, monkeypatch, new_account, no_keyring, config: Path
) -> None:
    account = new_account()
    assert login(capsys, monkeypatch, account, "--insecure-storage")[0] == 0
    (config / "credentials" / "token").chmod(0o644)
    code, _out, err = run(capsys, monkeypatch, "auth", "status")
    assert code == 1
    assert "can be read by others (mode 0644)" in err


def test_env_token_works_without_login(
    capsys, monkeypatch, new_account, no_keyring, config: Path
) -> None:
    account = new_account()
    monkeypatch.setenv("FIELDTECH_TOKEN", account.token)
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", account.url)
    code, out, err = run(capsys, monkeypatch, "auth", "status")
    assert code == 0, err
    assert "from the FIELDTECH_TOKEN environment variable" in out
    assert f"E-mail:   {account.email}" in out
    assert f"(id {account.account_id})" in out
    assert "Accepted: yes" in out
    assert_never_shown(account.token, config, out, err)
    assert not session_path().exists()

    code, out, err = run(capsys, monkeypatch, "logout")
    assert code == 0
    assert "FIELDTECH_TOKEN is still set" in err
    assert server_accepts(account, account.token)  # logout never revokes a token it did not store


# -- a real process and a fast --help ---------------------------------------------------------


def test_login_and_status_in_a_real_process(new_account, tmp_path: Path) -> None:
    account = new_account()
    env = {**os.environ, "FIELDTECH_CONFIG_DIR": str(tmp_path / "proc-config"),
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",  # a headless box
           "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("FIELDTECH_TOKEN", None)

    def fieldtech(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fieldtech", *argv], input=stdin,
                              capture_output=True, text=True, env=env, timeout=60)

    refused = fieldtech("login", account.url, "--email", account.email, "--password-stdin",
                        stdin=account.password + "\n")
    assert refused.returncode == 1
    assert "--insecure-storage" in refused.stderr and "Traceback" not in refused.stderr

    done = fieldtech("login", account.url, "--email", account.email, "--password-stdin",
                     "--insecure-storage", stdin=account.password + "\n")
    assert done.returncode == 0, done.stderr
    token = (tmp_path / "proc-config" / "credentials" / "token").read_text().strip()

    status = fieldtech("auth", "status")
    assert status.returncode == 0, status.stderr
    assert f"E-mail:   {account.email}" in status.stdout
    assert "(insecure)" in status.stdout and "Warning" in status.stderr
    for text in (done.stdout, done.stderr, status.stdout, status.stderr):
        assert token not in text


def test_building_the_parser_imports_neither_httpx_nor_keyring() -> None:
    code = ("import sys; from fieldtech.cli import build_parser; build_parser();"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'keyring')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.stdout.strip() == "[]", result.stderr
