"""Home: the fleet — customers and their controllers, `/` to filter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widget import AwaitMount
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from fieldtech.domain.errors import FieldError, FieldtechError
from fieldtech.offline_store.paths import templates_dir
from fieldtech.screens.flows import EditFlows
from fieldtech.screens.messages import OpenController, OpenOnsite, RecordsChanged
from fieldtech.screens.topbar import TopBar
from fieldtech.services.fleet_index import FleetIndex, InOrder
from fieldtech.services.queries import FLEET_FIELDS, FLEET_FLAGS, FLEET_SORTS, help_lines
from fieldtech.services.settings import VIEW_NAME_MAX, View
from fieldtech.widgets.filter_box import FilterBox
from fieldtech.widgets.fleet_list import FleetList
from fieldtech.widgets.key_bar import KeyBar

# The forms, the config files and the campaigns load with the first key that needs them: they
# are not needed for the first paint (tests/tui/test_start_imports.py).
if TYPE_CHECKING:
    from fieldtech.services.campaigns import BulkChange, Kind

WELCOME = """[b]Welcome to fieldtech.[/b]

Your store is empty. Start by creating a customer, then a controller for them — no \
hardware is needed: controllers can be prepared offline and bound to a device on site later.

  [b]n[/b]  new customer        [b]c[/b]  new controller for the customer
  [b]L[/b]  sign in to a cloud account (your customers and controllers sync)
  [b]?[/b]  every key           [b]q[/b]  quit

To explore with a realistic account first, quit and run [b]fieldtech demo[/b].
"""


class FleetScreen(EditFlows):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("n", "new_customer", "New customer", id="new_customer"),
        Binding("c", "new_controller", "New controller", id="new_controller"),
        Binding("e", "edit_customer", "Edit customer", id="edit_customer", show=False),
        Binding("o", "onsite", "On site", id="onsite", show=False),
        Binding("D", "delete_record", "Delete", id="delete_record",
                show=False),
        Binding("space", "mark", "Mark", id="mark", show=False),
        Binding("v", "mark_range", "Mark range", id="mark_range", show=False),
        Binding("asterisk", "mark_all", "Mark all shown", id="mark_all", show=False),
        Binding("O", "sort", "Sort", id="sort", show=False),
        Binding("V", "views", "Views", id="views", show=False),
        Binding("W", "save_view", "Save view", id="save_view", show=False),
        Binding("B", "campaign", "Bulk change", id="campaign", show=False),
        Binding("K", "campaigns", "Campaigns", id="campaigns", show=False),
        Binding("C", "new_controllers", "New controllers (many)", id="new_controllers",
                show=False),
        Binding("I", "import_csv", "Import CSV", id="import_csv", show=False),
        Binding("E", "export_csv", "Export CSV", id="export_csv", show=False),
        Binding("J", "work_orders", "Work orders", id="work_orders", show=False),
        Binding("A", "agreement", "Agreement", id="agreement", show=False),
    ]

    FILTER_HELP = help_lines(FLEET_FIELDS, FLEET_FLAGS)
    AUTO_FOCUS = "#fleet"  # never the hidden filter box; show_rows unfocuses an empty list

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")  # the `/` filter box goes under it when first opened
        yield Static(WELCOME, id="empty")
        yield FleetList(id="fleet")
        yield KeyBar()

    def on_mount(self) -> None:
        fleet = self.services.fleet
        self.sort = "customer"  # a column of FLEET_SORTS; "-name" is descending
        self._followed: str | None = fleet.current
        self._ordered: FleetIndex | None = None  # the index whose orders are built ahead
        self.show_rows(rows=fleet.rows or fleet.first_rows)

    def on_screen_resume(self) -> None:
        self.follow_current()

    def follow_current(self) -> None:
        """The cursor goes to the controller last opened, once; a later reload (a sync) keeps
        it wherever the person has moved it since. Done when a controller opens over this
        screen (the app), so the frame kept for coming back (Esc) shows it already."""
        current = self.services.fleet.current
        if current and current != self._followed:
            self._followed = current
            self.fleet_list.follow(current)

    @property
    def fleet_list(self) -> FleetList:
        return self.query_one("#fleet", FleetList)

    def _filter_box(self) -> FilterBox | None:
        """The `/` filter box; None until first opened (`_add_filter_box`)."""
        return next(iter(self.query("#filter").results(FilterBox)), None)

    def _add_filter_box(self) -> tuple[FilterBox, AwaitMount]:
        """Mount the filter box on first use, under the top bar (where it was composed):
        Textual's Input styles took 10-16 ms to parse before the first paint, for a box that
        is hidden until `/`. It is in the DOM at once; the AwaitMount says when it is ready."""
        box = FilterBox(placeholder="Filter: name, customer, address or serial", id="filter")
        return box, self.mount(box, after="#topbar")

    def _filter_text(self) -> str:
        box = self._filter_box()
        return box.value if box is not None else ""

    def show_rows(self, keep: str | None = None, rows: list | None = None,
                  stay: bool = True) -> None:
        """Show the app's rows (or `rows`, the first screenful), through the filter if typed.

        The cursor goes to `keep`, else (`stay`) stays on the record it is on: a reload after
        a sync must never move it, or the next `c` adds a controller to someone else."""
        fleet = self.services.fleet
        if keep is None and stay:
            keep = self.fleet_list.current_id
        rows = fleet.rows if rows is None else rows
        self.query_one("#empty").set_class(not rows, "visible")
        self.fleet_list.display = bool(rows)
        # An empty list cannot take focus (not even from AUTO_FOCUS racing this call), so the
        # footer shows the welcome's keys.
        self.fleet_list.can_focus = bool(rows)
        if not rows:
            self.set_focus(None)
        elif not (self.focused and self.focused.id in ("filter", "finder-input")):
            self.fleet_list.focus()  # but never away from a filter or switcher being typed in
        query = self._filter_text()
        sort = getattr(self, "sort", "customer")
        if (query or sort != "customer") and fleet.index is not None:
            index = fleet.index
            shown = index.filter(query) if query else range(len(index))
            rows = InOrder(index, index.sort(shown, sort))
        fleet_list = self.fleet_list
        fleet_list.grouped = sort == "customer"  # sorted by a column: one flat list
        if fleet_list.marked and fleet.rows_by_id:
            fleet_list.keep_marks(set(fleet.rows_by_id))
        fleet_list.set_rows(rows, keep=keep)
        if fleet.index is not None and fleet.index is not self._ordered:
            self._ordered = fleet.index
            self.call_after_refresh(self._build_orders, fleet.index)  # after this paint

    @work(thread=True, exclusive=True, group="fleet-orders")
    def _build_orders(self, index: FleetIndex) -> None:
        """Every column's order, built ahead once the fleet is read: the first `O` by a
        column is then as quick as the next (100,000 rows: 40-90 ms painted, now 2-9). A newer
        index (a reload) cancels this one's. It waits while keys are answered (the app's key
        waits), as the read before it did: its C sorts kept a key waiting up to ~40 ms."""
        worker = get_current_worker()
        index.prepare(lambda: worker.is_cancelled, self.services.key_waits())

    async def action_filter(self) -> None:
        box = self._filter_box()
        if box is None:
            box, mounted = self._add_filter_box()
            await mounted
        box.open()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.show_rows(stay=False)  # typing a filter starts at its first match

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.fleet_list.focus()

    def action_clear_filter(self) -> None:
        if (box := self._filter_box()) is not None and box.close():
            self.show_rows()
            self.fleet_list.focus()

    # -- marks, sorting and views ---------------------------------------------------------------

    def action_mark(self) -> None:
        self.fleet_list.toggle_mark()

    def action_mark_range(self) -> None:
        self.fleet_list.mark_range()

    def action_mark_all(self) -> None:
        self.fleet_list.mark_all()

    def on_cursor_list_marks_changed(self, message: FleetList.MarksChanged) -> None:
        n = message.count
        self.query_one("#topbar", TopBar).set_note(f"{n} marked" if n else "")

    def action_sort(self) -> None:
        """O: the next column (customer, name, status, …); the order says itself."""
        columns = list(FLEET_SORTS)
        now = self.sort.lstrip("-")
        self.set_view(self._filter_text(),
                      columns[(columns.index(now) + 1) % len(columns)])
        self.notify(f"Sorted by {self.sort} (O: the next column).", timeout=2)

    def set_view(self, query: str, sort: str) -> None:
        self.sort = sort if sort.lstrip("-") in FLEET_SORTS else "customer"
        box = self._filter_box()
        if box is None and query:  # a saved view's filter
            box, _ = self._add_filter_box()
        if box is not None:
            if query:
                box.add_class("visible")
            with box.prevent(Input.Changed):
                box.value = query
        self.show_rows(stay=True)

    def action_views(self) -> None:
        views = self.services.settings.views
        if not views:
            self.notify("No saved views yet: filter (/) and sort (O), then W to save.",
                        timeout=5)
            return
        options = [(f"{v.name} — {v.filter or 'everything'}"
                    + (f", by {v.sort}" if v.sort and v.sort != "customer" else ""), v)
                   for v in views]
        from fieldtech.forms.fields import Field

        field = Field("view", "View", views[0], kind="select", options=options)
        self.open_form("Saved views", ([field], lambda values: (values["view"], [])),
                       lambda view: self.set_view(view.filter, view.sort), action="Show")

    def action_save_view(self) -> None:
        query = self._filter_text()
        settings = self.services.settings

        def build(values: dict) -> tuple[View, list]:
            name = str(values["name"]).strip()
            if not name or len(name) > VIEW_NAME_MAX:
                return View(name), [FieldError("name", f"A name of 1 to {VIEW_NAME_MAX} "
                                                       "characters.")]
            return View(name, query, self.sort), []

        def keep(view: View) -> None:
            settings.save_view(view)
            settings.save()
            self.notify(f"View “{view.name}” saved (V lists the views).", timeout=3)
        from fieldtech.forms.fields import Field

        field = Field("name", "Name", "", hint=f"filter “{query or 'everything'}”, "
                                                  f"sorted by {self.sort}")
        self.open_form("Save this view", ([field], build), keep)

    # -- campaigns ------------------------------------------------------------------------------

    def action_campaign(self) -> None:
        """B: a bulk change on the marked controllers — which change, what it sets, then its
        dry run on a screen of its own (nothing is written before `a` or `n` there)."""
        from fieldtech.forms.campaigns import change_form, kind_form
        from fieldtech.services import config_files

        marked = [r.controller_id for r in self.services.fleet.rows
                  if r.controller_id in self.fleet_list.marked]
        if not marked:
            self.notify("Mark controllers first: space, v for a range, * for all shown.",
                        timeout=5)
            return
        templates = config_files.templates(templates_dir(self.services.data_dir))

        def chosen_kind(kind: Kind) -> None:
            form = change_form(kind, templates, self.services.store.today())
            if not form[0]:  # resume: nothing to ask
                self._dry_run(form[1]({})[0], marked)
                return
            self.open_form(f"{kind.label} on {len(marked)} controllers", form,
                           lambda change: self._dry_run(change, marked), action="Dry run")
        self.open_form("Bulk change", kind_form(len(marked)), chosen_kind, action="Next")

    @work(thread=True, exclusive=True, group="campaign")
    def _dry_run(self, change: BulkChange, marked: list[str]) -> None:
        try:
            plan = self.services.campaigns.dry_run(change, marked)
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, f"Not possible: {exc}", severity="error")
            return
        from fieldtech.screens.campaign import CampaignScreen

        self.app.call_from_thread(self.app.push_screen, CampaignScreen(plan))

    def action_new_controllers(self) -> None:
        """C: N controllers for the customer under the cursor, from a template, one form."""
        from fieldtech.forms.campaigns import bulk_controllers_form
        from fieldtech.services import config_files

        customer_id = self._customer_under_cursor()
        if customer_id is None:
            self.notify("Create a customer first (n).", severity="warning")
            return
        customer = self.services.store.customer(customer_id)
        edits = self.services.edits
        templates = config_files.templates(templates_dir(self.services.data_dir))
        timezone = edits.new_controller_defaults(customer_id).get("timezone", "UTC")
        self.open_form(f"New controllers for {customer.name} (no hardware needed)",
                       bulk_controllers_form(customer, templates, timezone),
                       lambda made: self.save(lambda: edits.create_controllers(*made)))

    def action_import_csv(self) -> None:
        from fieldtech.forms.campaigns import csv_file_form

        default = str(self.services.data_dir / "exports" / "customers.csv")
        self.open_form("Import customers and controllers (CSV)",
                       csv_file_form("File", default), self._plan_import, action="Check")

    @work(thread=True, exclusive=True, group="csv")
    def _plan_import(self, path: Path) -> None:
        from fieldtech.services import csv_io

        try:
            plan = csv_io.plan_import(self.services.store, path)
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=8)
            return
        self.app.call_from_thread(self._ask_import, plan)

    def _ask_import(self, plan: Any) -> None:
        report = plan.report(most=8)
        if plan.quota or not (plan.customers or plan.controllers):
            self.notify(report, severity="error", timeout=12)
            return
        skip = " The bad rows are left out." if plan.errors else ""
        self.confirm(f"{report}{skip} Write the good rows now?", lambda: self._write_import(plan))

    @work(thread=True, exclusive=True, group="csv")
    def _write_import(self, plan: Any) -> None:
        from fieldtech.services import csv_io

        try:
            customers, controllers = csv_io.write_import(self.services.store, plan,
                                                         skip_bad=True)
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, f"Not imported: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Imported {customers} customers and "
                                  f"{controllers} controllers: they sync with the next sync.")
        self.app.call_from_thread(self.post_message, RecordsChanged())

    def action_export_csv(self) -> None:
        from fieldtech.forms.campaigns import csv_file_form

        default = str(self.services.data_dir / "exports" / "fleet.csv")
        self.open_form("Export the fleet (CSV)", csv_file_form("File", default),
                       self._export, action="Export")

    @work(thread=True, exclusive=True, group="csv")
    def _export(self, path: Path) -> None:
        from fieldtech.services import csv_io

        try:
            rows = csv_io.export_csv(self.services.store, path)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Could not write: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Wrote {rows} rows to {path}.", timeout=5)

    def action_work_orders(self) -> None:
        """J: the day's visits in route order; `n` there plans one for this customer."""
        from fieldtech.screens.work_orders import WorkOrdersScreen

        self.app.push_screen(WorkOrdersScreen(self._customer_under_cursor()))

    def action_agreement(self) -> None:
        """A: the agreements of the customer under the cursor (sign, change, end)."""
        from fieldtech.screens.contracts import AgreementsScreen

        if (customer_id := self._customer_under_cursor()) is not None:
            self.app.push_screen(AgreementsScreen(customer_id))

    def action_campaigns(self) -> None:
        from fieldtech.screens.campaign import CampaignsScreen

        self.app.push_screen(CampaignsScreen())

    def _customer_under_cursor(self) -> str | None:
        current = self.fleet_list.current
        return current[0].customer_id if current else None

    def on_fleet_list_selected(self, event: FleetList.Selected) -> None:
        if event.is_customer:
            self.action_edit_customer()
        else:
            self.post_message(OpenController(event.row.controller_id))

    def action_onsite(self) -> None:
        self.post_message(OpenOnsite())

    # -- edits ----------------------------------------------------------------------------------

    def action_new_customer(self) -> None:
        from fieldtech.forms.records import customer_form

        edits = self.services.edits
        self.open_form("New customer", customer_form(None), lambda customer: self.save(
            lambda: edits.create_customer(customer)))

    def action_edit_customer(self) -> None:
        if (customer_id := self._customer_under_cursor()) is None:
            return
        from fieldtech.forms.records import customer_form

        edits = self.services.edits
        customer = self.services.store.customer(customer_id)
        self.open_form(f"Customer — {customer.name}", customer_form(customer),
                       lambda typed: self.save(lambda: edits.update_customer(customer_id, typed)))

    def action_new_controller(self) -> None:
        customer_id = self._customer_under_cursor()
        if customer_id is None:
            self.notify("Create a customer first (n).", severity="warning")
            return
        customer = self.services.store.customer(customer_id)
        usage = self.services.header.words[1]  # last known usage, as the top bar shows it
        if warning := (usage.controller_warning() if usage else None):
            self.notify(warning, severity="warning", timeout=8)
        from fieldtech.forms.records import new_controller_form

        edits = self.services.edits
        defaults = edits.new_controller_defaults(customer_id)
        self.open_form(f"New controller for {customer.name} (no hardware needed)",
                       self.serial_checked(new_controller_form(customer, **defaults)),
                       lambda c: self.save(lambda: edits.create_controller(c), show=True))

    def action_delete_record(self) -> None:
        current = self.fleet_list.current
        if current is None:
            return
        row, is_customer = current
        if is_customer or not row.controller_id:
            self.delete_record("customer", row.customer_id)
        else:
            self.delete_record("controller", row.controller_id)
