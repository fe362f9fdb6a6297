"""One controller: zones, programs, details (rain delay, suspensions, notes), pending edits.

One instance lives for the whole session; switching controllers refills it instead of building
a new screen, which is what keeps a switch within a frame or two.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from fieldtech.domain.models import Controller
from fieldtech.offline_store.store import FleetRow, OutboxEntry
from fieldtech.screens.topbar import TopBar
from fieldtech.widgets.fleet_list import STATE_MARK

if TYPE_CHECKING:
    from fieldtech.app import FieldtechApp


class ControllerScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.fleet", "Fleet", id="fleet"),
        Binding("e", "edit", "Edit", id="edit"),
        Binding("d", "details", "Details", id="details"),
        Binding("r", "rain_delay", "Rain delay", id="rain_delay"),
        Binding("a", "add_program", "Add program", id="add_program", show=False),
        Binding("delete", "delete_program", "Delete program", id="delete_program", show=False),
        Binding("p", "pin", "Pin", id="pin"),
        Binding("o", "onsite", "On site", id="onsite", show=False),
        Binding("x", "export", "Export", id="export", show=False),
        Binding("i", "import", "Import", id="import", show=False),
        Binding("t", "template", "Template", id="template", show=False),
        Binding("T", "save_template", "Save as template", id="save_template", show=False),
        Binding("y", "copy_from", "Copy from…", id="copy_from", show=False),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False),
    ]
    TABS = ("zones", "programs", "details-tab", "pending")

    app: FieldtechApp

    def __init__(self) -> None:
        super().__init__()
        self.controller: Controller | None = None
        self.row: FleetRow | None = None
        self._ready = False  # composed and mounted: a load before that waits for on_mount
        self._waiting: str | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static("", id="ctl-header")
        with TabbedContent(id="ctl-tabs", initial="zones"):
            with TabPane("Zones", id="zones"):
                yield DataTable(id="zone-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Programs", id="programs"):
                yield DataTable(id="program-table", cursor_type="row")
            with TabPane("Details", id="details-tab"):
                yield Static("", id="details")
            with TabPane("Pending", id="pending"):
                yield DataTable(id="pending-table", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#zone-table", DataTable).add_columns(
            "#", "Zone", "On", "Min", "Cycle/soak", "MV", "Adj", "Suspended")
        self.query_one("#program-table", DataTable).add_columns(
            "Program", "On", "Schedule", "Starts", "Zones")
        self.query_one("#pending-table", DataTable).add_columns("When", "Edit", "State", "Why")
        self._ready = True
        if self._waiting:
            self.load(self._waiting)

    # -- loading ------------------------------------------------------------------------------

    def load(self, controller_id: str) -> None:
        """Show `controller_id` (read in a worker; shown once the screen is mounted)."""
        if not self._ready:
            self._waiting = controller_id
            return
        self._read(controller_id)

    @work(thread=True, exclusive=True, group="controller")
    def _read(self, controller_id: str) -> None:
        store = self.app.store
        controller = store.controller(controller_id)
        row = store.controller_row(controller_id)
        pending = store.outbox_for("controller", controller_id)
        self.app.call_from_thread(self.show, controller, row, pending)

    def show(self, controller: Controller, row: FleetRow, pending: list[OutboxEntry]) -> None:
        same = self.controller is not None and self.controller.id == controller.id
        self.controller, self.row = controller, row
        self.app.refresh_topbar(self)
        pin = " 📌" if controller.id in self.app.settings.pinned else ""
        serial = controller.serial or "not linked"
        self.query_one("#ctl-header", Static).update(
            f"[b]{controller.name}[/b]{pin} — {row.customer_name}\n"
            f"{STATE_MARK[row.state]} {row.state.label} · {controller.model} · "
            f"{controller.zone_count} zones · {serial}"
            + (f" · [red]⚠ {row.fault}[/red]" if row.fault else "")
            + (f" · ✎ {len(pending)} pending" if pending else "")
        )
        self._fill_zones(controller, keep=same)
        self._fill_programs(controller, keep=same)
        self._fill_details(controller)
        self._fill_pending(pending)
        if not same or self.focused is None:
            self._focus_tab()

    def _focus_tab(self) -> None:
        """Arrow keys go to the table of the tab on show, so ↓ then e edits the next zone."""
        pane = self.query_one(TabbedContent).active_pane
        tables = pane.query(DataTable) if pane is not None else []
        if tables:
            tables.first().focus()

    def on_tabbed_content_tab_activated(self) -> None:
        self._focus_tab()

    def _fill_zones(self, c: Controller, keep: bool) -> None:
        table = self.query_one("#zone-table", DataTable)
        cursor = table.cursor_row if keep else 0
        table.clear()
        today = datetime.now(UTC).date()
        for z in c.config.zones:
            cs = f"{z.cycle_minutes}/{z.soak_minutes}" if z.cycle_minutes else "—"
            suspended = z.suspended_until.isoformat() if (
                z.suspended_until and z.suspended_until >= today) else ""
            table.add_row(str(z.number), z.name, "✓" if z.enabled else "✗", str(z.run_minutes),
                          cs, "✓" if z.master_valve else "", f"{z.seasonal_adjust_pct}%",
                          suspended, key=str(z.number))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)

    def _fill_programs(self, c: Controller, keep: bool) -> None:
        table = self.query_one("#program-table", DataTable)
        cursor = table.cursor_row if keep else 0
        table.clear()
        for i, p in enumerate(c.config.programs):
            zones = ", ".join(f"{z}:{m}" for z, m in sorted(p.zone_minutes.items()) if m)
            table.add_row(p.name, "✓" if p.enabled else "✗", p.describe_schedule(),
                          " ".join(p.start_times), zones or "—", key=str(i))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)

    def _fill_details(self, c: Controller) -> None:
        rain = c.config.rain_delay_until
        now = datetime.now(UTC)
        rain_text = (f"until {rain.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
                     if rain and rain > now else "none")
        suspended = [f"{z.number} {z.name} until {z.suspended_until}"
                     for z in c.config.zones if z.suspended_until]
        self.query_one("#details", Static).update(
            f"[b]Serial[/b]      {c.serial or 'not linked (bind on site)'}\n"
            f"[b]Model[/b]       {c.model}, {c.zone_count} zones\n"
            f"[b]Time zone[/b]   {c.timezone}\n"
            f"[b]Location[/b]    {c.location or '—'}\n"
            f"[b]Rain delay[/b]  {rain_text}\n"
            f"[b]Suspended[/b]   {'; '.join(suspended) or 'no zone'}\n"
            f"[b]Notes[/b]       {c.notes or '—'}"
        )

    def _fill_pending(self, pending: list[OutboxEntry]) -> None:
        table = self.query_one("#pending-table", DataTable)
        table.clear()
        for e in pending:
            table.add_row(e.created_at.replace("T", " ")[:16], e.describe(), e.state,
                          e.message or "")

    # -- actions ------------------------------------------------------------------------------

    def _active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = self.TABS[(self.TABS.index(tabs.active) + step) % len(self.TABS)]

    def action_edit(self) -> None:
        if self.controller is None:
            return
        tab = self._active_tab()
        if tab == "zones":
            table = self.query_one("#zone-table", DataTable)
            if table.row_count:
                self.app.edit_zone(self.controller, self.controller.config.zones[table.cursor_row])
        elif tab == "programs":
            table = self.query_one("#program-table", DataTable)
            if table.row_count:
                self.app.edit_program(self.controller, table.cursor_row)
        else:
            self.action_details()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id in ("zone-table", "program-table"):
            self.action_edit()

    def action_details(self) -> None:
        if self.controller:
            self.app.edit_controller(self.controller)

    def action_rain_delay(self) -> None:
        if self.controller:
            self.app.edit_rain_delay(self.controller)

    def action_add_program(self) -> None:
        if self.controller:
            self.query_one(TabbedContent).active = "programs"
            self.app.edit_program(self.controller, None)

    def action_delete_program(self) -> None:
        if self.controller and self._active_tab() == "programs":
            table = self.query_one("#program-table", DataTable)
            if table.row_count:
                self.app.delete_program(self.controller, table.cursor_row)

    def action_onsite(self) -> None:
        self.app.open_onsite(self.controller.id if self.controller else None)

    def action_pin(self) -> None:
        if self.controller:
            self.app.toggle_pin(self.controller.id)

    def action_export(self) -> None:
        if self.controller:
            self.app.export_config(self.controller)

    def action_import(self) -> None:
        if self.controller:
            self.app.import_config(self.controller)

    def action_template(self) -> None:
        if self.controller:
            self.app.apply_template(self.controller)

    def action_save_template(self) -> None:
        if self.controller:
            self.app.save_template(self.controller)

    def action_copy_from(self) -> None:
        if self.controller:
            self.app.copy_config_from(self.controller)
