"""Whether a sign-in is saved, and whether a `fieldtech login` elsewhere changed it: what the
app asks at every start. Apart from `session` (its records, TOML and the keyring's way in: ~2 ms
of every start), which is read when the app first connects, in a worker after the first paint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from fieldtech.cloud.credentials import TOKEN_ENV, env_token
from fieldtech.domain.errors import NotSignedIn
from fieldtech.offline_store.paths import config_dir

if TYPE_CHECKING:
    from fieldtech.cloud.session import SignedIn

SESSION_FILE = "cloud.toml"


def session_path(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / SESSION_FILE


class SignInWatch:
    """Notices a `fieldtech login` made in another terminal while the app runs: the saved
    session file changed and now leads to a token other than the one in use. `changed()` stats
    one file (cheap) and reads the keyring only when the file changed: call it from a worker."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self.token_in_use: str | None = None  # the app's own sign-in (L) sets it
        self._stamp = self._read_stamp()

    def _read_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = session_path(self.directory).stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def changed(self) -> SignedIn | None:
        """The new sign-in, once, or None: nothing new, signed out (the old token is refused
        at the next sync, which asks to sign in), unreadable, or FIELDTECH_TOKEN set (it wins
        over a saved login, so a new login changes nothing)."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        if stamp is None or env_token():
            return None
        from fieldtech.cloud.session import signed_in

        try:
            who = signed_in(directory=self.directory)
        except NotSignedIn:
            return None
        if who.token == self.token_in_use:
            return None  # our own sign-in, written down
        self.token_in_use = who.token
        return who


def has_saved_sign_in(directory: Path | None = None) -> bool:
    """Whether the app should try the cloud at start (cheap: no keyring, no network)."""
    return bool(os.environ.get(TOKEN_ENV)) or session_path(directory).exists()
