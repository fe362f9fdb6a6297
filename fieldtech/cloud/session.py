"""Who is signed in to which cloud, and the one way the app gets a connection: `connect()`.

The non-secret facts (server, e-mail, account, where the token is kept) live in `cloud.toml` in
the config dir. The token itself never does: it is in the OS keyring, the FIELDTECH_TOKEN
variable (with FIELDTECH_CLOUD_URL, for cron and CI), or an opt-in file (see credentials.py).

Reading the keyring can take up to credentials.KEYRING_TIMEOUT_S: call `connect()` from a worker
thread in the TUI, not from the event loop.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from fieldtech.cloud import credentials
from fieldtech.cloud.credentials import (
    URL_ENV,
    InsecureTokenFile,
    KeyringUnavailable,
    Storage,
    describe,
    env_token,
    keyring_username,
)
from fieldtech.cloud.saved_sign_in import session_path
from fieldtech.domain.errors import NotSignedIn

if TYPE_CHECKING:
    from fieldtech.cloud.api import CloudAPI, RetryPolicy

HOW_TO_SIGN_IN = (f"Run `fieldtech login URL`, or set {credentials.TOKEN_ENV} and {URL_ENV} "
                  "(for scripts).")


@dataclass(frozen=True)
class Session:
    """The signed-in account as `fieldtech login` left it. Holds no token."""

    url: str
    email: str
    account_id: str | None = None
    account_name: str | None = None
    storage: Storage = Storage.KEYRING

    @property
    def keyring_username(self) -> str:
        return keyring_username(self.url, self.email)


@dataclass(frozen=True)
class SignedIn:
    """A server and a token to use with it, and where the token came from."""

    url: str
    token: str = field(repr=False)
    storage: Storage
    session: Session | None = None  # None when the token came from the environment or caller

    @classmethod
    def with_token(cls, url: str, token: str) -> SignedIn:
        """An in-memory sign-in (the demo): nothing is read or stored."""
        return cls(normalize_url(url), token, Storage.MEMORY)

    def api(self, timeout_s: float = 15.0, retry: RetryPolicy | None = None) -> CloudAPI:
        from fieldtech.cloud.api import CloudAPI

        return CloudAPI(self.url, self.token, timeout=timeout_s, retry=retry)

    def where(self, directory: Path | None = None) -> str:
        return describe(self.storage, directory)


def normalize_url(url: str) -> str:
    return url.strip().rstrip("/")


def url_parts(url: str) -> SplitResult | None:
    """`url` split, if it is an http(s) address with a host (and a valid port); else None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            ch.isspace() for ch in url):
        return None
    return parts


def _checked_server(server: str, where: str) -> str:
    """`server` normalized; NotSignedIn saying where it came from if it is not a usable URL."""
    url = normalize_url(server)
    parts = url_parts(url)
    if parts is None or parts.username or parts.password or parts.query or parts.fragment:
        raise NotSignedIn(f"{where} is not an http(s) address: {server!r}. Give the cloud's "
                          "whole address, e.g. https://cloud.example.com.")
    return url


def load_session(directory: Path | None = None) -> Session | None:
    """The saved session, None if there is none. A broken file raises NotSignedIn."""
    path = session_path(directory)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        session = Session(
            url=normalize_url(str(data["url"])),
            email=str(data["email"]),
            account_id=_str_or_none(data.get("account_id")),
            account_name=_str_or_none(data.get("account_name")),
            storage=Storage(data.get("storage", Storage.KEYRING)),
        )
        _checked_server(session.url, f"The server in {path}")
    except FileNotFoundError:
        return None
    except NotSignedIn as exc:
        raise NotSignedIn(f"{exc} Log in again: `fieldtech login URL`.") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise NotSignedIn(f"{path} could not be read ({exc}). Log in again: "
                          "`fieldtech login URL`.") from None
    if session.storage not in (Storage.KEYRING, Storage.FILE):
        raise NotSignedIn(f"{path} names an unknown token place. Log in again.")
    return session


def save_session(session: Session, directory: Path | None = None) -> Path:
    """Write cloud.toml atomically. The token is not a field of Session, so it cannot leak."""
    path = session_path(directory)
    data = {"url": session.url, "email": session.email, "storage": str(session.storage)}
    if session.account_id:
        data["account_id"] = session.account_id
    if session.account_name:
        data["account_name"] = session.account_name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    import tomli_w  # only to save: not on the start's path

    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
    return path


def clear_session(directory: Path | None = None) -> bool:
    try:
        session_path(directory).unlink()
    except FileNotFoundError:
        return False
    return True


def with_account(session: Session, account_id: str | None, name: str | None) -> Session:
    return replace(session, account_id=account_id or session.account_id,
                   account_name=name or session.account_name)


def signed_in(token: str | None = None, url: str | None = None,
              directory: Path | None = None) -> SignedIn:
    """The token to use, in this order: `token` given, FIELDTECH_TOKEN, the saved session.

    Raises NotSignedIn saying what to do when there is none (or it cannot be read).
    """
    if token:
        session = None if url else load_session(directory)
        server = url or (session.url if session else None)
        if not server:
            raise NotSignedIn("A token was given without the server it is for.")
        return SignedIn(_checked_server(server, "The server"), token, Storage.MEMORY)
    if from_env := env_token():
        session = None if (url or os.environ.get(URL_ENV)) else load_session(directory)
        server = url or os.environ.get(URL_ENV) or (session.url if session else None)
        if not server:
            raise NotSignedIn(f"{credentials.TOKEN_ENV} is set but not the server it is for: "
                              f"set {URL_ENV} too (e.g. https://cloud.example.com).")
        where = ("The server" if url else URL_ENV if os.environ.get(URL_ENV)
                 else f"The server in {session_path(directory)}")
        return SignedIn(_checked_server(server, where), from_env, Storage.ENVIRONMENT)
    session = load_session(directory)
    if session is None:
        raise NotSignedIn(f"Not signed in to a fieldtech cloud. {HOW_TO_SIGN_IN}")
    stored = load_token(session, directory)
    if not stored:
        raise NotSignedIn(f"Signed in to {session.url} as {session.email}, but the token is no "
                          f"longer in {describe(session.storage, directory)}. Log in again.")
    return SignedIn(session.url, stored, session.storage, session)


def connect(token: str | None = None, url: str | None = None, timeout_s: float = 15.0,
            retry: RetryPolicy | None = None, directory: Path | None = None) -> CloudAPI:
    """A CloudAPI for the signed-in account (see `signed_in`). Raises NotSignedIn."""
    return signed_in(token, url, directory).api(timeout_s, retry)


def load_token(session: Session, directory: Path | None = None) -> str | None:
    """The session's stored token. Raises NotSignedIn when its store cannot be read."""
    try:
        if session.storage is Storage.FILE:
            return credentials.read_token_file(directory)
        return credentials.keyring_get(session.keyring_username)
    except (KeyringUnavailable, InsecureTokenFile) as exc:
        raise NotSignedIn(f"{exc} The token for {session.url} is kept in "
                          f"{describe(session.storage, directory)}. Unlock it, or set "
                          f"{credentials.TOKEN_ENV}.") from None


def store_token(session: Session, token: str, directory: Path | None = None) -> None:
    """Keep the token where `session.storage` says. Raises KeyringUnavailable/InsecureTokenFile."""
    if session.storage is Storage.FILE:
        credentials.write_token_file(token, directory)
    else:
        credentials.keyring_set(session.keyring_username, token)


def forget_token(session: Session, directory: Path | None = None) -> list[str]:
    """Remove the session's token from wherever it may be; problems come back as messages."""
    problems = []
    if session.storage is Storage.KEYRING:
        try:
            credentials.keyring_delete(session.keyring_username)
        except KeyringUnavailable as exc:
            problems.append(f"{exc} The token could not be removed from it.")
    credentials.delete_token_file(directory)  # wherever the session says: a file is never kept
    return problems


def _str_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def remember_sign_in(url: str, email: str, token: str,
                     directory: Path | None = None) -> tuple[str, bool]:
    """Keep a token the app's sign-in screen got, in the OS keyring as `fieldtech login` does.

    → (what to tell the user, whether it was kept). Without a working keyring nothing is
    written anywhere: the app keeps the token in memory for this session and says so."""
    new = Session(normalize_url(url), email)
    try:
        old = load_session(directory)
    except NotSignedIn:  # a broken cloud.toml: replaced below
        old = None
    try:
        store_token(new, token, directory)
    except (KeyringUnavailable, InsecureTokenFile) as exc:
        return (f"Signed in as {email} for this session only: {exc} To stay signed in, use "
                "`fieldtech login --insecure-storage` or FIELDTECH_TOKEN.", False)
    if old is not None and old.keyring_username != new.keyring_username:
        forget_token(old, directory)
    save_session(new, directory)
    return f"Signed in as {email}; the token is kept in the OS keyring.", True
