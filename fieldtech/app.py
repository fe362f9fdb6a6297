"""The Textual app: start-up, routing between screens, the sync worker and app-wide keys.

Screens own their flows (forms, edits, deletions) and tell the app what happened with the
messages in `screens/messages.py`; they reach app-wide services through `screens/services.py`,
never through this class. The app reads the fleet in workers and routes.
"""

from __future__ import annotations

import gc
import select
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import Notify, SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Input
from textual.widgets._toast import Toast, ToastRack

# The controller screen, the switcher and the form dialogs (DataTable, TabbedContent, Select,
# Switch, …) are imported on first use, not here: they are not needed for the first paint of
# the fleet (the switcher comes with the controller screen, in the read after that paint).
from fieldtech.cloud.link import CloudFactory, CloudLink, LinkState
from fieldtech.domain.bulk import collector_paused
from fieldtech.offline_store.live import fleet_health
from fieldtech.offline_store.store import FleetRow, Store
from fieldtech.screens import messages as m
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.frames import DrawAfterBatches
from fieldtech.screens.services import HeaderWords, OnSiteOptions, Services
from fieldtech.services.fleet import Fleet
from fieldtech.services.fleet_index import FleetIndex
from fieldtech.services.settings import SYNC_EVERY_S, Settings
from fieldtech.terminal.output import SparingTerminal
from fieldtech.widgets.fleet_list import GroupedLines, grouped_lines
from fieldtech.widgets.keys_in_order import KeysInOrder

if TYPE_CHECKING:
    from fieldtech.cloud.saved_sign_in import SignInWatch
    from fieldtech.cloud.session import SignedIn
    from fieldtech.cloud.sync import SyncReport
    from fieldtech.offline_store.triage_rows import TriageRow
    from fieldtech.screens.controller import ControllerScreen
    from fieldtech.screens.switcher import Shortcuts

TOASTS_MAX = 2
MEMBERSHIPS_EVERY_S = 3600  # memberships the calendar changes (Store.settle_memberships)
CANARIES_EVERY_S = 15.0  # a canary's time limit, kept to the minute on any screen
SIGN_IN_CHECK_S = 3  # a `fieldtech login` elsewhere shows within this (one stat() each time)
FIRST_SCREEN = 60  # rows read before the first paint; a 24-line terminal shows ~20
KEYS_QUIET_S = 0.15  # a bulk read waits this long after a key: its frame, then the next key
KEYS_FIRST_AT_MOST_S = 2.0  # all a whole read waits for keys: held keys never stall it
TWIN = "controller-twin"  # the second controller screen, shown ahead (`_swap_in_twin`)
TWIN_AFTER_S = 0.5  # after the first controller's frame: its compose is off a key's path


def _raised_at(holder: Any) -> float:
    """When the notice in a toast's holder was raised (0 if it holds none)."""
    toast = next(iter(holder.query(Toast)), None)
    return toast._notification.raised_at if toast is not None else 0.0


class FieldtechApp(KeysInOrder, SparingTerminal, DrawAfterBatches, App):
    CSS_PATH = "app.tcss"
    TITLE = "fieldtech"
    ENABLE_COMMAND_PALETTE = False  # the switcher and finder are our palettes
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Keys", id="help"),
        Binding("s", "switcher", "Switch", id="switcher"),
        Binding("f", "finder", "Find", id="finder"),
        Binding("b", "previous", "Previous", id="previous"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("S", "sync", "Sync now", id="sync", show=False),
        Binding("u", "pending", "Pending changes", id="pending", show=False),
        Binding("P", "plans", "Plans and usage", id="plans", show=False),
        Binding("L", "login", "Sign in", id="login", show=False),
        Binding("exclamation_mark", "triage", "Triage", id="triage",
                show=False),
        Binding("dollar_sign", "report", "Business report", id="report", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, store: Store, settings: Settings, data_dir: Path,
                 account_label: str | None = None, mdns_interfaces: list[str] | None = None,
                 simulator: Any = None, zone_test_seconds: int = 30,
                 after_first_paint: Callable[[], None] | None = None,
                 cloud: CloudFactory | None = None, sync_every_s: float | None = SYNC_EVERY_S,
                 remember_sign_in: Callable[[str, str, str], tuple[str, bool]] | None = None,
                 sign_in_watch: SignInWatch | None = None):
        super().__init__()
        onsite = OnSiteOptions(mdns_interfaces or settings.mdns_interfaces, simulator,
                               zone_test_seconds)
        # The cloud, if any: `cloud` makes a new CloudAPI per use (the link closes it).
        self.services = Services(self, store, settings, data_dir, CloudLink(store, cloud), onsite)
        self.services.key_waits = self.key_waits
        self.account_label = account_label
        self.after_first_paint = after_first_paint
        self.sync_every_s = sync_every_s  # None: sync only on demand
        # Keeps a token from the sign-in screen (the OS keyring); None: memory only (the demo).
        self.remember_sign_in = remember_sign_in
        # Follows `fieldtech login` in another terminal (None: the demo, tests).
        self.sign_in_watch = sign_in_watch
        self._memberships_settled = False  # once after start-up, then hourly
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        if settings.keys:
            self.set_keymap(settings.keys)

    # What scripts and tests read most; the services own them.
    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def link(self) -> CloudLink:
        return self.services.link

    @property
    def data_dir(self) -> Path:
        return self.services.data_dir

    @property
    def mdns_interfaces(self) -> list[str] | None:
        return self.services.onsite.mdns_interfaces

    @property
    def rows(self) -> list[FleetRow]:
        return self.services.fleet.rows

    @property
    def rows_by_id(self) -> dict[str, FleetRow]:
        return self.services.fleet.rows_by_id

    @property
    def recent_ids(self) -> list[str]:
        return self.services.fleet.recent_ids

    @property
    def current_controller(self) -> str | None:
        return self.services.fleet.current

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A notice as plain text, always: fieldtech's name records and repeat typed text and
        servers' messages (a customer "Bed [/] 2" would break markup), and none is styled."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def _on_notify(self, event: Notify) -> None:
        # At most two toasts (six covered half an 80×24 screen), the newest on top.
        self._notifications.add(event.notification)
        shown = sorted(self._notifications, key=lambda n: n.raised_at, reverse=True)
        for old in shown[TOASTS_MAX:]:
            del self._notifications[old]
        self._refresh_notifications()
        self.call_after_refresh(self._newest_toast_first)

    def _newest_toast_first(self) -> None:
        for rack in self.screen.query(ToastRack):
            holders = sorted(rack.children, key=lambda h: -_raised_at(h))
            for holder in holders[1:]:
                rack.move_child(holder, after=rack.children[-1])

    def action_help_quit(self) -> None:
        """Ctrl+C: say how to quit, in plain words (Textual's own notice is markup, which our
        plain-text notices would show raw: "Press [b]ctrl+q[/b]")."""
        keys = [self.get_key_display(b.binding) for b in self.active_bindings.values()
                if b.binding.action in ("quit", "app.quit")]
        shown = " or ".join(sorted(dict.fromkeys(keys), key=len)) or "Ctrl+Q"  # q first
        self.notify(f"Press {shown} to quit (everything is already saved).",
                    title="Do you want to quit?")

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # A blinking cursor repaints twice a second: off over SSH, or when settings say so.
        if isinstance(event.widget, Input) and not self.settings.blink():
            event.widget.cursor_blink = False

    async def on_mount(self) -> None:
        # The first screenful is read here (~3 ms), so the first frame shows it: a worker
        # would add a thread hop and a second layout pass before anything is painted.
        fleet = self.services.fleet
        fleet.first_rows = self.store.fleet_rows(first=FIRST_SCREEN)
        fleet.read_shortcuts(self.store, self.settings.pinned)  # `s` + digit before the rest
        self.services.header.words = self._read_header()
        await self.push_screen(FleetScreen())
        if self.settings.problem:
            self.notify(self.settings.problem, severity="warning", timeout=10)
        self.call_after_refresh(self._read_fleet)  # the whole fleet, after that first frame
        self._start_link()
        # What only the calendar changes (a cancelled term running out): once the whole fleet
        # has been read (the end of the first _read_fleet), then every hour.
        self.set_interval(MEMBERSHIPS_EVERY_S, self._settle_memberships)
        self.set_interval(CANARIES_EVERY_S, self._check_canaries)
        if self.after_first_paint is not None:
            self.call_after_refresh(self.after_first_paint)
        if not self.is_headless:
            self.set_interval(2, self._check_terminal)

    def _check_terminal(self) -> None:
        """Quit when our terminal's other end has gone without a hang-up signal (a pty whose
        owner was killed): Textual's input thread would otherwise spin on it at full speed.
        Every edit is already saved."""
        try:
            fd = sys.__stdin__.fileno() if sys.__stdin__ else -1
            poller = select.poll()
            poller.register(fd, 0)  # POLLHUP and POLLERR are always reported
            gone = any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
                       for _fd, mask in poller.poll(0))
        except (OSError, ValueError):
            return
        if gone:
            self.exit(return_code=1)

    @work(thread=True, group="memberships", exclusive=True)
    def _settle_memberships(self) -> None:
        if self.store.settle_memberships():  # queued edits, synced like any other
            self.call_from_thread(self.post_message, m.RecordsChanged())

    @work(thread=True, group="canaries", exclusive=True, exit_on_error=False)
    def _check_canaries(self) -> None:
        try:
            stopped = self.services.campaigns.check_canaries()
        except Exception as exc:  # a busy store, a bug: say so, try again at the next check
            self.call_from_thread(self.notify, f"Checking campaigns failed: {exc}",
                                  severity="error")
            return
        for status in stopped:
            what = status.campaign.summary.split(":")[0]  # "rain delay of 48 h"
            self.call_from_thread(self.notify, f"Campaign stopped ({what}): "
                                  f"{status.canary_words()}.", severity="warning", timeout=20)
            self.call_from_thread(self.post_message, m.RecordsChanged())

    # -- the fleet ----------------------------------------------------------------------------

    def load_fleet(self, keep: str | None = None) -> None:
        """Read the fleet and the account off the event loop, and show them.

        On the first load a screenful is read and painted first; the whole fleet (tens of ms
        at 10,000, plus the search index) is read only after that paint, so the two do not
        compete for the interpreter during start-up.
        """
        if self.services.fleet.rows:
            self._read_fleet(keep)
        else:
            self._read_first_screen()

    @work(thread=True, exclusive=True, group="fleet")
    def _read_first_screen(self) -> None:
        head = self.store.fleet_rows(first=FIRST_SCREEN)
        self.call_from_thread(self._first_screen, head, self._read_header())

    def _first_screen(self, rows: list[FleetRow], header: HeaderWords) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                screen.show_rows(rows=rows)
        self.services.header.set(header)
        self.call_after_refresh(self._read_fleet)

    def _read_header(self) -> HeaderWords:
        """The top bar's words (account, usage, pending, what needs a look); from a worker."""
        account = self.store.account()
        name = self.account_label or (account.name if account else "Local account")
        health = fleet_health(self.store, datetime.now(UTC))
        return name, self.store.usage(), self.store.pending_count(), health

    @work(thread=True, exclusive=True, group="fleet")
    def _read_fleet(self, keep: str | None = None) -> None:
        store = self.store
        if not self.is_screen_installed("controller"):
            # Before the whole fleet (seconds at 100,000): the switcher and the controller
            # screen, built ahead so that `s` and a digit while the rest is read do not mount
            # and compose them in their frames (the first `s` then: ~100 ms, traced).
            self.call_from_thread(self.call_after_refresh, self._switcher_ahead)
            import fieldtech.screens.controller  # noqa: F401

            self.call_from_thread(self.call_after_refresh, self._build_controller_screen)
        # No collections while the fleet's rows pile up: the collector's passes over them
        # held the interpreter 35-120 ms at a time (in the keys pressed meanwhile), half the
        # read's CPU at 100,000; what it would find is collected after, frozen below first.
        with collector_paused():
            self._read_whole_fleet(store, keep)

    def _read_whole_fleet(self, store: Store, keep: str | None) -> None:
        self._keys_first_until = time.monotonic() + KEYS_FIRST_AT_MOST_S  # this read's waits
        rows = store.fleet_rows(between=self._keys_first)
        self._keys_first()
        index = FleetIndex(rows, between=self._keys_first)
        recent = store.recent()
        by_id = Fleet.by_id(index)
        self._keys_first()
        lines = grouped_lines(rows)  # the fleet list's, made here rather than on the event loop
        self._keys_first()
        self.call_from_thread(self._fleet_loaded, rows, index, by_id, self._read_header(),
                              recent, keep, lines)
        # After the first paint: the forms and triage, so their first use is as quick as the
        # rest.
        self._keys_first()
        import fieldtech.screens.forms

        self._keys_first()
        import fieldtech.screens.triage  # noqa: F401

        # And triage's first open: reading and ordering 2,000 incidents takes ~40–100 ms,
        # which its first paint would wait for. Once: later opens keep the rows they had.
        if not self.is_screen_installed("triage"):
            from fieldtech.services.triage import open_incidents

            incidents = open_incidents(store, datetime.now(UTC))
            self.call_from_thread(self._triage_ready, incidents)

        # The fleet, its index and Textual itself are long-lived: move them out of the garbage
        # collector's view. Otherwise every full collection walks them all (50–60 ms at 10,000
        # controllers, measured) and lands in some keystroke; frozen, it takes 7–16 ms. Rows
        # from an earlier load are still freed (by reference counting: they hold no cycles).
        # What was frozen last time and has died since in a cycle (a closed form) is only
        # freed by a pass over everything, unfrozen: one per later load (a save, a sync that
        # changed something), so a form is kept at most until the next load. The pass holds
        # the interpreter (45–60 ms at 10,000): it waits until the load has been painted.
        if gc.get_freeze_count():
            painted = threading.Event()
            self.call_from_thread(self.call_after_refresh, painted.set)
            painted.wait(2)
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        if not self._memberships_settled:  # after the first whole read, not beside it: its
            self._memberships_settled = True  # reload would cancel this one
            self.call_from_thread(self._settle_memberships)

    _keys_first_until = 0.0

    def _keys_first(self) -> None:
        """From a thread reading in bulk, between two chunks: wait while a key is being
        answered (one came in the last KEYS_QUIET_S), KEYS_FIRST_AT_MOST_S in all a read (a
        held key, repeating faster than that, would otherwise hold the read for minutes, and
        its snapshot with it). Beside the read, the event loop's thread got the interpreter
        back 5 ms after each wait for it (more under load), several times a key: `s` took
        60-120 ms while 100,000 rows were read."""
        self._wait_for_keys(self._keys_first_until)

    def key_waits(self, at_most: float = KEYS_FIRST_AT_MOST_S) -> Callable[[], None]:
        """The same wait for another job in bulk (the fleet screen's column orders), with
        its own `at_most` seconds in all, counted from now."""
        until = time.monotonic() + at_most
        return lambda: self._wait_for_keys(until)

    def _wait_for_keys(self, until: float) -> None:
        while (time.monotonic() - self.last_key_at < KEYS_QUIET_S
               and time.monotonic() < until):
            time.sleep(0.01)

    def _fleet_loaded(self, rows: list[FleetRow], index: FleetIndex, by_id: dict[str, FleetRow],
                      header: HeaderWords, recent: list[str], keep: str | None,
                      lines: GroupedLines) -> None:
        fleet = self.services.fleet
        fleet.loaded(rows, index, recent, by_id)
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                screen.fleet_list.take_lines(rows, lines)
                screen.show_rows(keep=keep)
        self.services.header.set(header)
        self.call_after_refresh(self._switcher_ahead)

    async def _switcher_ahead(self) -> None:
        """The fleet's switcher, mounted, filled and rendered off the screen before the first
        `s` (its mount and first render were ~20 ms of that key's frame)."""
        from fieldtech.screens.switcher import Switcher

        screen = self.screen
        if isinstance(screen, FleetScreen) and not screen.query(Switcher):
            switcher = Switcher(classes="overlay", parked=True)
            await screen.mount(switcher)
            switcher.prepare(self.services.fleet.shortcuts(self.settings.pinned, None))

    def _triage_ready(self, incidents: list[TriageRow]) -> None:
        from fieldtech.screens.triage import TriageScreen

        if not self.is_screen_installed("triage"):
            self.install_screen(TriageScreen(incidents), "triage")

    # -- routing ------------------------------------------------------------------------------

    def open_controller(self, controller_id: str) -> None:
        self.services.fleet.opened(controller_id)
        screen = self._swap_in_twin(controller_id) or self.controller_screen()
        if self.screen is not screen:
            self.push_screen(screen)
        # The fleet's cursor follows after the frame (finding a row among 100,000 was 3-6 ms
        # of the switch, traced) and before the fleet shows again (`action_fleet`).
        screen.after_frame(self._fleet_follows)
        if not self.is_screen_installed(TWIN):
            screen.after_frame(self.set_timer, TWIN_AFTER_S, self._build_twin)
        screen.load(controller_id)
        self.store.shown_recent(controller_id)  # written when the store closes at the latest
        screen.after_frame(self._save_recents)  # a thread: not beside the paint

    def _fleet_follows(self) -> None:
        """A covered fleet's cursor goes to the controller opened over it now, not at Esc: the
        frame it keeps for coming back then shows it already."""
        for fleet in self.screen_stack:
            if isinstance(fleet, FleetScreen):
                fleet.follow_current()

    def controller_screen(self) -> ControllerScreen:
        """The one controller screen, built on first use."""
        from fieldtech.screens.controller import ControllerScreen

        if not self.is_screen_installed("controller"):
            self.install_screen(ControllerScreen(self.store), "controller")
        screen = self.get_screen("controller")
        assert isinstance(screen, ControllerScreen)
        return screen

    def _swap_in_twin(self, controller_id: str) -> ControllerScreen | None:
        """From a controller to the one its hidden twin shows ahead (digit 1): the twin takes
        the shown screen's place and name, and the shown one becomes the twin."""
        if not self.is_screen_installed(TWIN):
            return None
        shown, twin = self.controller_screen(), cast("ControllerScreen", self.get_screen(TWIN))
        if self.screen is not shown or not twin.holds_ahead(controller_id, shown.active_tab):
            return None
        shown.swapped_out()
        self.switch_screen(twin)
        self._installed_screens["controller"], self._installed_screens[TWIN] = twin, shown
        return twin

    def _hidden_controller_screen(self) -> ControllerScreen:
        """The controller screen not shown (the twin if the other shows): `s` shows digit 1's
        controller on it ahead."""
        screen = self.controller_screen()
        if self.screen is screen and self.is_screen_installed(TWIN):
            return cast("ControllerScreen", self.get_screen(TWIN))
        return screen

    def _build_twin(self) -> None:
        """A second controller screen, built ahead once a controller has been shown: a switch
        between controllers then swaps in the one rendered ahead (issue 17)."""
        from fieldtech.screens.controller import ControllerScreen

        if not self.is_screen_installed(TWIN):
            twin = ControllerScreen(self.store, twin_of=self.controller_screen())
            self.install_screen(twin, TWIN)
            twin.build_ahead()

    def _build_controller_screen(self) -> None:
        """Compose and mount the controller screen ahead, hidden: the first digit pushed and
        built it, ~100 ms of its frame (issue 18, traced)."""
        self.controller_screen().build_ahead()

    def _controller_showing(self) -> bool:
        return self.is_screen_installed("controller") and self.screen is self.get_screen(
            "controller")

    def switcher_shortcuts(self) -> Shortcuts:
        """The shortcuts `s` would open the switcher with now: a parked switcher renders
        its frame ahead with them (Switcher._rehearse)."""
        fleet = self.services.fleet
        showing = fleet.current if self._controller_showing() else None
        return fleet.shortcuts(self.settings.pinned, showing)

    @work(thread=True, group="recent")
    def _save_recents(self) -> None:
        self.store.save_recents()

    def controller_gone(self, controller_id: str, why: str = "") -> None:
        """A controller no longer in the store (discarded, removed in the cloud): forget it and
        leave its screen for the fleet — now if it shows, else when it shows again."""
        self.services.fleet.forget(controller_id)
        if not self.is_screen_installed("controller"):
            return
        screen = self.controller_screen()
        if self.screen is screen and (screen.controller is None
                                      or screen.controller.id == controller_id):
            self.action_fleet()
            self.notify(f"That controller is no longer in this store. {why}".strip(),
                        timeout=4)

    @on(m.OpenController)
    def _open_message(self, message: m.OpenController) -> None:
        self.open_controller(message.controller_id)

    @on(m.OpenOnsite)
    def _open_onsite(self, message: m.OpenOnsite) -> None:
        from fieldtech.screens.onsite import OnsiteScreen

        self.push_screen(OnsiteScreen(message.controller_id))

    @on(m.ControllerGone)
    def _gone(self, message: m.ControllerGone) -> None:
        shown = self._controller_showing()
        if self.is_screen_installed("controller"):
            self.controller_screen().forget(message.controller_id)
        self.controller_gone(message.controller_id, message.why)
        if message.notice and not shown:
            self.notify(message.notice, timeout=4)

    @on(m.RecordsChanged)
    def _records_changed(self, message: m.RecordsChanged) -> None:
        if message.open_id is not None:
            self.controller_screen().forget(message.open_id)
            self.open_controller(message.open_id)
        elif message.reload_current and (current := self.services.fleet.current) and (
                self.is_screen_installed("controller")):
            self.controller_screen().reload(current)
        self.load_fleet(keep=message.open_id or message.keep)

    async def action_switcher(self) -> None:
        shortcuts = self.switcher_shortcuts()
        screen, shown = self._hidden_controller_screen(), self.controller_screen()
        # Hidden: digit 1 shown ahead, over the other controller screen on the tab it shows.
        screen.expect([row.controller_id for row, _ in shortcuts],
                      shown.active_tab if shown is not screen else None)
        if missing := screen.uncached([row.controller_id for row, _ in shortcuts]):
            # After the switcher's frame: a thread reading beside it took the interpreter
            # from that frame (`s` ~20 ms later, traced).
            self.call_after_refresh(self._prefetch, screen, missing)
        await self._pick(shortcuts)

    @work(thread=True, group="prefetch")
    def _prefetch(self, screen: ControllerScreen, controller_ids: list[str]) -> None:
        """While the switcher is open, read its candidates so the chosen one paints at once."""
        screen.prefetch(controller_ids)

    async def action_finder(self) -> None:
        await self._pick([], finder=True)

    async def _pick(self, shortcuts: Shortcuts, finder: bool = False) -> None:
        """Open the switcher over the current screen: opening and closing it change no screen.

        A dialog (a form, the help) gets the switcher as a dialog of its own on top.
        """
        from fieldtech.screens.switcher import Switcher, SwitcherScreen

        screen = self.screen
        if isinstance(screen, ModalScreen):
            if not isinstance(screen, SwitcherScreen):
                self.push_screen(SwitcherScreen(shortcuts, finder), self._picked)
            return
        found = screen.query(Switcher)
        switcher = found.first() if found else Switcher(classes="overlay")
        if not found:
            await screen.mount(switcher)
        if not switcher.is_open:
            switcher.open(shortcuts, self._picked, finder=finder)

    def _picked(self, controller_id: str | None) -> None:
        if controller_id:
            self.open_controller(controller_id)
        # Shown ahead for this opening and not swapped in or pushed by the choice (another
        # digit, the finder, Esc): dropped, and what was to render it ahead stopped.
        for name in ("controller", TWIN):
            if self.is_screen_installed(name) and (
                    hidden := self.get_screen(name)) not in self.screen_stack:
                cast("ControllerScreen", hidden).drop_ahead()

    def action_previous(self) -> None:
        # From another screen (the fleet, after Esc), "back" is the controller last shown.
        fleet = self.services.fleet
        target = fleet.previous if self._controller_showing() else fleet.current
        if target and fleet.row(target) is not None:
            self.open_controller(target)
        else:
            self.notify("No previous controller yet.", timeout=2)

    def action_fleet(self) -> None:
        self._fleet_follows()  # if the last switch's frame has not been written yet
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if not isinstance(self.screen, FleetScreen):
            self.pop_screen()

    def action_help(self) -> None:
        from fieldtech.screens.forms import HelpScreen, help_rows

        self.push_screen(HelpScreen(help_rows(self)))

    def action_pending(self) -> None:
        from fieldtech.screens.pending import PendingScreen

        if not isinstance(self.screen, PendingScreen):
            self.push_screen(PendingScreen())

    def action_plans(self) -> None:
        from fieldtech.screens.plans import PlansScreen

        if isinstance(self.screen, PlansScreen):
            return
        if isinstance(self.screen, FleetScreen):
            current = self.screen.fleet_list.current
            customer_id = current[0].customer_id if current else None
        else:
            customer_id = self.services.fleet.customer_of_current()
        self.push_screen(PlansScreen(customer_id))

    def action_report(self) -> None:
        from fieldtech.screens.report import ReportScreen

        if not isinstance(self.screen, ReportScreen):
            self.push_screen(ReportScreen())

    def action_triage(self) -> None:
        """The one triage screen, built on first use and kept: opening it again is instant."""
        from fieldtech.screens.triage import TriageScreen

        if not self.is_screen_installed("triage"):
            self.install_screen(TriageScreen(), "triage")
        screen = self.get_screen("triage")
        if self.screen is not screen:
            if screen in self.screen_stack:  # under a controller opened from it: back to it
                while self.screen is not screen:
                    self.pop_screen()
            else:
                self.push_screen(screen)

    def action_login(self) -> None:
        from fieldtech.screens.login import LoginScreen

        if not isinstance(self.screen, LoginScreen):
            self.push_screen(LoginScreen(self.link.base_url or ""))

    # -- the cloud: sync and sign-in ----------------------------------------------------------

    def _start_link(self) -> None:
        self._read_link()
        self.set_interval(30, self.services.header.repaint)  # the age of the last sync
        if self.sync_every_s:
            self.set_interval(self.sync_every_s, self._periodic_sync)
        if self.sign_in_watch is not None:
            self.set_interval(SIGN_IN_CHECK_S, self._check_sign_in)

    @work(thread=True, group="link")
    def _read_link(self) -> None:
        self.link.load()
        self.call_from_thread(self.services.header.repaint)
        if self.link.connected and self.sync_every_s:
            self.call_from_thread(self._sync, False)  # the start-up sync
        if self.sync_every_s:  # live: a new incident shows within a second or two
            threading.Thread(target=self._watch, name="fieldtech-watch", daemon=True).start()

    def _watch(self) -> None:
        """Sync as soon as the cloud has news (a daemon thread: see CloudLink.watch)."""
        def news() -> bool:
            try:
                self.call_from_thread(self._sync, False)
            except RuntimeError:  # the app has stopped
                return False
            return True
        self.link.watch(news, lambda: self.is_running)

    def _periodic_sync(self) -> None:
        link = self.link
        if link.connected and not link.busy and link.state is not LinkState.SIGN_IN:
            self._sync(False)

    def action_sync(self) -> None:
        if not self.link.connected:
            self.notify("Local only: sign in to a cloud account first (L).", timeout=4)
        elif self.link.busy:
            self.notify("A sync is already running.", timeout=2)
        else:
            self._sync(True)

    @on(m.SyncWanted)
    def sync_now(self) -> None:
        """Sync in the background unless a sync is running (e.g. after a change made in the
        cloud, such as a redeemed plan code, to pull it)."""
        if self.link.connected and not self.link.busy:
            self._sync(False)

    @work(thread=True, group="sync")
    def _sync(self, manual: bool) -> None:
        was = self.link.state
        repaint = self.services.header.repaint
        try:
            report = self.link.sync(started=lambda: self.call_from_thread(repaint),
                                    progressed=lambda: self.call_from_thread(repaint))
        except Exception as exc:  # a bug or a disk error: say so, keep the app and the outbox
            self.call_from_thread(self.notify, f"Sync failed: {exc}", severity="error")
            self.call_from_thread(repaint)
            return
        if report is None:
            if manual:
                self.call_from_thread(self.notify, "A sync is already running.", timeout=2)
            return
        # A work order closed on two clients offline: its time entry follows the merged order.
        from fieldtech.services.work_orders import WorkOrderService  # not at start-up

        try:
            if WorkOrderService(self.services.edits).settle_after_sync(report):
                self.call_from_thread(self.sync_now)  # sent now, not at the next sync
        except Exception as exc:  # the conflicts stay the person's: say why, keep the app
            self.call_from_thread(self.notify, f"Settling time entries failed: {exc}",
                                  severity="error")
        current = self.services.fleet.current
        gone = bool(current) and self.store.record_data("controller", current) is None
        self.call_from_thread(self._synced, report, self._read_header(), manual,
                              was is LinkState.SIGN_IN, gone)

    def _synced(self, report: SyncReport, header: HeaderWords, manual: bool,
                was_signed_out: bool, current_gone: bool) -> None:
        self.services.header.set(header)
        if report.changed_ids or report.applied or report.rejected or report.conflicts:
            self.load_fleet()
            current = self.services.fleet.current
            if current and self.is_screen_installed("controller"):
                if current_gone:
                    self.controller_gone(current, "It was removed in the cloud.")
                else:
                    self.controller_screen().reload(current)
        for screen in self.screen_stack:
            screen.post_message(m.Synced(report))
        attention = report.conflicts or report.rejected
        if report.signed_out:
            self.notify("Sign in again (L): the cloud no longer accepts this sign-in. "
                        "Nothing queued is lost.", severity="error", timeout=10)
            if manual or not was_signed_out:
                self.action_login()
        elif report.unreachable:
            if manual:
                self.notify(f"Offline. {report.error}", severity="warning", timeout=6)
        elif report.error:
            self.notify(f"Sync stopped: {report.error}", severity="error", timeout=8)
        elif manual or attention:
            more = " See pending changes (u)." if attention else ""
            self.notify(f"Synced: {report.summary()}.{more}",
                        severity="warning" if attention else "information", timeout=5)

    @work(thread=True, group="sign-in-watch", exclusive=True)
    def _check_sign_in(self) -> None:
        assert self.sign_in_watch is not None
        who = self.sign_in_watch.changed()  # may read the keyring: in this worker
        if who is not None:
            self.call_from_thread(self._signed_in_elsewhere, who)

    def _signed_in_elsewhere(self, who: SignedIn) -> None:
        from fieldtech.cloud.api import APP_RETRY

        email = who.session.email if who.session else None
        self.link.user_email = email
        self.connect(lambda: who.api(retry=APP_RETRY))
        self.notify(f"Signed in as {email or 'a new login'} (`fieldtech login` in another "
                    "terminal); syncing.", timeout=5)

    @on(m.SignedIn)
    def _signed_in_message(self, message: m.SignedIn) -> None:
        self.signed_in(message.url, message.email, message.token)

    def signed_in(self, url: str, email: str, token: str) -> None:
        """The login screen got a token. Keeps it with `remember_sign_in` (e.g. the OS
        keyring) if given, else in memory for this session. Connects, then syncs."""
        from fieldtech.cloud.api import APP_RETRY, CloudAPI

        self.link.user_email = email
        if self.sign_in_watch is not None:  # writing it down is not a login from elsewhere
            self.sign_in_watch.token_in_use = token
        self.connect(lambda: CloudAPI(url, token, retry=APP_RETRY))
        if self.remember_sign_in is None:
            self.notify(f"Signed in as {email} for this session.", timeout=3)
        else:
            self._remember(url, email, token)

    @work(thread=True, group="remember")
    def _remember(self, url: str, email: str, token: str) -> None:
        assert self.remember_sign_in is not None
        message, kept = self.remember_sign_in(url, email, token)  # the keyring may be slow
        self.call_from_thread(self.notify, message, severity="information" if kept
                              else "warning", timeout=4 if kept else 12)

    def connect(self, cloud: CloudFactory) -> None:
        """Use this cloud from now on (a factory of CloudAPIs) and sync."""
        self.link.connect(cloud)
        self.services.header.repaint()
        self.sync_now()

