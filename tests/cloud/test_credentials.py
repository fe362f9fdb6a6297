"""Where tokens are kept (credentials.py) and how the app finds one (session.py).

No OS keyring daemon can run here, so these tests install real keyring backends (keyrings.py,
fixtures in conftest.py) with `keyring.set_keyring(...)`: one that keeps passwords in memory
(a working keyring), one that hangs (a locked keyring waiting for an unlock prompt). A headless
box is keyring's own `fail` backend, which raises NoKeyringError like the real thing.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyrings import ForgetfulKeyring, HangingKeyring, MemoryKeyring

from fieldtech.cloud import credentials
from fieldtech.cloud.credentials import InsecureTokenFile, KeyringUnavailable, Storage
from fieldtech.cloud.session import (
    Session,
    SignedIn,
    clear_session,
    connect,
    load_session,
    save_session,
    session_path,
    signed_in,
    store_token,
)
from fieldtech.domain.errors import NotSignedIn

TOKEN = "ftu_test-token-not-a-real-one-0123456789"


pytestmark = pytest.mark.usefixtures("no_env_token")


# -- the keyring ------------------------------------------------------------------------------


def test_keyring_round_trip(memory_keyring: MemoryKeyring) -> None:
    credentials.keyring_set("https://c.example u@x.example", TOKEN)
    assert memory_keyring.passwords == {("fieldtech", "https://c.example u@x.example"): TOKEN}
    assert credentials.keyring_get("https://c.example u@x.example") == TOKEN
    assert credentials.keyring_delete("https://c.example u@x.example") is True
    assert credentials.keyring_delete("https://c.example u@x.example") is False
    assert credentials.keyring_get("https://c.example u@x.example") is None


def test_no_keyring_is_reported_plainly(no_keyring: KeyringBackend) -> None:
    with pytest.raises(KeyringUnavailable, match="No OS keyring is available"):
        credentials.keyring_set("u", TOKEN)


def test_a_keyring_that_drops_the_token_is_not_trusted(use_keyring) -> None:
    use_keyring(ForgetfulKeyring())
    with pytest.raises(KeyringUnavailable, match="did not keep it"):
        credentials.keyring_set("u", TOKEN)


def test_a_hanging_keyring_is_given_up_on_and_not_waited_on_again(
    hanging_keyring: HangingKeyring,
) -> None:
    start = time.monotonic()
    with pytest.raises(KeyringUnavailable, match="did not answer within 3 s"):
        credentials.keyring_get("u")
    waited = time.monotonic() - start
    assert credentials.KEYRING_TIMEOUT_S <= waited < credentials.KEYRING_TIMEOUT_S + 1.5

    start = time.monotonic()
    with pytest.raises(KeyringUnavailable, match="did not answer"):
        credentials.keyring_set("u", TOKEN)
    assert time.monotonic() - start < 0.5
    assert hanging_keyring.calls == 1


def test_a_new_keyring_is_tried_after_one_hung(use_keyring) -> None:
    use_keyring(HangingKeyring())
    with pytest.raises(KeyringUnavailable):
        credentials.keyring_get("u")
    keyring.get_keyring().release.set()
    use_keyring(MemoryKeyring())
    credentials.keyring_set("u", TOKEN)
    assert credentials.keyring_get("u") == TOKEN


# -- the opt-in file --------------------------------------------------------------------------


def test_token_file_is_0600_in_a_0700_directory(config: Path) -> None:
    path = credentials.write_token_file(TOKEN)
    assert path == config / "credentials" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["token"]  # the temporary file was renamed, not left
    assert credentials.read_token_file() == TOKEN


def test_writing_tightens_a_directory_that_is_too_open(config: Path) -> None:
    folder = config / "credentials"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    credentials.write_token_file(TOKEN)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_token_file_others_can_read_is_refused(config: Path) -> None:
    path = credentials.write_token_file(TOKEN)
    path.chmod(0o644)
    with pytest.raises(InsecureTokenFile, match="can be read by others") as caught:
        credentials.read_token_file()
    assert TOKEN not in str(caught.value)


def test_replacing_the_token_file_keeps_it_private(config: Path) -> None:
    credentials.write_token_file("old")
    path = credentials.write_token_file(TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.read_token_file() == TOKEN
    assert credentials.delete_token_file() is True
    assert credentials.read_token_file() is None


# -- the session file and finding a token -----------------------------------------------------


def test_session_round_trip_never_holds_the_token(config: Path,
                                                  memory_keyring: MemoryKeyring) -> None:
    session = Session("https://cloud.example", "a@b.example", "acc-1", "Greenline",
                      Storage.KEYRING)
    save_session(session)
    store_token(session, TOKEN)
    assert load_session() == session
    text = session_path().read_text()
    assert "Greenline" in text and TOKEN not in text
    assert not (config / "settings.toml").exists()
    assert clear_session() is True
    assert load_session() is None


def test_a_broken_session_file_says_to_log_in_again(config: Path) -> None:
    config.mkdir(parents=True, exist_ok=True)
    session_path().write_text("url = ")
    with pytest.raises(NotSignedIn, match="Log in again"):
        load_session()


def test_nothing_signed_in_says_what_to_do(config: Path) -> None:
    with pytest.raises(NotSignedIn, match=r"fieldtech login URL.*FIELDTECH_TOKEN"):
        signed_in()


def test_which_token_wins(config: Path, memory_keyring: MemoryKeyring,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session("https://saved.example", "a@b.example")
    save_session(session)
    store_token(session, "from-keyring")
    assert signed_in() == SignedIn("https://saved.example", "from-keyring", Storage.KEYRING,
                                   session)

    monkeypatch.setenv("FIELDTECH_TOKEN", "from-env")
    who = signed_in()
    assert (who.url, who.token, who.storage) == ("https://saved.example", "from-env",
                                                 Storage.ENVIRONMENT)
    monkeypatch.setenv("FIELDTECH_CLOUD_URL", "https://ci.example/")
    assert signed_in().url == "https://ci.example"

    given = signed_in(token="given", url="https://demo.example")
    assert (given.token, given.storage) == ("given", Storage.MEMORY)


def test_env_token_without_a_server_says_so(config: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDTECH_TOKEN", "from-env")
    with pytest.raises(NotSignedIn, match="FIELDTECH_CLOUD_URL"):
        signed_in()


def test_a_saved_session_on_a_locked_keyring_is_not_signed_in(
    config: Path, use_keyring
) -> None:
    save_session(Session("https://saved.example", "a@b.example"))
    use_keyring(fail.Keyring())
    with pytest.raises(NotSignedIn, match=r"OS keyring.*FIELDTECH_TOKEN"):
        signed_in()


def test_the_token_is_not_in_reprs() -> None:
    who = SignedIn.with_token("https://demo.example/", TOKEN)
    assert who.url == "https://demo.example"
    assert TOKEN not in repr(who)
    assert TOKEN not in repr(who.api())


def test_connect_talks_to_the_cloud_with_the_stored_token(new_account,
                                                          memory_keyring: MemoryKeyring) -> None:
    account = new_account()
    session = Session(account.url, account.email, account.account_id)
    save_session(session)
    store_token(session, account.token)
    with connect(timeout_s=5) as api:
        assert api.me()["account_id"] == account.account_id
    with connect(token=account.token, url=account.url) as api:  # the demo's way
        assert api.me()["email"] == account.email


# -- the app's sign-in screen ------------------------------------------------------------------


def test_the_app_sign_in_keeps_its_token_in_the_keyring(
        new_account, memory_keyring: MemoryKeyring) -> None:
    from fieldtech.cloud.saved_sign_in import has_saved_sign_in
    from fieldtech.cloud.session import remember_sign_in

    account = new_account()
    assert not has_saved_sign_in()
    message, kept = remember_sign_in(account.url, account.email, account.token)
    assert kept and "OS keyring" in message
    assert has_saved_sign_in()
    assert connect().me()["email"] == account.email  # found again, as the next start does
    assert account.token not in session_path().read_text()


def test_the_app_sign_in_without_a_keyring_writes_nothing_and_says_so(
        new_account, no_keyring) -> None:
    from fieldtech.cloud.saved_sign_in import has_saved_sign_in
    from fieldtech.cloud.session import remember_sign_in

    account = new_account()
    message, kept = remember_sign_in(account.url, account.email, account.token)
    assert not kept and "this session only" in message and "--insecure-storage" in message
    assert not has_saved_sign_in() and not session_path().exists()
    assert not credentials.token_file_path().exists()
