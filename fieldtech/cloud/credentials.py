"""Where a cloud token is kept: the OS keyring, the FIELDTECH_TOKEN variable, or an opt-in file.

The keyring is the default. Every keyring call runs on a daemon thread with a time limit,
because a locked keyring can wait forever for an unlock prompt nobody sees; a call that gives
up counts as "no keyring". The file (0600 inside a 0700 directory) is only written when the user
asked for it. Nothing here logs or prints a token, and no message contains one.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from fieldtech.domain.errors import FieldtechError
from fieldtech.offline_store.paths import config_dir

SERVICE = "fieldtech"  # the keyring's service name; the username is "<url> <e-mail>"
TOKEN_ENV = "FIELDTECH_TOKEN"
URL_ENV = "FIELDTECH_CLOUD_URL"
KEYRING_TIMEOUT_S = 3.0
TOKEN_FILE = Path("credentials") / "token"

T = TypeVar("T")


class Storage(StrEnum):
    """Where the token of a session is kept (written to cloud.toml as this value)."""

    KEYRING = "keyring"
    FILE = "file"
    ENVIRONMENT = "environment"
    MEMORY = "memory"  # passed in by the caller (the demo); never stored


class KeyringUnavailable(FieldtechError):
    """The OS keyring cannot be used here (none installed, locked, or it did not answer)."""


class InsecureTokenFile(FieldtechError):
    """The token file exists but others could read it (or it is not ours): not used."""


def describe(storage: Storage, directory: Path | None = None) -> str:
    """Where the token is, in the words `auth status` uses."""
    if storage is Storage.KEYRING:
        return "the OS keyring"
    if storage is Storage.ENVIRONMENT:
        return f"the {TOKEN_ENV} environment variable"
    if storage is Storage.FILE:
        return f"the file {token_file_path(directory)} (insecure)"
    return "memory only (given by the program that started this)"


def keyring_username(url: str, email: str) -> str:
    return f"{url.rstrip('/')} {email}"


def env_token() -> str | None:
    return os.environ.get(TOKEN_ENV, "").strip() or None


# -- the OS keyring ---------------------------------------------------------------------------

_hung_backend: object | None = None  # a backend that timed out once is not waited on again
_DISCOVERY_HUNG = object()  # finding the backend itself did not finish


def keyring_get(username: str) -> str | None:
    """The stored token, or None. Raises KeyringUnavailable."""
    return _keyring_call(lambda kr: kr.get_password(SERVICE, username))


def keyring_set(username: str, token: str) -> None:
    """Store, then read back: some backends (an empty chain) accept a token and drop it."""

    def store(kr: Any) -> bool:
        kr.set_password(SERVICE, username, token)
        return kr.get_password(SERVICE, username) == token

    if not _keyring_call(store):
        raise KeyringUnavailable("The OS keyring accepted the token but did not keep it.")


def keyring_delete(username: str) -> bool:
    """True if a token was there and is gone. Raises KeyringUnavailable."""

    def delete(kr: Any) -> bool:
        from keyring.errors import PasswordDeleteError

        if kr.get_password(SERVICE, username) is None:
            return False
        try:
            kr.delete_password(SERVICE, username)
        except PasswordDeleteError:
            return False
        return True

    return _keyring_call(delete)


def _keyring_call(operation: Callable[[Any], T]) -> T:
    global _hung_backend
    if _hung_backend is _DISCOVERY_HUNG:
        raise KeyringUnavailable(_timeout_message())
    if _hung_backend is not None:
        import keyring  # already imported by the call that hung

        if keyring.get_keyring() is _hung_backend:  # not replaced since: do not wait again
            raise KeyringUnavailable(_timeout_message())
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            import keyring  # inside the thread: finding the backend can block too

            backend = keyring.get_keyring()
            outcome["backend"] = backend
            outcome["value"] = operation(backend)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="fieldtech-keyring", daemon=True)
    thread.start()
    thread.join(KEYRING_TIMEOUT_S)
    if thread.is_alive():
        _hung_backend = outcome.get("backend", _DISCOVERY_HUNG)
        raise KeyringUnavailable(_timeout_message())
    if "error" in outcome:
        raise KeyringUnavailable(_keyring_reason(outcome["error"])) from None
    return outcome["value"]


def _timeout_message() -> str:
    return (f"The OS keyring did not answer within {KEYRING_TIMEOUT_S:g} s "
            "(it may be locked and waiting for a password).")


def _keyring_reason(exc: BaseException) -> str:
    from keyring.errors import NoKeyringError

    if isinstance(exc, NoKeyringError):
        return "No OS keyring is available here (no Secret Service, Keychain or Credential Locker)."
    # A backend's own error (D-Bus, locked collection…): its type says enough, and its text
    # could in theory echo what it was given.
    return f"The OS keyring failed ({type(exc).__name__})."


# -- the opt-in file --------------------------------------------------------------------------


def token_file_path(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / TOKEN_FILE


def write_token_file(token: str, directory: Path | None = None) -> Path:
    """Write atomically, 0600 from the first byte, inside a 0700 directory we own."""
    path = token_file_path(directory)
    folder = path.parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    if _posix():
        info = folder.stat()
        if info.st_uid != os.getuid():
            raise InsecureTokenFile(f"{folder} belongs to another user; not writing a token "
                                    "there. Remove it, or set FIELDTECH_CONFIG_DIR.")
        if stat.S_IMODE(info.st_mode) != 0o700:
            folder.chmod(0o700)  # ours and too open (or too closed): put it right
    tmp = folder / f".token-{os.urandom(8).hex()}"  # secrets' token_hex (its hmac: ~3 ms of start)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(token + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_token_file(directory: Path | None = None) -> str | None:
    """The token, None when there is no file; refuses a file others can read."""
    path = token_file_path(directory)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InsecureTokenFile(f"{path} could not be opened ({exc.strerror}).") from None
    with os.fdopen(fd, encoding="utf-8") as f:
        if _posix():
            info = os.fstat(f.fileno())
            mode = stat.S_IMODE(info.st_mode)
            if info.st_uid != os.getuid() or mode & 0o077:
                raise InsecureTokenFile(
                    f"{path} can be read by others (mode {mode:04o}) or is not yours, so it "
                    "is not used. Run `fieldtech logout`, then log in again.")
        return f.read().strip() or None


def delete_token_file(directory: Path | None = None) -> bool:
    path = token_file_path(directory)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _posix() -> bool:
    return sys.platform != "win32"
