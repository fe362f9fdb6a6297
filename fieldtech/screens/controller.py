"""One controller: zones, programs, details (rain delay, suspensions, notes), pending edits.

One instance lives for the whole session; switching controllers refills it instead of building
a new screen, which is what keeps a switch within a frame or two.
"""

from __future__ import annotations

import asyncio
import gc
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from textual import events, work
from textual._compositor import LayoutUpdate
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.timer import Timer
from textual.widgets import Static, TabbedContent, TabPane
from textual.widgets._toast import ToastRack

from fieldtech.domain.errors import NotFound
from fieldtech.domain.models import Controller, Customer
from fieldtech.domain.plans import Membership
from fieldtech.offline_store import live
from fieldtech.offline_store.store import FleetRow, OutboxEntry, Store
from fieldtech.screens.controller_flows import ControllerFlows
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import ControllerGone, OpenOnsite
from fieldtech.screens.switcher import Switcher
from fieldtech.screens.topbar import TopBar
from fieldtech.services.triage import span
from fieldtech.widgets.fleet_list import STATE_MARK
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from fieldtech.widgets.text_line import TextBox

CACHE_SIZE = 32
LAY_OUT_AGAIN_S = 0.05  # the hidden screen built ahead: its widgets' answers to a layout
LAY_OUT_ROUNDS = 3  # layouts until they ask for none (widgets sized by one ask for another)
READY_AHEAD_AFTER_S = 0.04  # `s` opened the switcher: its frame first, then digit 1's ahead
READY_AHEAD_TRIES = 5  # waiting for the prefetch to read digit 1's controller
# What waits for a frame (a read in a thread) runs after this long at the latest, should no
# frame come: it only waits so as not to slow the frame down.
AFTER_FRAME_AT_MOST_S = 0.3
# And a moment after the frame's write: work on the app's thread right after it (the fleet's
# cursor found among 100,000, a garbage collection, threads starting) held the terminal's
# bytes back, 5-15 ms after the write at 100,000 (traced: the pty's reader waits for a core).
AFTER_FRAME_GAP_S = 0.005
# A controller as shown: the record, its fleet row, its pending edits, its live state, and
# its customer (a technician on site calls them).
Shown = tuple[Controller, FleetRow, list[OutboxEntry], dict[str, Any] | None, Customer | None]


class Kept:
    """What the controller screens have read, shared by the shown one and its twin."""

    def __init__(self) -> None:
        # Recently shown or prefetched controllers: a switch paints from here at once, then
        # the fresh read repaints only if something changed. Bounded; edits forget entries.
        self.cache: OrderedDict[str, Shown] = OrderedDict()
        self.contracts: dict[str, str] = {}  # customer id → agreement · hours left · promise
        self.forgotten = 0  # copies dropped: a read started before one is not kept


class ControllerScreen(ControllerFlows):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.fleet", "Fleet", id="fleet"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("d", "details", "Details", id="details"),
        Binding("r", "rain_delay", "Rain delay", id="rain_delay"),
        Binding("z", "run_zone", "Run zone", id="run_zone"),
        Binding("g", "command", "Command…", id="command", show=False),
        Binding("a", "add_program", "Add program", id="add_program", show=False),
        Binding("delete", "delete_program", "Delete program", id="delete_program", show=False),
        Binding("p", "pin", "Pin", id="pin"),
        Binding("D", "delete_record", "Delete controller", id="delete_record", show=False),
        Binding("o", "onsite", "On site", id="onsite", show=False),
        Binding("x", "export", "Export", id="export", show=False),
        Binding("i", "import", "Import", id="import", show=False),
        Binding("t", "template", "Template", id="template", show=False),
        Binding("T", "save_template", "Save as template", id="save_template", show=False),
        Binding("y", "copy_from", "Copy from…", id="copy_from", show=False),
        Binding("h", "log_time", "Log time", id="log_time", show=False),
        Binding("A", "agreement", "Agreement", id="agreement", show=False),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False),
    ]
    TABS = ("zones", "programs", "details-tab", "pending")

    def __init__(self, store: Store, twin_of: ControllerScreen | None = None) -> None:
        super().__init__()
        self.store = store  # its own reference: prefetching may run before it is mounted
        self.controller: Controller | None = None
        self.row: FleetRow | None = None
        self._pending: list[OutboxEntry] = []
        self._device: dict[str, Any] | None = None  # its live state, as the cloud last said
        self.customer: Customer | None = None
        self._stale = False  # repaint on the next show even if nothing changed
        self._ready = False  # composed and mounted: a load before that waits for on_mount
        self._waiting: str | None = None
        self._wanted: str | None = None  # the controller last asked for: reads of others are late
        self._after_frame: list[Callable[[], object]] = []
        # What this screen and its twin read, shared: what one forgets, both do.
        self._kept = twin_of._kept if twin_of is not None else Kept()

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield TextBox(id="ctl-header")
        tables = {
            "zones": RecordTable([("#", 3), ("Zone", 20), ("On", 3), ("Min", 4),
                                  ("Cycle/soak", 10), ("MV", 3), ("Adj", 5), ("Suspended", 0)],
                                 id="zone-table"),
            "programs": RecordTable([("Program", 16), ("On", 3), ("Schedule", 16),
                                     ("Starts", 12), ("Zones", 0)], id="program-table"),
            "pending": RecordTable([("When", 16), ("Edit", 26), ("State", 9), ("Why", 0)],
                                   id="pending-table"),
        }
        with TabbedContent(id="ctl-tabs", initial="zones"):
            with TabPane("Zones", id="zones"):
                yield Static(tables["zones"].header(), classes="table-header")
                yield tables["zones"]
            with TabPane("Programs", id="programs"):
                yield Static(tables["programs"].header(), classes="table-header")
                yield tables["programs"]
            with TabPane("Details", id="details-tab"):
                yield TextBox(id="details")
            with TabPane("Pending", id="pending"):
                yield Static(tables["pending"].header(), classes="table-header")
                yield tables["pending"]
        yield KeyBar()
        # Parked, laid out and rendered with the screen: `s` over it mounts nothing (a twin
        # swapped in had none, and the first `s` over it mounted and rendered one, ~20 ms).
        yield Switcher(classes="overlay", parked=True)

    def build_ahead(self) -> None:
        """Compose and mount this screen before it is first shown, and lay it out at the
        terminal's size: the first switch then costs what a later one does. Shows nothing."""
        if not self.is_running:
            self.app._register(self.app, self)  # what pushing it does first (Textual 8)
            self._styled_for = self.app.theme

    def on_mount(self) -> None:
        self._ready = True
        if self not in self.app.screen_stack:  # built ahead: lay it out (nothing is painted)
            # Not here: the layout in this handler sized no widget (all 0×0), so the first
            # digit laid the whole screen out at its resume, then again for the 17 widgets
            # that layout resized, then for the toast rack (three layouts, traced).
            self.call_later(self._lay_out_ahead)
        self.set_interval(15, self._tick)
        if self._waiting:
            self.load(self._waiting)

    def _on_resize(self, event: events.Resize) -> None:
        # Textual calls each class's `_on_resize`, Screen's after this one. Hidden (built
        # ahead, the twin), its size concerns it alone: Screen's laid out the screens under
        # the top one again too, and the fleet dropped the frame it keeps for Esc.
        if self not in self.app.screen_stack:
            event.prevent_default()
            event.stop()
            self._screen_resized(event.size)

    def _lay_out_ahead(self, rounds: int = LAY_OUT_ROUNDS) -> None:
        """Lay the hidden screen out until it asks for nothing more: its widgets, sized,
        ask for a layout of their own (as they do on a shown screen, at the next frame)."""
        if self in self.app.screen_stack:  # shown meanwhile: its resume lays it out
            return
        # The toast rack's first `show` (at the first resume) sets `display` from the style
        # sheet's "none" to an inline one: a layout request, the same one, done here instead.
        for rack in self.query(ToastRack):  # none when the app shows no notifications
            rack.display = bool(self.app._notifications)
        self._refresh_layout(self.app.size)
        self._layout_required = False
        self._dirty_widgets.clear()
        if rounds > 1:  # once the widgets have read what that layout told them
            self.set_timer(LAY_OUT_AGAIN_S, partial(self._lay_out_again, rounds - 1))

    def _lay_out_again(self, rounds: int) -> None:
        if self._layout_required:
            self._lay_out_ahead(rounds)

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        # A repaint of the whole screen asked for with the layout (its resume, a focus moved)
        # goes into the layout's own render: Textual rendered the screen once for the layout
        # and again, whole, for the repaint, one after the other in the same timer tick.
        if self._repaint_required and self.is_current and not self.app._batch_count:
            self._repaint_required = False
            self._dirty_widgets.add(self)
        super()._refresh_layout(size, scroll)

    # -- loading ------------------------------------------------------------------------------

    def load(self, controller_id: str) -> None:
        """Show `controller_id` (read in a worker; shown once the screen is mounted)."""
        self._wanted = controller_id
        self._pause_gc()
        if not self._ready:
            self._waiting = controller_id
            return
        if cached := self._cache.get(controller_id):
            self.show(*cached)
            self.after_frame(self._read_if_wanted, controller_id)  # the fresh read
        else:
            self._read(controller_id)

    _gc_paused = False

    def _pause_gc(self) -> None:
        """No garbage collection from a switch until its frame is written: the frame's ~10
        collections (rendering makes many short-lived objects) cost it 2-9 ms (traced). The
        first allocation after the frame collects what is due."""
        if not self._gc_paused and gc.isenabled():
            gc.disable()
            self._gc_paused = True
            self.after_frame(self._resume_gc)

    def _resume_gc(self) -> None:
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    def on_unmount(self) -> None:
        self._resume_gc()  # the app quit before the switch's frame: the process goes on (tests)

    def after_frame(self, callback: Callable[..., object], *args: object) -> None:
        """Run `callback(*args)` once this screen's next frame is written. A thread started
        before it (a read, a write) takes the interpreter from the frame, in 5 ms slices: the
        switch's frame came ~10 ms later with the fresh read beside it (traced). Textual's
        `call_after_refresh` runs before the frame when the screen goes idle before the
        widgets report their changes, which is what a switch does."""
        self._after_frame.append(partial(callback, *args))
        if len(self._after_frame) == 1:  # no frame at all (nothing changed): run them anyway
            self._after_frame_timer = self.set_timer(
                AFTER_FRAME_AT_MOST_S, self._run_after_frame, name="after-frame")

    _after_frame_timer: Timer | None = None

    def _run_after_frame(self) -> None:
        self._after_frame_timer = None
        callbacks, self._after_frame = self._after_frame, []
        self._run_callbacks(callbacks)

    @staticmethod
    def _run_callbacks(callbacks: list[Callable[[], object]]) -> None:
        for callback in callbacks:
            callback()

    def _compositor_refresh(self) -> None:
        painting = bool(self._compositor._dirty_regions)  # else Textual writes nothing
        super()._compositor_refresh()
        if painting and self._after_frame and self.app.screen is self:
            # Those waiting for this frame, taken now: a switch within the gap queues its
            # own for its own frame (taken at the gap's end, they ran before it).
            callbacks, self._after_frame = self._after_frame, []
            if self._after_frame_timer is not None:
                self._after_frame_timer.stop()
                self._after_frame_timer = None
            self.set_timer(AFTER_FRAME_GAP_S, partial(self._run_callbacks, callbacks))

    def _read_if_wanted(self, controller_id: str) -> None:
        if controller_id == self._wanted:  # not when another switch came meanwhile
            self._read(controller_id)

    _expected: str | None = None  # hidden, shown ahead: what digit 1 would open
    _expected_tab: str | None = None  # and on which tab: the other controller screen's
    _ahead_timers: tuple[Timer, ...] = ()  # showing or rendering it ahead, to come

    def expect(self, controller_ids: list[str], tab: str | None = None) -> None:
        """The switcher opens with these candidates, digit 1 first. Hidden (the fleet or the
        other controller screen shows), this screen shows the first one ahead, renders it and
        keeps the frame: that digit then writes the kept frame at the screen's resume, with
        nothing to lay out or render (the render was ~10-20 ms of the first digit, traced).
        Any other choice refills it as usual; anything changed since is rendered after the
        kept frame. `tab`: the shown controller screen's tab, which a switch from it keeps."""
        self.drop_ahead()
        if not controller_ids or not self._ready or self in self.app.screen_stack:
            return
        self._expected, self._expected_tab = controller_ids[0], tab
        # After the switcher's frame and the prefetch's read (a thread): not beside them.
        self._ahead_later(READY_AHEAD_AFTER_S, partial(self._show_ahead, READY_AHEAD_TRIES))

    def drop_ahead(self) -> None:
        """The switcher it was shown ahead for has closed (a pick, a cancel): nothing shown
        ahead applies any more. A later switch to that controller (`b`, the finder) must not
        write a frame from then (its time texts minutes old), and what was to be shown or
        rendered ahead is not (~10-20 ms in whatever frame it fell into)."""
        self._expected = self._expected_tab = None
        self._ahead_frame = None
        for timer in self._ahead_timers:
            timer.stop()
        self._ahead_timers = ()

    def _ahead_later(self, delay: float, callback: Callable[[], object]) -> None:
        def fire() -> None:  # the timers held are those still to come
            self._ahead_timers = tuple(t for t in self._ahead_timers if t is not timer)
            callback()

        timer = self.set_timer(delay, fire)
        self._ahead_timers = (*self._ahead_timers, timer)

    def _show_ahead(self, tries: int) -> None:
        self._ahead_frame = None
        wanted = self._expected
        if wanted is None or self in self.app.screen_stack:
            return
        cached = self._cache.get(wanted)
        if cached is None:  # the prefetch has not read it yet
            if tries > 1:
                self._ahead_later(READY_AHEAD_AFTER_S, partial(self._show_ahead, tries - 1))
            return
        self._wanted = wanted
        rounds = 1
        if self._expected_tab is None:  # over the fleet: shown as this screen was left
            self.show(*cached)
        else:  # over the other controller screen: shown as a switch there would refill it
            rounds = 1 if self._take_tab(self._expected_tab) else LAY_OUT_ROUNDS
            self.show(*cached, anew=True)
        self._fill_header()  # its time texts (a running zone, an outage) as of now
        # Once the widgets have reported what the fill changed (from their own queues).
        self._ahead_later(LAY_OUT_AGAIN_S, partial(self._render_ahead, rounds))

    def _take_tab(self, tab: str) -> bool:
        """Hidden, show `tab` as the shown screen does (a switch keeps the tab). Without the
        underline's slide: a frame rendered ahead would have caught it half-way. Whether it
        showed that tab already (else its widgets, first sized by the next layout, ask for
        another)."""
        tabs = self.query_one(TabbedContent)
        if tabs.active == tab:
            return True
        try:
            tabs.get_tab(tab)
        except NoMatches:  # its tabs not mounted yet (the screen built a moment ago, under
            return False  # load): Textual raises on an unknown tab; holds_ahead says no
        app = self.app
        level, app.animation_level = app.animation_level, "none"
        try:
            tabs.active = tab  # Textual moves the underline as it changes
        finally:
            app.animation_level = level
        return False

    def _render_ahead(self, rounds: int = 1) -> None:
        if self._expected is None or self in self.app.screen_stack:
            return
        if self._ahead_frame is not None and not (
                self._layout_required or self._repaint_required or self._dirty_widgets):
            return  # nothing asked for since the last round
        if self._layout_required:
            self._refresh_layout(self.app.size)
        self._layout_required = self._repaint_required = False
        self._dirty_widgets.clear()
        frame = self._compositor.render_update(full=True)
        if isinstance(frame, LayoutUpdate):
            self._ahead_frame = self.app.size, frame  # written at the resume if unchanged
        if rounds > 1:  # once the widgets have answered that layout (a tab shown first here)
            self._ahead_later(LAY_OUT_AGAIN_S, partial(self._render_ahead, rounds - 1))

    _ahead_frame: tuple[Size, LayoutUpdate] | None = None

    def holds_ahead(self, controller_id: str, tab: str) -> bool:
        """Hidden, does this screen show `controller_id` (digit 1 of the switcher open over
        its twin) on `tab` (the twin's), laid out and rendered? Then the switch swaps it in
        for the shown screen and writes that frame: nothing refilled, laid out or rendered on
        the digit's path."""
        return (self._expected == controller_id and self._ahead_frame is not None
                and self.controller is not None and self.controller.id == controller_id
                and self.active_tab == tab and self not in self.app.screen_stack)

    def swapped_out(self) -> None:
        """Its twin takes its place: styled for the app's theme, it needs no restyle when it
        comes back (Textual restyles a screen whole at each resume: 20-47 ms, traced)."""
        self._styled_for = self.app.theme

    def _write_ahead_frame(self) -> None:
        """After the resume, once the switcher's batch has ended (a frame written during it
        is dropped): the frame rendered ahead, if nothing changed since. Textual then renders
        the screen for its resume (its lines kept, nothing new): the diff writes nothing."""
        kept, self._ahead_frame = self._ahead_frame, None
        if (kept is not None and kept[0] == self.app.size and self.app.screen is self
                and not self.app._batch_count and not (
                    self._layout_required or self._scroll_required or self._dirty_widgets)):
            self.app._display(self, kept[1])
        self.check_idle()

    def prefetch(self, controller_ids: list[str]) -> None:
        """Read these controllers (call from a worker) so a switch to one paints at once."""
        for controller_id in controller_ids:
            if controller_id not in self._cache:
                forgotten = self._forgotten
                shown = self._read_one(controller_id)
                if forgotten == self._forgotten:
                    self._remember(shown)

    def uncached(self, controller_ids: list[str]) -> list[str]:
        """Those of `controller_ids` a switch could not paint at once (to prefetch)."""
        return [c for c in controller_ids if c not in self._cache]

    def forget(self, controller_id: str) -> None:
        """Drop a cached copy (it was just edited): the next show waits for the store."""
        self._cache.pop(controller_id, None)
        self._kept.forgotten += 1  # a read started before this is not kept: it may predate it

    @property
    def _cache(self) -> OrderedDict[str, Shown]:
        return self._kept.cache

    @property
    def _contracts(self) -> dict[str, str]:
        return self._kept.contracts

    @property
    def _forgotten(self) -> int:
        return self._kept.forgotten

    def reload(self, controller_id: str) -> None:
        """Read and repaint even if the record did not change (e.g. it was just pinned)."""
        self.forget(controller_id)
        self._contracts.clear()  # a time entry or a synced agreement changes what it says
        self._stale = True
        self.load(controller_id)

    def _read_one(self, controller_id: str) -> Shown:
        store = self.store
        controller = store.controller(controller_id)
        try:
            customer: Customer | None = store.customer(controller.customer_id)
        except NotFound:  # removed by a sync between the two reads: shown without
            customer = None
        return (controller, store.controller_row(controller_id),
                store.outbox_for("controller", controller_id),
                live.device_state(store, controller_id), customer)

    def _remember(self, shown: Shown) -> None:
        self._cache[shown[0].id] = shown
        self._cache.move_to_end(shown[0].id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    @work(thread=True, exclusive=True, group="controller")
    def _read(self, controller_id: str) -> None:
        forgotten = self._forgotten
        try:
            shown = self._read_one(controller_id)
        except NotFound:  # discarded or removed since it was listed
            self.app.call_from_thread(self.forget, controller_id)
            self.app.call_from_thread(self.post_message, ControllerGone(controller_id))
            return
        self.app.call_from_thread(self._read_done, shown, forgotten)

    def _read_done(self, shown: Shown, forgotten: int) -> None:
        if shown[0].id == self._wanted:
            self.show(*shown)
        elif forgotten == self._forgotten:
            # a read started before the next switch: kept for a switch back, not shown
            # (unless a copy was dropped since: it may be from before that edit)
            self._remember(shown)

    _styled_for: str | None = None  # built ahead and styled for this theme, not yet shown

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Textual's own handler. Built ahead, this screen was styled as it was
        # mounted and never shown or covered since: restyling all of it again cost the first
        # digit 20-47 ms (traced).
        if self._styled_for is not None:
            event.refresh_styles = self._styled_for != self.app.theme
            self._styled_for = None
        self._expected = self._expected_tab = None
        # The switcher's batch (ends one turn after the key) may still hold the screen's
        # frame when the screen first goes idle; a switch that refilled nothing (shown ahead)
        # has no widget reporting a change later to wake it again: wake it after the batch.
        asyncio.get_running_loop().call_soon(self._write_ahead_frame)
        # The controller may have gone while a screen above was open (discarded there).
        if self.services.fleet.current is None and self.controller is not None:
            self.post_message(ControllerGone(self.controller.id))

    def show(self, controller: Controller, row: FleetRow, pending: list[OutboxEntry],
             device: dict[str, Any] | None = None, customer: Customer | None = None, *,
             anew: bool = False) -> None:
        """`anew`: as a switch from another controller shows it (the cursors on the first
        rows), even if this screen shows it already (the twin, shown ahead)."""
        if not self._stale and not anew and (controller, row, pending, device, customer) == (
                self.controller, self.row, self._pending, self._device, self.customer):
            return  # the fresh read found what the cached copy already showed
        self._stale = False
        self._ahead_frame = None  # it shows what this replaces
        self._remember((controller, row, pending, device, customer))
        self._pending, self._device, self.customer = pending, device, customer
        same = not anew and self.controller is not None and self.controller.id == controller.id
        self.controller, self.row = controller, row
        self._fill_header()
        self._fill_zones(controller, keep=same)
        self._fill_programs(controller, keep=same)
        self._fill_details(controller, row)
        self._fill_pending(pending)
        if not same or self.focused is None:
            self._focus_tab()

    def _fill_header(self) -> None:
        controller, row, pending = self.controller, self.row, self._pending
        if controller is None or row is None:
            return
        pin = " 📌" if controller.id in self.services.settings.pinned else ""
        serial = escape(controller.serial or "not linked")
        status = live_status(row.state.label, self._device, datetime.now(UTC),
                             controller.timezone)
        self.query_one("#ctl-header", TextBox).update(
            f"[b]{escape(controller.name)}[/b]{pin} — {escape(row.customer_name)}"
            f"{escape(_reach(self.customer))}\n"
            f"{STATE_MARK[row.state]} {escape(status)} · {escape(controller.model)} · "
            f"{controller.zone_count} zones · {serial}"
            + (f" · ✎ {len(pending)} pending" if pending else "")  # before a long fault
            + (f" · [red]⚠ {escape(row.fault)}[/red]" if row.fault else "")
        )

    def _tick(self) -> None:
        # A running zone's time left and an outage's length move on: say so while shown.
        if self.app.screen is self and self._device and (
                self._device.get("running") or self._device.get("online") is False):
            self._fill_header()

    def _focus_tab(self) -> None:
        """Arrow keys go to the table of the tab on show, so ↓ then e edits the next zone."""
        pane = self.query_one(TabbedContent).active_pane
        tables = pane.query(RecordTable) if pane is not None else []
        if tables:
            tables.first().focus()

    def on_tabbed_content_tab_activated(self) -> None:
        self._focus_tab()

    def _fill_zones(self, c: Controller, keep: bool) -> None:
        today = self.store.today_as_known()  # a suspension ends on the contractor's day
        self.query_one("#zone-table", RecordTable).set_rows([
            (str(z.number), z.name, "✓" if z.enabled else "✗", str(z.run_minutes),
             f"{z.cycle_minutes}/{z.soak_minutes}" if z.cycle_minutes else "—",
             "✓" if z.master_valve else "", f"{z.seasonal_adjust_pct}%",
             z.suspended_until.isoformat() if (z.suspended_until
                                               and z.suspended_until >= today) else "")
            for z in c.config.zones], keep_cursor=keep)

    def _fill_programs(self, c: Controller, keep: bool) -> None:
        self.query_one("#program-table", RecordTable).set_rows([
            (p.name, "✓" if p.enabled else "✗", p.describe_schedule(), " ".join(p.start_times),
             ", ".join(f"{z}:{m}" for z, m in sorted(p.zone_minutes.items()) if m) or "—")
            for p in c.config.programs], keep_cursor=keep)

    def _fill_details(self, c: Controller, row: FleetRow) -> None:
        rain = c.config.rain_delay_until
        now = datetime.now(UTC)
        rain_text = (f"until {escape(_site_time(rain, c.timezone))}" if rain and rain > now
                     else "none")
        today = self.store.today_as_known()
        suspended = [f"{z.number} {escape(z.name)} until {z.suspended_until}"
                     for z in c.config.zones if z.suspended_until and z.suspended_until >= today]
        # The header cuts a long fault at 80 columns: here it is whole.
        status = f"{row.state.label}" + (f" — [red]⚠ {escape(row.fault)}[/red]" if row.fault
                                         else "")
        customer = self.customer
        reach = (f"{escape(customer.name)} · {escape(customer.phone or 'no phone')} · "
                 f"{escape(customer.membership.label)} ({escape(customer.membership.promise)})"
                 if customer else escape(row.customer_name))
        contract = self._contracts.get(c.customer_id)
        if contract is None:
            self.after_frame(self._read_contract, c.customer_id)
        self.query_one("#details", TextBox).update(
            f"[b]Customer[/b]    {reach}\n"
            f"[b]Contract[/b]    {escape(contract) if contract is not None else '…'}\n"
            f"[b]Status[/b]      {status}\n"
            f"[b]Serial[/b]      {escape(c.serial or 'not linked (bind on site)')}\n"
            f"[b]Model[/b]       {escape(c.model)}, {c.zone_count} zones\n"
            f"[b]Time zone[/b]   {escape(c.timezone)}\n"
            f"[b]Location[/b]    {escape(c.location) or '—'}\n"
            f"[b]Rain delay[/b]  {rain_text}\n"
            f"[b]Suspended[/b]   {'; '.join(suspended) or 'no zone'}\n"
            f"[b]Notes[/b]       {escape(c.notes) or '—'}"
        )

    @work(thread=True, group="contract")
    def _read_contract(self, customer_id: str) -> None:
        """The customer's agreement, hours left and promise (read apart: the books may be
        large, the controller shows first)."""
        from fieldtech.domain.errors import FieldtechError
        from fieldtech.services.contracts import customer_contract

        try:
            text = customer_contract(self.store, customer_id).line()
        except (FieldtechError, KeyError, ValueError) as exc:
            text = f"cannot be read: {exc}"
        self.app.call_from_thread(self._contract_read, customer_id, text)

    def _contract_read(self, customer_id: str, text: str) -> None:
        self._contracts[customer_id] = text
        if self.controller is not None and self.row is not None \
                and self.controller.customer_id == customer_id:
            self._fill_details(self.controller, self.row)
            self._ahead_frame = None
            if self._expected is not None:  # shown ahead: render it again
                self._ahead_later(LAY_OUT_AGAIN_S, self._render_ahead)

    def _fill_pending(self, pending: list[OutboxEntry]) -> None:
        self.query_one("#pending-table", RecordTable).set_rows([
            (e.created_at.replace("T", " ")[:16], e.describe(), e.state, e.message or "")
            for e in pending])

    # -- actions ------------------------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = self.TABS[(self.TABS.index(tabs.active) + step) % len(self.TABS)]

    def action_edit(self) -> None:
        if self.controller is None:
            return
        tab = self.active_tab
        if tab == "zones":
            table = self.query_one("#zone-table", RecordTable)
            if table.row_count:
                self.edit_zone(self.controller, self.controller.config.zones[table.cursor])
        elif tab == "programs":
            table = self.query_one("#program-table", RecordTable)
            if table.row_count:
                self.edit_program(self.controller, table.cursor)
        else:
            self.action_details()

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if event.table.id in ("zone-table", "program-table"):
            self.action_edit()

    def action_details(self) -> None:
        if self.controller:
            self.edit_details(self.controller)

    def action_run_zone(self) -> None:
        if self.controller:
            table = self.query_one("#zone-table", RecordTable)
            zone = table.cursor + 1 if self.active_tab == "zones" and table.row_count else 1
            self.run_zone(self.controller, zone)

    def action_command(self) -> None:
        if self.controller:
            self.send_command(self.controller)

    def action_rain_delay(self) -> None:
        if self.controller:
            self.edit_rain_delay(self.controller)

    def action_add_program(self) -> None:
        if self.controller:
            self.query_one(TabbedContent).active = "programs"
            self.edit_program(self.controller, None)

    def action_delete_program(self) -> None:
        if self.controller and self.active_tab == "programs":
            table = self.query_one("#program-table", RecordTable)
            if table.row_count:
                self.delete_program(self.controller, table.cursor)

    def action_onsite(self) -> None:
        self.post_message(OpenOnsite(self.controller.id if self.controller else None))

    def action_delete_record(self) -> None:
        if self.controller:
            self.delete_record("controller", self.controller.id)

    def action_log_time(self) -> None:
        """A time entry for this controller's customer (on site, offline too)."""
        if self.controller:
            self.log_time(self.controller)

    def action_agreement(self) -> None:
        """A: this controller's customer's agreements (sign, change, end)."""
        from fieldtech.screens.contracts import AgreementsScreen

        if self.controller:
            self.app.push_screen(AgreementsScreen(self.controller.customer_id))

    def action_pin(self) -> None:
        if self.controller:
            self.toggle_pin(self.controller.id)
            self.reload(self.controller.id)  # the pin mark is in its header

    def action_export(self) -> None:
        if self.controller:
            self.export_config(self.controller)

    def action_import(self) -> None:
        if self.controller:
            self.import_config(self.controller)

    def action_template(self) -> None:
        if self.controller:
            self.apply_template(self.controller)

    def action_save_template(self) -> None:
        if self.controller:
            self.save_template(self.controller)

    def action_copy_from(self) -> None:
        if self.controller:
            self.copy_config_from(self.controller)


def _reach(customer: Customer | None) -> str:
    """" · 555-201-3344 · Proactive": how to reach the customer and what they are promised."""
    if customer is None:
        return ""
    parts = [customer.phone] if customer.phone else []
    if customer.membership is not Membership.NONE:
        parts.append(customer.membership.label)
    return "".join(f" · {p}" for p in parts)


def _site_time(moment: datetime, timezone: str) -> str:
    """A moment as the people on site read it: in the controller's time zone."""
    try:
        return f"{moment.astimezone(ZoneInfo(timezone)):%Y-%m-%d %H:%M} ({timezone})"
    except (ZoneInfoNotFoundError, ValueError):  # validated on save, but never crash a screen
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def live_status(label: str, device: dict[str, Any] | None, now: datetime,
                timezone: str) -> str:
    """"offline since 06:12 (47m)", "online · running zone 3, 4 min left", or the label."""
    if not device:
        return label
    since = live.parse_moment(device.get("offline_since"))
    if device.get("online") is False and since is not None:
        return (f"offline since {_local_hm(since, timezone)} "
                f"({span((now - since).total_seconds())})")
    running = device.get("running")
    if isinstance(running, dict) and running.get("zone"):
        left = int(running.get("seconds_left") or 0)
        seen = live.parse_moment(device.get("last_contact"))
        if seen is not None:
            left -= int((now - seen).total_seconds())
        if left > 0:
            return f"{label} · running zone {running['zone']}, {span(left)} left"
    return label


def _local_hm(moment: datetime, timezone: str) -> str:
    try:
        return f"{moment.astimezone(ZoneInfo(timezone)):%H:%M}"
    except (ZoneInfoNotFoundError, ValueError):
        return f"{moment.astimezone(UTC):%H:%M} UTC"
