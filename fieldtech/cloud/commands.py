"""`fieldtech login`, `fieldtech logout`, `fieldtech auth status` and `fieldtech sync`.

Only argparse here; httpx and keyring are imported inside the handlers, so `fieldtech --help`
and the TUI start fast. Expected failures end with a message and an exit code, never a
traceback: 1 = refused (wrong password, not signed in), 2 = cannot reach the server / bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fieldtech.cloud.api import CloudAPI, RetryPolicy
    from fieldtech.cloud.credentials import Storage
    from fieldtech.cloud.session import Session
    from fieldtech.cloud.sync import SyncProgress

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
EXIT_ATTENTION = 3  # sync: conflicts or refused edits wait for a person
QUICK_TIMEOUT_S = 10.0  # a person is waiting: don't retry for minutes like the sync engine

Handler = Callable[[argparse.Namespace], int]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("login", help="Sign in to a fieldtech cloud; the token goes in the OS "
                       "keyring.")
    p.add_argument("url", metavar="URL", help="The cloud's address, e.g. https://cloud.example.com")
    p.add_argument("--email", help="Default: asked for.")
    p.add_argument("--password-stdin", action="store_true",
                   help="Read the password from the first line of standard input (scripts).")
    p.add_argument("--insecure-storage", action="store_true",
                   help="Where no OS keyring works (a headless box), keep the token in a file "
                   "only you can read (0600) in the config dir.")
    p.set_defaults(handler=_login)

    p = sub.add_parser("logout", help="Revoke the token on the server and remove it here.")
    p.set_defaults(handler=_logout)

    auth = sub.add_parser("auth", help="Cloud sign-in: `fieldtech auth status`.")
    auth_sub = auth.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)
    p = auth_sub.add_parser("status", help="Which account and server, where the token is kept, "
                            "and whether the server still accepts it.")
    p.set_defaults(handler=_status)

    p = sub.add_parser("sync", help="Send queued edits to the cloud and fetch its changes; "
                       "exits non-zero when something needs attention (for cron).")
    p.add_argument("--quiet", action="store_true", help="Print only when something needs "
                   "attention.")
    p.set_defaults(handler=_sync)


def friendly(handler: Handler) -> Handler:
    """Expected cloud failures become a message on stderr and an exit code."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from fieldtech.cloud.credentials import InsecureTokenFile, KeyringUnavailable
        from fieldtech.domain.errors import (
            CloudProblem,
            CloudUnavailable,
            NotSignedIn,
        )

        try:
            return handler(args)
        except CloudUnavailable as exc:
            return _fail(exc.reason, EXIT_UNREACHABLE)
        except (NotSignedIn, CloudProblem, KeyringUnavailable, InsecureTokenFile) as exc:
            return _fail(str(exc), EXIT_REFUSED)
        except EOFError:  # Ctrl-D at a prompt
            return _fail("Cancelled.", EXIT_REFUSED)

    return run


# -- login ------------------------------------------------------------------------------------


@friendly
def _login(args: argparse.Namespace) -> int:
    from fieldtech.cloud import credentials
    from fieldtech.cloud import session as sessions
    from fieldtech.cloud.api import CloudAPI
    from fieldtech.cloud.credentials import Storage
    from fieldtech.domain.errors import CloudProblem

    url = _checked_url(args.url)
    if url is None:
        return EXIT_UNREACHABLE
    email = args.email or (_ask("E-mail: ") if _interactive() else "")
    if not email:
        return _fail("No e-mail given: pass it with --email.", EXIT_UNREACHABLE)
    storage = _choose_storage(url, email, args)
    if storage is None:
        return EXIT_REFUSED
    password = _read_password(args)
    if password is None:
        return EXIT_UNREACHABLE

    with CloudAPI(url, timeout=QUICK_TIMEOUT_S, retry=_quick_retry()) as api:
        try:
            answer = api.login(email, password)
        except CloudProblem as exc:
            if exc.status == 401:
                return _fail("Wrong e-mail or password.", EXIT_REFUSED)
            if exc.status in (404, 405):
                return _fail(f"No fieldtech cloud answers at {url} (HTTP {exc.status}). "
                             "Check the address.", EXIT_UNREACHABLE)
            return _fail(f"Not signed in: {exc}", EXIT_REFUSED)
        except (ValueError, KeyError):  # not JSON, or JSON of something else
            return _fail(f"{url} did not answer like a fieldtech cloud. Check the address.",
                         EXIT_UNREACHABLE)
    token = str(answer["token"])
    new = sessions.Session(url, str(answer["user"]["email"]), storage=storage)
    new = _with_account_facts(new, token)

    _sign_out_quietly()  # a previous login (this or another account): don't leave its token
    try:
        sessions.store_token(new, token)
    except (credentials.KeyringUnavailable, credentials.InsecureTokenFile) as exc:
        _revoke_quietly(url, token)
        return _fail(f"Not signed in: {exc} The new token was revoked.", EXIT_REFUSED)
    sessions.save_session(new)

    who = f"{new.account_name} ({new.email})" if new.account_name else new.email
    print(f"Signed in to {url} as {who}. The token is kept in "
          f"{credentials.describe(storage)}.")
    if storage is Storage.FILE:
        print(f"Warning: no OS keyring works here, so the token is in "
              f"{credentials.token_file_path()} (readable only by you). Anyone who can read "
              "that file can act as you in the cloud; `fieldtech logout` removes it.",
              file=sys.stderr)
    if credentials.env_token():
        print(f"Note: {credentials.TOKEN_ENV} is set, and is used instead while it is.",
              file=sys.stderr)
    return 0


def _checked_url(raw: str) -> str | None:
    """The URL without a trailing slash, or None after saying what is wrong with it."""
    import ipaddress

    from fieldtech.cloud.session import normalize_url, url_parts

    text = normalize_url(raw)
    parts = url_parts(text)
    if parts is None:
        example = text if "://" not in text else "cloud.example.com"
        _fail(f"{raw!r} is not a cloud address: give the whole URL, e.g. https://{example}",
              EXIT_UNREACHABLE)
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        _fail("Give the cloud address without a user name, password, ? or #.",
              EXIT_UNREACHABLE)
        return None
    if parts.scheme == "http":
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if not loopback:
            print("Warning: http:// sends the password and token unencrypted. Use https:// "
                  "unless this network is private.", file=sys.stderr)
    return text


def _choose_storage(url: str, email: str, args: argparse.Namespace) -> Storage | None:
    """The OS keyring if it works; otherwise a file, only if the user says so."""
    from fieldtech.cloud import credentials
    from fieldtech.cloud.credentials import Storage

    try:
        credentials.keyring_get(credentials.keyring_username(url, email))  # can we use it?
        return Storage.KEYRING
    except credentials.KeyringUnavailable as exc:
        reason = str(exc)
    if args.insecure_storage:
        return Storage.FILE
    if _interactive():
        answer = _ask(f"{reason}\nKeep the token in the file {credentials.token_file_path()} "
                      "instead, readable only by you? Anyone who can read that file can act "
                      "as you. [y/N] ")
        if answer.lower() in ("y", "yes"):
            return Storage.FILE
    _fail(f"Not signed in: {reason}\nWithout a keyring, either set {credentials.TOKEN_ENV} "
          f"(and {credentials.URL_ENV}) in the environment, or run `fieldtech login` again "
          "with --insecure-storage to keep the token in a file only you can read.",
          EXIT_REFUSED)
    return None


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("No password on standard input.", EXIT_UNREACHABLE)
            return None
        return password
    if not _interactive():
        _fail("No terminal to ask for the password: pipe it in with --password-stdin.",
              EXIT_UNREACHABLE)
        return None
    import getpass

    return getpass.getpass("Password: ") or None


def _with_account_facts(session: Session, token: str) -> Session:
    """Add the account's id and name (best effort: a customer login may not see the account)."""
    from fieldtech.cloud.api import CloudAPI
    from fieldtech.cloud.session import with_account
    from fieldtech.domain.errors import FieldtechError

    with CloudAPI(session.url, token, timeout=QUICK_TIMEOUT_S, retry=_quick_retry()) as api:
        try:
            me = api.me()
            session = with_account(session, me.get("account_id"), None)
            account = api.account()
            return with_account(session, account.get("id"), account.get("name"))
        except (FieldtechError, ValueError):
            return session


# -- logout -----------------------------------------------------------------------------------


@friendly
def _logout(args: argparse.Namespace) -> int:
    from fieldtech.cloud import credentials
    from fieldtech.cloud import session as sessions
    from fieldtech.domain.errors import NotSignedIn

    try:
        session = sessions.load_session()
    except NotSignedIn as exc:  # a broken cloud.toml: still clean up what we can
        print(exc, file=sys.stderr)
        session = None
    if session is None:
        removed = credentials.delete_token_file()
        sessions.clear_session()
        print("Removed the token file." if removed else "Not signed in; nothing to remove.")
        _note_env_token()
        return 0

    lines = []
    try:
        token = sessions.load_token(session)
    except NotSignedIn as exc:
        token = None
        lines.append(f"Could not read the token to revoke it: {exc}")
    if token:
        lines.append(_revoke(session.url, token))
    problems = sessions.forget_token(session)
    sessions.clear_session()
    where = credentials.describe(session.storage)
    if problems:
        lines.extend(problems)
    else:
        lines.append(f"Removed it from {where}.")
    print(f"Signed out of {session.url} ({session.email}).")
    for line in lines:
        print(line)
    _note_env_token()
    return 0


def _revoke(url: str, token: str) -> str:
    from fieldtech.cloud.api import CloudAPI
    from fieldtech.domain.errors import CloudProblem, CloudUnavailable, NotSignedIn

    try:
        with CloudAPI(url, token, timeout=QUICK_TIMEOUT_S, retry=_quick_retry()) as api:
            api.revoke_current_token()
    except NotSignedIn:
        return "The server had already revoked the token."
    except CloudUnavailable as exc:
        return (f"The token could NOT be revoked on the server: {exc.reason} It stays "
                "valid there until revoked (from another signed-in device).")
    except (CloudProblem, ValueError) as exc:
        return f"The token could NOT be revoked on the server ({exc})."
    return "The token was revoked on the server."


def _revoke_quietly(url: str, token: str) -> None:
    from fieldtech.domain.errors import FieldtechError

    with contextlib.suppress(FieldtechError):  # _revoke already turns failures into text
        _revoke(url, token)


def _sign_out_quietly() -> None:
    """Revoke and remove the previous session's token, if there is one we can read."""
    from fieldtech.cloud import session as sessions
    from fieldtech.domain.errors import NotSignedIn

    try:
        old = sessions.load_session()
        token = sessions.load_token(old) if old else None
    except NotSignedIn:
        return
    if old is None:
        return
    if token:
        _revoke_quietly(old.url, token)
    sessions.forget_token(old)
    sessions.clear_session()


def _note_env_token() -> None:
    from fieldtech.cloud.credentials import TOKEN_ENV, env_token

    if env_token():
        print(f"{TOKEN_ENV} is still set in this environment, so fieldtech keeps using it; "
              "unset it to sign out completely (logout does not revoke it).", file=sys.stderr)


# -- auth status ------------------------------------------------------------------------------


@friendly
def _status(args: argparse.Namespace) -> int:
    from fieldtech.cloud import credentials
    from fieldtech.cloud import session as sessions
    from fieldtech.cloud.credentials import Storage
    from fieldtech.domain.errors import CloudProblem, CloudUnavailable, NotSignedIn

    try:
        who = sessions.signed_in()
    except NotSignedIn as exc:
        return _fail(str(exc), EXIT_REFUSED)

    session = who.session
    email = session.email if session else None
    account_id = session.account_id if session else None
    name = session.account_name if session else None
    code = 0
    with who.api(timeout_s=QUICK_TIMEOUT_S, retry=_quick_retry()) as api:
        try:
            if session is None:  # a token from the environment: ask whose it is
                me = api.me()
                email, account_id = me.get("email"), me.get("account_id")
            account = _account_or_none(api)
            if account:
                account_id, name = account.get("id"), account.get("name")
            check = "yes (checked just now)"
        except NotSignedIn:
            check = "NO: the server no longer accepts this token. Log in again."
            code = EXIT_REFUSED
        except CloudUnavailable as exc:
            check = f"not checked: offline ({exc.reason})"
        except (CloudProblem, ValueError) as exc:
            check = f"not checked: the server answered with an error ({exc})"

    account_text = name or "(unknown)"
    if account_id:
        account_text += f" (id {account_id})"
    print(f"Account:  {account_text}")
    print(f"E-mail:   {email or '(unknown)'}")
    print(f"Server:   {who.url}")
    print(f"Token:    from {who.where()}")
    print(f"Accepted: {check}")
    if who.storage is Storage.ENVIRONMENT:
        try:
            saved = sessions.load_session()
        except NotSignedIn:
            saved = None
        if saved:
            print(f"(A login for {saved.email} on {saved.url} is also saved; "
                  f"{credentials.TOKEN_ENV} takes precedence while it is set.)")
    if who.storage is Storage.FILE:
        print(f"Warning: the token is in a file ({credentials.token_file_path()}), not in an OS "
              "keyring. Anyone who can read it can act as you; `fieldtech logout` removes it.",
              file=sys.stderr)
    return code


def _account_or_none(api: CloudAPI) -> dict | None:
    """GET /v1/account; None for a login that may not see it (a customer's: 403)."""
    from fieldtech.domain.errors import CloudProblem

    try:
        return api.account()
    except CloudProblem as exc:
        if exc.status == 403:
            return None
        raise


# -- small shared pieces ----------------------------------------------------------------------


def _quick_retry() -> RetryPolicy:
    from fieldtech.cloud.api import RetryPolicy

    return RetryPolicy(attempts=2, base_s=0.3, cap_s=1.0)


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _ask(prompt: str) -> str:
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


# -- sync -------------------------------------------------------------------------------------


class _ProgressLines:
    """How far a long sync has come, on stderr (stdout keeps the one-line summary for cron):
    shown once a pull has a second page or a push a second batch, then at most twice a
    second; rewritten in place on a terminal, one line each elsewhere."""

    EVERY_S = 0.5

    def __init__(self, out: Any):
        self.out, self._shown_at, self._last, self._started = out, 0.0, "", False
        self._tty = out.isatty()
        self._batches = 0

    def __call__(self, p: SyncProgress) -> None:
        self._batches += p.phase == "push"
        if not self._started and not (p.more or self._batches > 1):
            return  # a short sync prints nothing but its summary
        self._started = True
        now = time.monotonic()
        text = f"Syncing: {p.describe()}"
        if now - self._shown_at < self.EVERY_S and p.more:
            self._last = text
            return
        self._shown_at, self._last = now, ""
        self._show(text)

    def done(self) -> None:
        if self._last:
            self._show(self._last.rstrip("…"))
        if self._started and self._tty:
            print(file=self.out)

    def _show(self, text: str) -> None:
        if self._tty:
            print(f"\r{text}\x1b[K", end="", file=self.out, flush=True)
        else:
            print(text, file=self.out, flush=True)


@friendly
def _sync(args: argparse.Namespace) -> int:
    """One sync of the local store, e.g. from cron: "42 applied, 1 conflict, 1 needs a plan
    upgrade". 0 = all done; 1 = sign in again; 2 = cloud unreachable; 3 = needs attention."""
    from fieldtech.cloud.session import signed_in
    from fieldtech.cloud.sync import SyncEngine
    from fieldtech.offline_store.paths import data_dir, store_path
    from fieldtech.offline_store.store import Store
    from fieldtech.services.edits import EditService
    from fieldtech.services.work_orders import WorkOrderService

    who = signed_in()
    with Store(store_path(data_dir(args.data_dir))) as store, who.api() as api:
        held = store.sync_value("account_id")
        wanted = who.session.account_id if who.session else None
        if held and wanted and held != wanted:
            return _fail(
                f"This store holds another cloud account ({held}) than the one you are signed "
                f"in to ({wanted}). Use another --data-dir for this account.", EXIT_REFUSED)
        progress = None if args.quiet else _ProgressLines(sys.stderr)
        engine = SyncEngine(store, api, progress=progress)
        report = engine.sync()
        # What the merge decides for the person (a work order's time entry follows the order
        # as merged) is settled and sent now, as the app does, not left on the pending screen.
        if not report.error and WorkOrderService(EditService(store)).settle_after_sync(report):
            report = report.then(engine.sync())
        if progress is not None:
            progress.done()
        left = store.pending_count()
    line = f"{report.summary().rstrip('.')}. {left} edit{'s' if left != 1 else ''} pending."
    if report.signed_out:
        return _fail(f"{line}\n{report.error} Run: fieldtech login {who.url}", EXIT_REFUSED)
    if report.error:
        return _fail(line, EXIT_UNREACHABLE)
    if report.needs_attention:
        from fieldtech.services.settings import Settings  # issue 12: name the key (u)
        return _fail(f"{line} Open fieldtech and press {Settings.load().key_for('pending', 'u')}"
                     " (pending changes) to decide.",
                     EXIT_ATTENTION)
    if not args.quiet:
        print(line)
    return 0
