"""The Textual app: the fleet, the controller screen, the switcher, and the edit flows.

Screens ask the app to do things; the app runs store I/O in thread workers and repaints with
the result. Nothing here builds SQL: it calls the offline store.
"""

from __future__ import annotations

import gc
import select
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Input

# The controller screen and the form dialogs (DataTable, TabbedContent, Select, Switch, …) are
# imported on first use, not here: they are not needed for the first paint of the fleet.
from fieldtech import config_files
from fieldtech.cloud_link import CloudFactory, CloudLink, LinkState
from fieldtech.domain.errors import FieldError, FieldtechError, NotFound, ValidationError
from fieldtech.domain.models import Controller, Program, Zone
from fieldtech.fleet_index import FleetIndex
from fieldtech.messages import Synced
from fieldtech.offline_store.paths import templates_dir
from fieldtech.offline_store.store import FleetRow, Store
from fieldtech.screens.fleet import FleetScreen
from fieldtech.screens.form_fields import Field
from fieldtech.screens.record_forms import (
    controller_form,
    customer_form,
    new_controller_form,
    path_form,
    program_form,
    rain_delay_form,
    zone_form,
)
from fieldtech.screens.switcher import Shortcuts, Switcher, SwitcherScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.settings import SYNC_EVERY_S, Settings
from fieldtech.widgets.keys_in_order import KeysInOrder

if TYPE_CHECKING:
    from fieldtech.cloud.sync import SyncReport
    from fieldtech.screens.controller import ControllerScreen

FIRST_SCREEN = 60  # rows read before the first paint; a 24-line terminal shows ~20


class FieldtechApp(KeysInOrder, App):
    CSS_PATH = "app.tcss"
    TITLE = "fieldtech"
    ENABLE_COMMAND_PALETTE = False  # the switcher and finder are our palettes
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Keys", id="help"),
        Binding("s", "switcher", "Switch", id="switcher"),
        Binding("f", "finder", "Find", id="finder"),
        Binding("b", "previous", "Previous", id="previous"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("S", "sync", "Sync with the cloud now", id="sync", show=False),
        Binding("u", "pending", "Pending changes (outbox)", id="pending", show=False),
        Binding("P", "plans", "Plans and usage", id="plans", show=False),
        Binding("L", "login", "Sign in to the cloud", id="login", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, store: Store, settings: Settings, data_dir: Path,
                 account_label: str | None = None, mdns_interfaces: list[str] | None = None,
                 simulator: Any = None, zone_test_seconds: int = 30,
                 after_first_paint: Callable[[], None] | None = None,
                 cloud: CloudFactory | None = None, sync_every_s: float | None = SYNC_EVERY_S,
                 remember_sign_in: Callable[[str, str, str], tuple[str, bool]] | None = None):
        super().__init__()
        self.store = store
        self.settings = settings
        self.data_dir = data_dir
        self.account_label = account_label
        self.rows: list[FleetRow] = []
        self.first_rows: list[FleetRow] = []  # the first screenful, until the fleet is read
        self.index: FleetIndex | None = None
        self.rows_by_id: dict[str, FleetRow] = {}
        self.recent_ids: list[str] = []
        self.current_controller: str | None = None
        self.previous_controller: str | None = None
        self._topbar: tuple[str, Any, int] = ("", None, 0)
        # On site: where mDNS listens (None = every interface; tests and the demo pin
        # loopback), and the demo's simulated controllers, if any, to prefill the forms.
        self.mdns_interfaces = mdns_interfaces or settings.mdns_interfaces
        self.simulator = simulator
        self.zone_test_seconds = zone_test_seconds
        self.after_first_paint = after_first_paint
        # The cloud, if any: `cloud` makes a new CloudAPI per use (the app closes it). Syncs
        # run every `sync_every_s` seconds (None: only on demand) and with the sync key.
        self.link = CloudLink(store, cloud)
        self.sync_every_s = sync_every_s
        # Keeps a token from the sign-in screen (the OS keyring); None: memory only (the demo).
        self.remember_sign_in = remember_sign_in
        if settings.theme in self.available_themes:
            self.theme = settings.theme
        if settings.keys:
            self.set_keymap(settings.keys)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A notice as plain text, always: fieldtech's name records and repeat typed text and
        servers' messages (a customer "Bed [/] 2" would break markup), and none is styled."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # A blinking cursor repaints twice a second: off over SSH, or when settings say so.
        if isinstance(event.widget, Input) and not self.settings.blink():
            event.widget.cursor_blink = False

    async def on_mount(self) -> None:
        # The first screenful is read here (~3 ms), so the first frame shows it: a worker
        # would add a thread hop and a second layout pass before anything is painted.
        self.first_rows = self.store.fleet_rows(first=FIRST_SCREEN)
        self._topbar = self._read_topbar()
        await self.push_screen(FleetScreen())
        if self.settings.problem:
            self.notify(self.settings.problem, severity="warning", timeout=10)
        self.call_after_refresh(self._read_fleet)  # the whole fleet, after that first frame
        self._start_link()
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

    # -- the fleet ----------------------------------------------------------------------------

    def load_fleet(self, keep: str | None = None) -> None:
        """Read the fleet and the account off the event loop, and show them.

        On the first load a screenful is read and painted first; the whole fleet (tens of ms
        at 10,000, plus the search index) is read only after that paint, so the two do not
        compete for the interpreter during start-up.
        """
        if self.rows:
            self._read_fleet(keep)
        else:
            self._read_first_screen()

    @work(thread=True, exclusive=True, group="fleet")
    def _read_first_screen(self) -> None:
        head = self.store.fleet_rows(first=FIRST_SCREEN)
        self.call_from_thread(self._first_screen, head, self._read_topbar())

    def _first_screen(self, rows: list[FleetRow], topbar: tuple) -> None:
        self._topbar = topbar
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                screen.show_rows(rows=rows)
            self.refresh_topbar(screen)
        self.call_after_refresh(self._read_fleet)

    def _read_topbar(self) -> tuple:
        """(account name, plan usage, pending edits) for the top bar; call from a worker."""
        account = self.store.account()
        name = self.account_label or (account.name if account else "Local account")
        return name, self.store.usage(), self.store.pending_count()

    @work(thread=True, exclusive=True, group="fleet")
    def _read_fleet(self, keep: str | None = None) -> None:
        store = self.store
        rows = store.fleet_rows()
        index = FleetIndex(rows)
        recent = store.recent()
        self.call_from_thread(self._fleet_loaded, rows, index, self._read_topbar(), recent, keep)
        index.letters()  # warm the fuzzy matcher after the first paint, not before
        # Likewise the controller screen and forms, so the first switch is as quick as the rest.
        import fieldtech.screens.controller
        import fieldtech.screens.forms  # noqa: F401

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

    def _fleet_loaded(self, rows: list[FleetRow], index: FleetIndex, topbar: tuple,
                      recent: list[str], keep: str | None) -> None:
        self.rows, self.index = rows, index
        self.rows_by_id = {r.controller_id: r for r in rows if r.controller_id}
        # Switches made while this load ran are newer than what the store said: keep them first.
        self.recent_ids += [r for r in recent if r not in self.recent_ids]
        self._topbar = topbar
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen):
                screen.show_rows(keep=keep or self.current_controller)
            self.refresh_topbar(screen)

    def refresh_topbar(self, screen: Screen) -> None:
        for bar in screen.query(TopBar):
            bar.show(*self._topbar, link=self.link.status())

    # -- switching ----------------------------------------------------------------------------

    def open_controller(self, controller_id: str) -> None:
        if controller_id != self.current_controller:
            self.previous_controller = self.current_controller
        self.current_controller = controller_id
        if controller_id in self.recent_ids:
            self.recent_ids.remove(controller_id)
        self.recent_ids.insert(0, controller_id)
        self.call_after_refresh(self._touch_recent, controller_id)  # not before the paint
        screen = self.controller_screen()
        if self.screen is not screen:
            self.push_screen(screen)
        screen.load(controller_id)

    def controller_screen(self) -> Screen:
        """The one controller screen, built on first use."""
        if not self.is_screen_installed("controller"):
            from fieldtech.screens.controller import ControllerScreen

            self.install_screen(ControllerScreen(self.store), "controller")
        return self.get_screen("controller")

    @work(thread=True, group="recent")
    def _touch_recent(self, controller_id: str) -> None:
        self.store.touch_recent(controller_id)

    def shortcuts(self) -> list[tuple[FleetRow, bool]]:
        """Pinned controllers, then the most recent ones, nine at most (keys 1–9)."""
        out: list[tuple[FleetRow, bool]] = []
        seen: set[str] = set()
        for cid, pinned in [(p, True) for p in self.settings.pinned] + [
                (r, False) for r in self.recent_ids]:
            row = self.rows_by_id.get(cid)
            if row is not None and cid not in seen:
                out.append((row, pinned))
                seen.add(cid)
        return out[:9]

    async def action_switcher(self) -> None:
        shortcuts = self.shortcuts()
        screen = self.controller_screen()
        if missing := screen.uncached([row.controller_id for row, _ in shortcuts]):
            self._prefetch(screen, missing)
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

    def controller_gone(self, controller_id: str, why: str = "") -> None:
        """A controller no longer in the store (discarded, removed in the cloud): forget it and
        leave its screen for the fleet — now if it shows, else when it shows again."""
        if controller_id in self.recent_ids:
            self.recent_ids.remove(controller_id)
        if self.previous_controller == controller_id:
            self.previous_controller = None
        if self.current_controller == controller_id:
            self.current_controller = None
        if not self.is_screen_installed("controller"):
            return
        screen = self.controller_screen()
        if self.screen is screen and (screen.controller is None
                                      or screen.controller.id == controller_id):
            self.action_fleet()
            self.notify(f"That controller is no longer in this store. {why}".strip(),
                        timeout=4)

    def action_previous(self) -> None:
        # From another screen (the fleet, after Esc), "back" is the controller last shown.
        showing = self.is_screen_installed("controller") and self.screen is self.get_screen(
            "controller")
        target = self.previous_controller if showing else self.current_controller
        if target and target in self.rows_by_id:
            self.open_controller(target)
        else:
            self.notify("No previous controller yet.", timeout=2)

    def action_fleet(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if not isinstance(self.screen, FleetScreen):
            self.pop_screen()

    def open_onsite(self, controller_id: str | None = None) -> None:
        """The on-site screen: find, bind, compare, push or pull, test zones, set Wi-Fi."""
        from fieldtech.screens.onsite import OnsiteScreen

        self.push_screen(OnsiteScreen(controller_id))

    def action_help(self) -> None:
        rows = [("s then 1–9", "open a pinned or recent controller", "")]
        for key, active in self.active_bindings.items():
            b = active.binding
            # Only keys fieldtech defines: Textual's own (Scroll Left, Copy selected text,
            # Focus Next…) mean nothing to a technician.
            if (b.description and b.action not in ("cursor(-1)", "cursor(1)")
                    and b.action in _own_actions(active.node)):
                rows.append((self.get_key_display(b) or key, b.description, b.id or ""))
        rows.append(("↑↓ PgUp PgDn", "move in lists; Enter opens", ""))
        from fieldtech.screens.forms import HelpScreen

        self.push_screen(HelpScreen(rows))

    def toggle_pin(self, controller_id: str) -> None:
        pinned = self.settings.toggle_pin(controller_id)
        self.settings.save()
        self.notify("Pinned: it keeps a digit in the switcher." if pinned else "Unpinned.",
                    timeout=2)
        self.controller_screen().reload(controller_id)  # the pin mark is in its header

    # -- edits: validated in the form, written in a worker ------------------------------------

    def _form(self, title: str, form: tuple[list[Field], Any],
              then: Callable[[Any], None], action: str = "Save") -> None:
        from fieldtech.screens.forms import FormScreen

        fields, build = form
        self.push_screen(FormScreen(title, fields, build, action),
                         lambda result: result is not None and then(result))

    @work(thread=True, group="save")
    def _save(self, what: str, write: Callable[[], Any], open_id: str | None = None,
              keep: str | None = None) -> None:
        try:
            write()
        except ValidationError as exc:  # forms validate first; this is a last line of defence
            self.call_from_thread(self.notify, f"Not saved: {exc}", severity="error")
            return
        except (FieldtechError, OSError) as exc:
            self.call_from_thread(self.notify, f"Not saved: {exc}", severity="error")
            return
        self.call_from_thread(self._saved, what, open_id, keep)

    def _saved(self, what: str, open_id: str | None, keep: str | None) -> None:
        self.notify(f"{what} — saved, will sync.", timeout=3)
        if open_id is not None:
            self.controller_screen().forget(open_id)
            self.open_controller(open_id)
        self.load_fleet(keep=open_id or keep)

    def new_customer(self) -> None:
        def save(customer: Any) -> None:
            self._save(f"Customer {customer.name}", lambda: self.store.create_customer(customer),
                       keep=customer.id)
        self._form("New customer", customer_form(None), save)

    def edit_customer(self, customer_id: str) -> None:
        customer = self.store.customer(customer_id)

        def save(k: Any) -> None:
            changes = {f: getattr(k, f) for f in ("name", "email", "phone", "address", "plan",
                                                   "self_management", "membership")}
            self._save(f"Customer {k.name}",
                       lambda: self.store.update_customer(customer_id, **changes),
                       keep=customer_id)
        self._form(f"Customer — {customer.name}", customer_form(customer), save)

    def new_controller(self, customer_id: str | None) -> None:
        if customer_id is None:
            self.notify("Create a customer first (n).", severity="warning")
            return
        customer = self.store.customer(customer_id)
        usage = self._topbar[1]  # last known usage, as the top bar shows it
        warning = usage.controller_warning() if usage else None
        if warning:
            self.notify(warning, severity="warning", timeout=8)

        # Over the limit as last known, it is still kept and sent: the cloud decides (a
        # colleague may have freed a slot). Refused, it stays here as a draft with the reason.
        over = bool(usage and usage.controllers_used >= usage.controllers_limit)

        def save(c: Controller) -> None:
            what = f"Controller {c.name}" + (" (over the plan's limit as last known: the "
                                             "cloud decides)" if over else "")
            self._save(what, lambda: self.store.create_controller(c), open_id=c.id)
        title = f"New controller for {customer.name} (no hardware needed)"
        self._form(title, self._serial_checked(new_controller_form(customer)), save)

    def _update(self, controller: Controller, what: str, **changes: Any) -> None:
        self._edit(controller, what, lambda _current: changes)

    def _edit(self, controller: Controller, what: str,
              change: Callable[[Controller], dict[str, Any]]) -> None:
        """Save `change(record as stored)`: never a stale copy of what the screen showed."""
        self._save(what, lambda: self.store.edit_controller(controller.id, change),
                   open_id=controller.id)

    def edit_controller(self, controller: Controller) -> None:
        def save(c: Controller) -> None:
            fields = ("name", "model", "zone_count", "serial", "timezone", "location", "notes")
            changes = {f: getattr(c, f) for f in fields}

            def change(current: Controller) -> dict[str, Any]:
                if c.zone_count == current.zone_count:
                    return changes
                resized = replace(current, zone_count=c.zone_count).copy_config_from(current)
                return {**changes, "config": resized.config}
            self._edit(controller, f"Controller {c.name}", change)
        self._form(f"Controller — {controller.name}",
                   self._serial_checked(controller_form(controller)), save)

    def _serial_checked(self, form: tuple[list[Field], Any]) -> tuple[list[Field], Any]:
        """A controller form that also refuses a serial another controller here holds, next
        to the field (the store refuses it too, but only after the form has closed)."""
        fields, build = form

        def checked(values: dict[str, Any]) -> tuple[Controller, list[FieldError]]:
            record, errors = build(values)
            if not any(e.field == "serial" for e in errors):
                errors = errors + self.store.serial_errors(record)
            return record, errors
        return fields, checked

    def edit_zone(self, controller: Controller, zone: Zone) -> None:
        def save(z: Zone) -> None:
            self._edit(controller, f"Zone {z.number}", lambda c: {"config": replace(
                c.config, zones=[z if x.number == z.number else x for x in c.config.zones])})
        self._form(f"Zone {zone.number} — {controller.name}",
                   zone_form(zone, controller.zone_count), save)

    def edit_program(self, controller: Controller, index: int | None) -> None:
        programs = controller.config.programs
        program = programs[index] if index is not None else Program(name="New program")

        def save(p: Program) -> None:
            def change(c: Controller) -> dict[str, Any]:
                current = list(c.config.programs)
                if index is None or index >= len(current):
                    current.append(p)
                else:
                    current[index] = p
                return {"config": replace(c.config, programs=current)}
            self._edit(controller, f"Program {p.name}", change)
        self._form(f"Program — {program.name}", program_form(program, controller.zone_count),
                   save)

    def delete_program(self, controller: Controller, index: int) -> None:
        program = controller.config.programs[index]

        def answer(yes: bool | None) -> None:
            if yes:
                self._edit(controller, f"Program {program.name} deleted", lambda c: {
                    "config": replace(c.config, programs=[
                        p for p in c.config.programs if p != program])})
        from fieldtech.screens.forms import ConfirmScreen

        self.push_screen(ConfirmScreen(f"Delete program “{program.name}”?"), answer)

    def delete_controller(self, controller_id: str) -> None:
        """Ask, then delete a controller: here now, in the cloud at the next sync."""
        row = self.store.controller_row(controller_id)
        what = f"controller “{row.name}” ({row.customer_name}, {row.serial or 'not linked'})"
        self._confirm_delete(what, self.store.never_synced("controller", controller_id),
                             lambda: self.store.delete_controller(controller_id),
                             gone=controller_id)

    def delete_customer(self, customer_id: str) -> None:
        """Ask, then delete a customer who has no controllers left (the cloud's rule too)."""
        if why := self.store.customer_still_needed(customer_id):
            self.notify(f"Not deleted: {why}", severity="warning", timeout=6)
            return
        customer = self.store.customer(customer_id)
        self._confirm_delete(f"customer “{customer.name}”",
                             self.store.never_synced("customer", customer_id),
                             lambda: self.store.delete_customer(customer_id))

    def _confirm_delete(self, what: str, never_synced: bool, delete: Callable[[], Any],
                        gone: str | None = None) -> None:
        if never_synced:
            after = ("It was never sent to the cloud: it goes away now with its pending "
                     "edits, and this cannot be undone.")
            done = "Deleted (it was never in the cloud)."
        else:
            after = ("It is removed from the cloud at the next sync; until then, pending "
                     "changes (u, then x to discard) bring it back.")
            done = "Deleted: removed from the cloud at the next sync (u, then x, undoes it)."
        from fieldtech.screens.forms import ConfirmScreen

        self.push_screen(ConfirmScreen(f"Delete {what}? {after}"),
                         lambda yes: yes and self._delete(delete, done, gone))

    @work(thread=True, group="save")
    def _delete(self, delete: Callable[[], Any], done: str, gone: str | None) -> None:
        try:
            delete()
        except FieldtechError as exc:  # e.g. a controller added for the customer meanwhile
            self.call_from_thread(self.notify, f"Not deleted: {exc}", severity="warning",
                                  timeout=6)
            return
        self.call_from_thread(self._deleted, done, gone)

    def _deleted(self, done: str, gone: str | None) -> None:
        shown = (gone is not None and self.is_screen_installed("controller")
                 and self.screen is self.controller_screen())
        if gone is not None:
            self.controller_screen().forget(gone)
            self.controller_gone(gone, done)  # back to the fleet if it shows, saying `done`
        if not shown:
            self.notify(done, timeout=4)
        self.load_fleet()

    def edit_rain_delay(self, controller: Controller) -> None:
        def save(result: dict[str, Any]) -> None:
            self._edit(controller, "Rain delay", lambda c: {
                "config": replace(c.config, rain_delay_until=result["until"])})
        self._form(f"Rain delay — {controller.name}",
                   rain_delay_form(controller.config.rain_delay_until), save)

    # -- configuration files ------------------------------------------------------------------

    def export_config(self, controller: Controller) -> None:
        default = self.data_dir / "exports" / f"{_slug(controller.name)}-{controller.id[:8]}.toml"

        def write(path: str) -> None:
            self._file_job(lambda: config_files.export_controller(controller, Path(path)),
                           f"Exported to {path}")
        self._form("Export configuration to", path_form("File", str(default)), write, "Export")

    def save_template(self, controller: Controller) -> None:
        default = templates_dir(self.data_dir) / f"{_slug(controller.name)}.toml"

        def write(path: str) -> None:
            self._file_job(lambda: config_files.export_controller(controller, Path(path)),
                           f"Template saved: {Path(path).name}")
        self._form("Save as template", path_form("Template file", str(default)), write)

    @work(thread=True, group="files")
    def _file_job(self, job: Callable[[], Any], done: str) -> None:
        try:
            job()
        except OSError as exc:
            self.call_from_thread(self.notify, f"Could not write: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, done, timeout=4)

    # The path typed at the last `i`, offered again: a failed import is fixed and retried
    # without retyping it, and one file is easily applied to several controllers.
    import_path: str | None = None

    def import_config(self, controller: Controller) -> None:
        exports = self.data_dir / "exports"
        latest = config_files.newest(exports)
        default = self.import_path or (str(latest) if latest else f"{exports}/")

        def chosen(path: str) -> None:
            self.import_path = path
            self._import(controller, Path(path).expanduser())
        self._form("Import configuration from", path_form("File", default), chosen, "Import")

    def apply_template(self, controller: Controller) -> None:
        found = config_files.templates(templates_dir(self.data_dir))
        if not found:
            self.notify("No templates yet: press T on a controller to save one.", timeout=5)
            return
        field = Field("path", "Template", str(found[0]), "select",
                      options=[(p.stem, str(p)) for p in found])
        self._form(f"Apply a template to {controller.name}",
                   ([field], lambda v: (v["path"], [])),
                   lambda path: self._import(controller, Path(path)), "Apply")

    @work(thread=True, group="files")
    def _import(self, controller: Controller, path: Path) -> None:
        try:
            config = config_files.read_config(path, controller.zone_count)
        except ValidationError as exc:
            self.call_from_thread(self.notify, "Not imported — nothing changed:\n"
                                  + _error_lines(exc.errors), severity="error", timeout=12)
            return
        except OSError as exc:
            self.call_from_thread(self.notify, f"Could not read {path}: "
                                  f"{exc.strerror or exc}. Nothing changed.",
                                  severity="error")
            return
        self.call_from_thread(self._update, controller, f"Imported {path.name}", config=config)

    def copy_config_from(self, controller: Controller) -> None:
        def picked(source_id: str | None) -> None:
            if not source_id or source_id == controller.id:
                return
            self._copy(controller, source_id)
        self.push_screen(SwitcherScreen([], finder=True), picked)

    @work(thread=True, group="files")
    def _copy(self, controller: Controller, source_id: str) -> None:
        try:
            source = self.store.controller(source_id)
        except NotFound:  # deleted (here or by a sync) since the finder listed it
            self.call_from_thread(self.notify, "Not copied: that controller no longer exists. "
                                  "Nothing changed.", severity="error")
            return
        copied = controller.copy_config_from(source)
        self.call_from_thread(self._update, controller, f"Copied from {source.name}",
                              config=copied.config)

    # -- the cloud: sync, sign-in, plans and the outbox ---------------------------------------

    def _start_link(self) -> None:
        self._read_link()
        self.set_interval(30, self._repaint_topbars)  # the age of the last sync
        if self.sync_every_s:
            self.set_interval(self.sync_every_s, self._periodic_sync)

    @work(thread=True, group="link")
    def _read_link(self) -> None:
        self.link.load()
        self.call_from_thread(self._repaint_topbars)
        if self.link.connected and self.sync_every_s:
            self.call_from_thread(self._sync, False)  # the start-up sync

    def _repaint_topbars(self) -> None:
        for screen in self.screen_stack:
            self.refresh_topbar(screen)

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

    def sync_now(self) -> None:
        """Sync in the background unless a sync is running (screens call this after a change
        made in the cloud, e.g. a redeemed plan code, to pull it)."""
        if self.link.connected and not self.link.busy:
            self._sync(False)

    @work(thread=True, group="sync")
    def _sync(self, manual: bool) -> None:
        was = self.link.state
        try:
            report = self.link.sync(started=lambda: self.call_from_thread(self._repaint_topbars))
        except Exception as exc:  # a bug or a disk error: say so, keep the app and the outbox
            self.call_from_thread(self.notify, f"Sync failed: {exc}", severity="error")
            self.call_from_thread(self._repaint_topbars)
            return
        if report is None:
            if manual:
                self.call_from_thread(self.notify, "A sync is already running.", timeout=2)
            return
        current = self.current_controller
        gone = bool(current) and self.store.record_data("controller", current) is None
        self.call_from_thread(self._synced, report, self._read_topbar(), manual,
                              was is LinkState.SIGN_IN, gone)

    def _synced(self, report: SyncReport, topbar: tuple, manual: bool, was_signed_out: bool,
                current_gone: bool) -> None:
        self._topbar = topbar
        self._repaint_topbars()
        if report.changed_ids or report.applied or report.rejected or report.conflicts:
            self.load_fleet()
            current = self.current_controller
            if current and self.is_screen_installed("controller"):
                if current_gone:
                    self.controller_gone(current, "It was removed in the cloud.")
                else:
                    self.controller_screen().reload(current)
        for screen in self.screen_stack:
            screen.post_message(Synced(report))
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

    def action_login(self) -> None:
        from fieldtech.screens.login import LoginScreen

        if not isinstance(self.screen, LoginScreen):
            self.push_screen(LoginScreen(self.link.base_url or ""))

    def signed_in(self, url: str, email: str, token: str) -> None:
        """The login screen got a token. Override to keep it (e.g. in the OS keyring); by
        default it lives in memory for this session. Connects, then syncs."""
        from fieldtech.cloud.api import APP_RETRY, CloudAPI

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
        self._repaint_topbars()
        self.sync_now()

    def action_pending(self) -> None:
        from fieldtech.screens.pending import PendingScreen

        if not isinstance(self.screen, PendingScreen):
            self.push_screen(PendingScreen())

    def action_plans(self) -> None:
        from fieldtech.screens.plans import PlansScreen

        if isinstance(self.screen, PlansScreen):
            return
        customer_id = None
        if isinstance(self.screen, FleetScreen):
            current = self.screen.fleet_list.current
            customer_id = current[0].customer_id if current else None
        elif (row := self.rows_by_id.get(self.current_controller or "")) is not None:
            customer_id = row.customer_id
        self.push_screen(PlansScreen(customer_id))


def _own_actions(node: object) -> set[str]:
    """The actions bound in fieldtech's own classes of `node` (not in Textual's bases)."""
    actions: set[str] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("fieldtech"):
            for b in cls.__dict__.get("BINDINGS", ()):
                actions.add(b.action if isinstance(b, Binding) else b[1])
    return actions


def _error_lines(errors: list[FieldError], most: int = 6) -> str:
    """One line per problem, the field first; the rest counted, not silently dropped."""
    lines = [f"• {e.field or 'file'}: {e.message}" for e in errors[:most]]
    if len(errors) > most:
        lines.append(f"… and {len(errors) - most} more.")
    return "\n".join(lines)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "controller"
