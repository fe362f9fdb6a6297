"""The app's link to the cloud: whether it is connected, its state, and one sync at a time.

No textual here: the TUI calls `sync()` and `call()` from thread workers and paints `status()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from fieldtech.domain.errors import CloudProblem, CloudUnavailable, NotSignedIn

if TYPE_CHECKING:  # httpx and the engine load with the first sync, not with the first paint
    from fieldtech.cloud.api import CloudAPI
    from fieldtech.cloud.sync import SyncProgress, SyncReport
    from fieldtech.offline_store.store import Store

T = TypeVar("T")
WATCH_WAIT_S = 25  # a long-poll's wait: the cloud answers sooner when something happens
MIN_WATCH_GAP_S = 2.0
CloudFactory = Callable[[], "CloudAPI"]


class LinkState(StrEnum):
    """What the header says about the cloud, in the technician's words."""

    LOCAL = "local only"
    ONLINE = "online"
    SYNCING = "syncing…"
    OFFLINE = "offline"
    SIGN_IN = "sign in (L)"


@dataclass(frozen=True)
class LinkStatus:
    state: LinkState
    last_sync_at: datetime | None
    now: datetime
    progress: SyncProgress | None = None  # how far a long sync has come, while it runs

    def state_text(self, short: bool = False) -> str:
        """"syncing… 5,000 changes pulled, 1.2 MB…" during a long sync, else the state."""
        if self.state is not LinkState.SYNCING or self.progress is None:
            return self.state.value
        p = self.progress
        return f"{self.state.value} {p.size_text() if short else p.describe()}"

    def age_text(self, short: bool = False) -> str:
        """"synced 2 min ago" ("2m ago" when `short`); empty when local only."""
        if self.state is LinkState.LOCAL:
            return ""
        if self.last_sync_at is None:
            return "never synced"
        seconds = max(0, int((self.now - self.last_sync_at).total_seconds()))
        if seconds < 60:
            amount = "just now"
        else:
            for size, long_unit, short_unit in ((86400, "d", "d"), (3600, "h", "h"),
                                                (60, "min", "m")):
                if seconds >= size:
                    n = seconds // size
                    amount = f"{n}{short_unit} ago" if short else f"{n} {long_unit} ago"
                    break
        return amount if short else f"synced {amount}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CloudLink:
    """One contractor's cloud connection as the app uses it (or none: local only)."""

    def __init__(self, store: Store, factory: CloudFactory | None = None,
                 clock: Callable[[], datetime] = _utcnow):
        self.store = store
        self.factory = factory
        self.clock = clock
        self.state = LinkState.ONLINE if factory else LinkState.LOCAL
        self.last_sync_at: datetime | None = None
        self.last_report: SyncReport | None = None
        self.base_url: str | None = None  # known after the first call: prefills the login
        self.user_email: str | None = None  # who signed in, when this session knows it
        self.progress: SyncProgress | None = None  # of the sync running now, if it told any
        self._sync_lock = threading.Lock()
        self._account_checked: CloudFactory | None = None  # the sign-in whose account matched

    @property
    def connected(self) -> bool:
        return self.factory is not None

    @property
    def busy(self) -> bool:
        return self._sync_lock.locked()

    def connect(self, factory: CloudFactory) -> None:
        self.factory = factory
        self.state = LinkState.ONLINE

    def status(self) -> LinkStatus:
        return LinkStatus(self.state, self.last_sync_at, self.clock(), self.progress)

    def load(self) -> None:
        """Read when the store last synced (call from a worker)."""
        self.last_sync_at = _parse(self.store.sync_value("last_sync_at"))

    def sync(self, started: Callable[[], None] | None = None,
             progressed: Callable[[], None] | None = None) -> SyncReport | None:
        """One sync in the calling thread; None when another is already running. `started` is
        called once the state says syncing, `progressed` after each page or batch of a long
        sync, once `status()` tells how far it came (both to repaint the header)."""
        if self.factory is None or not self._sync_lock.acquire(blocking=False):
            return None
        from fieldtech.cloud.sync import SyncEngine, SyncReport

        before = self.state
        try:
            self.state = LinkState.SYNCING
            if started is not None:
                started()
            factory = self.factory  # connect() may change it while this sync runs
            try:  # a factory may read a keyring, and find no token there
                api = factory()
            except (NotSignedIn, CloudUnavailable) as exc:
                return self._settle(SyncReport(error=str(exc), signed_out=isinstance(
                    exc, NotSignedIn), unreachable=isinstance(exc, CloudUnavailable)))
            self.base_url = api.base_url
            def tell(progress: SyncProgress) -> None:
                self.progress = progress
                if progressed is not None:
                    progressed()

            try:
                engine = SyncEngine(self.store, api, progress=tell,
                                    check_account=self._account_checked is not factory)
                report = engine.sync()
            finally:
                api.close()
                self.progress = None
            if not engine.check_account:  # checked and the same account: not again
                self._account_checked = factory
            return self._settle(report)
        except BaseException:
            self.state = before
            raise
        finally:
            self._sync_lock.release()

    def _settle(self, report: SyncReport) -> SyncReport:
        self.last_report = report
        if report.signed_out:
            self.state = LinkState.SIGN_IN
        elif report.unreachable:
            self.state = LinkState.OFFLINE
        else:
            self.state = LinkState.ONLINE
        self.load()
        return report

    def news(self, wait: float) -> bool:
        """Long-poll the cloud's change log (up to `wait` seconds, holding no lock): True when
        something came in after our cursor, so a sync now pulls it. Raises the cloud's errors
        as `call` does."""
        cursor = int(self.store.sync_value("cursor") or 0)
        page = self.call(lambda api: api.changes(cursor, limit=1, wait=wait))
        return bool(page.get("changes")) or int(page.get("cursor") or cursor) != cursor

    def watch(self, on_news: Callable[[], bool], running: Callable[[], bool]) -> None:
        """Long-poll the cloud for as long as `running()`, calling `on_news()` (→ False to
        stop) when it has something new: an incident, a device state, a colleague's edit.
        Meant for a daemon thread: a 25 s wait must never hold up quitting, and every edit is
        saved before it is sent, so dying mid-request loses nothing."""
        pause = 0.0
        while running():
            time.sleep(pause)
            if not self.connected or self.state is LinkState.SIGN_IN:
                pause = 1.0
                continue
            if self.busy:  # a sync is pulling already: look again as soon as it is done
                pause = 0.05
                continue
            started = time.monotonic()
            try:
                news = self.news(wait=WATCH_WAIT_S)
            except NotSignedIn:
                pause = 30.0
                continue
            except (CloudUnavailable, CloudProblem):
                pause = 15.0  # the periodic sync and the header say the rest
                continue
            except Exception:  # the app quit during the wait (its store is closed), or worse:
                if not running():  # never a traceback over the screen; the periodic sync
                    return  # still runs and says what is wrong
                pause = 30.0
                continue
            if news:
                if not on_news():
                    return
                pause = 0.0
            else:  # a cloud without long-polls answers at once: never poll faster than this
                pause = max(0.0, MIN_WATCH_GAP_S - (time.monotonic() - started))

    def call(self, request: Callable[[CloudAPI], T]) -> T:
        """One request outside a sync (plans, account). Raises the cloud's errors, after
        noting what they say about the link; NotSignedIn when there is no cloud at all."""
        if self.factory is None:
            raise NotSignedIn("This is a local-only store: sign in to a cloud account (L).")
        api = None
        try:
            api = self.factory()
            self.base_url = api.base_url
            result = request(api)
        except CloudUnavailable:
            self.state = LinkState.OFFLINE
            raise
        except NotSignedIn:
            self.state = LinkState.SIGN_IN
            raise
        finally:
            if api is not None:
                api.close()
        if self.state in (LinkState.OFFLINE, LinkState.SIGN_IN):  # it answered: we are back
            self.state = LinkState.ONLINE
        return result


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
