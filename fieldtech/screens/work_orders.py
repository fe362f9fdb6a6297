"""Work orders: a technician's day in route order (J on the fleet), and one visit's checklist,
findings with quotes, time and status. Every change goes through WorkOrderService in a worker
(a synced document: queued here, pushed with the next sync)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from fieldtech.domain.errors import FieldError, FieldtechError
from fieldtech.domain.work_orders import checklists
from fieldtech.forms.fields import Field
from fieldtech.offline_store.paths import templates_dir
from fieldtech.screens.flows import ListFlows
from fieldtech.screens.markup import escape
from fieldtech.screens.topbar import TopBar
from fieldtech.services.work_orders import Visit, WorkOrderService
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from fieldtech.widgets.text_line import TextBox


class WorkOrdersScreen(ListFlows):
    """The visits of a day (every day with `a`), in route order; Enter opens one."""

    DEFAULT_CSS = "#orders-title { height: 1; padding: 0 1; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="orders_back"),
        Binding("n", "new", "New work order", id="orders_new"),
        Binding("a", "all_days", "Today / all days", id="orders_all"),
        Binding("left_square_bracket", "day(-1)", "Day before", id="orders_prev"),
        Binding("right_square_bracket", "day(1)", "Day after", id="orders_next"),
    ]
    AUTO_FOCUS = "#orders-list"

    def __init__(self, customer_id: str | None = None, today: date | None = None):
        super().__init__()
        self.customer_id = customer_id  # `n` makes a work order for this customer
        self.given_today = today  # None: the contractor's day (the store's), read with the visits
        self.today = today
        self.day: date | None = today  # the day shown; None: today, once read
        self.all_days = False
        self.visits: list[Visit] = []

    def compose(self) -> ComposeResult:
        table = RecordTable([("Date", 10), ("Tech", 10), ("Customer", 16), ("City", 10),
                             ("Visit", 13), ("Status", 9), ("Done", 0)],
                            empty="No visits that day: n plans one.", id="orders-list")
        yield TopBar(id="topbar")
        yield TextBox(id="orders-title")
        yield Static(table.header(), classes="table-header")
        yield table
        yield KeyBar()

    @property
    def service(self) -> WorkOrderService:
        return WorkOrderService(self.services.edits)

    def reload(self) -> None:
        self._read(None if self.all_days else self.day)

    @work(thread=True, exclusive=True, group="orders")
    def _read(self, day: date | None) -> None:
        today = self.given_today or self.services.store.today()
        if not self.all_days:
            day = day or today
        visits = self.service.day(day)
        self.app.call_from_thread(self._show, visits, today, day)

    def _show(self, visits: list[Visit], today: date, day: date | None) -> None:
        self.visits, self.today = visits, today
        if day is not None:
            self.day = day
        when = day.isoformat() if day else "every day"
        table = self.query_one("#orders-list", RecordTable)
        table.empty = ("No visits that day: n plans one." if day else
                       "No visits planned: n plans one (from a customer's line, J).")
        self.query_one("#orders-title", TextBox).update(
            f"[b]Work orders[/b] — {when}, {len(visits)} visits in route order (city, address)")
        table.set_rows(
            [(v.data.get("date", ""), v.data.get("technician", ""), v.customer_name, v.city,
              v.data.get("visit", ""), v.data.get("status", ""),
              "{}/{}".format(*v.ticked)) for v in visits], keep_cursor=True)

    def action_all_days(self) -> None:
        self.all_days = not self.all_days
        self.day = None  # back from every day: today
        self.reload()

    def action_day(self, step: int) -> None:
        base = self.day or self.today
        if base is None:  # before the first read: not known yet which day is today
            return
        self.all_days, self.day = False, date.fromordinal(base.toordinal() + step)
        self.reload()

    def action_close(self) -> None:
        self.dismiss()

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if 0 <= event.row < len(self.visits):
            self.app.push_screen(WorkOrderScreen(self.visits[event.row].order.id))

    def action_new(self) -> None:
        if self.customer_id is None:
            self.notify("Open work orders from a customer's line in the fleet (J) to plan "
                        "one for them.", timeout=5)
            return
        try:
            found = checklists(templates_dir(self.services.data_dir) / "checklists")
        except FieldtechError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        customer_id = self.customer_id
        fields = [Field("visit", "Visit", next(iter(found)), "select",
                        options=[(name, name) for name in found]),
                  Field("date", "Date", (self.day or self.today
                                         or self.services.store.today()).isoformat(),
                        hint="YYYY-MM-DD"),
                  Field("technician", "Technician", self.services.link.user_email or "")]

        def build(v: dict[str, Any]) -> tuple[Any, list[FieldError]]:
            try:
                day = date.fromisoformat(str(v["date"]).strip())
            except ValueError:
                return None, [FieldError("date", "Enter a date as YYYY-MM-DD.")]
            return (found[v["visit"]], day, str(v["technician"])), []
        service = self.service
        self.open_form("New work order", (fields, build), lambda made: self.save(
            lambda: service.create(customer_id, *made)))


class WorkOrderScreen(ListFlows):
    """One visit: Enter or space ticks the item under the cursor."""

    DEFAULT_CSS = """
    #order-title { height: 3; padding: 0 1; }
    #order-findings { height: 4; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="order_back"),
        Binding("space", "tick", "Tick", id="order_tick"),
        Binding("f", "finding", "Finding + quote", id="order_finding"),
        Binding("y", "quote('approved')", "Quote approved", id="order_approved"),
        Binding("N", "quote('declined')", "Quote declined", id="order_declined"),
        Binding("t", "minutes", "Time spent", id="order_time"),
        Binding("p", "status('in_progress')", "In progress", id="order_progress"),
        Binding("c", "status('done')", "Done", id="order_done"),
    ]
    AUTO_FOCUS = "#order-list"

    def __init__(self, order_id: str):
        super().__init__()
        self.order_id = order_id
        self.data: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield TextBox(id="order-title")
        yield RecordTable([("", 3), ("Checklist", 0)], empty="No checklist.", id="order-list")
        yield TextBox(id="order-findings")
        yield KeyBar()

    @property
    def service(self) -> WorkOrderService:
        return WorkOrderService(self.services.edits)

    def reload(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="order")
    def _read(self) -> None:
        try:
            data = self.services.store.document(self.order_id).data
        except FieldtechError:  # deleted by a sync meanwhile
            self.app.call_from_thread(self.dismiss)
            return
        self.app.call_from_thread(self._show, data)

    def _show(self, data: dict[str, Any]) -> None:
        self.data = data
        minutes = int(data.get("minutes", 0))
        self.query_one("#order-title", TextBox).update(
            f"[b]{escape(data.get('visit', ''))}[/b] · {escape(data.get('date', ''))} · "
            f"{escape(data.get('technician', '') or 'no technician')} · "
            f"[b]{escape(data.get('status', ''))}[/b] · {minutes // 60} h {minutes % 60:02d} "
            f"\n{len(data.get('zone_tests', []))} zone tests attached")
        self.query_one("#order-list", RecordTable).set_rows(
            [("[x]" if i.get("done") else "[ ]", i.get("item", ""))
             for i in data.get("checklist", [])], keep_cursor=True)
        findings = data.get("findings", [])
        lines = [f"{f.get('text', '')}"
                 + (f" — quote ${f.get('quote_cents', 0) / 100:.2f} {f.get('quote')}"
                    if f.get("quote_cents") else "") for f in findings[-3:]]
        self.query_one("#order-findings", TextBox).update(
            escape("\n".join(lines)) if lines else "No findings: f adds one, with a quote.")

    def _do(self, act: Callable[[WorkOrderService], Any]) -> None:
        service = self.service
        self.save(lambda: act(service))


    def action_tick(self) -> None:
        index = self.query_one("#order-list", RecordTable).cursor
        self._do(lambda s: s.tick(self.order_id, index))

    def on_record_table_selected(self, _: RecordTable.Selected) -> None:
        self.action_tick()

    def action_finding(self) -> None:
        fields = [Field("text", "What was found", ""),
                  Field("quote", "Quote to the owner ($, 0: none)", "0")]

        def build(v: dict[str, Any]) -> tuple[Any, list[FieldError]]:
            try:
                cents = round(float(str(v["quote"]).replace("$", "").strip() or 0) * 100)
            except ValueError:
                return None, [FieldError("quote", "A price, e.g. 45 or 45.50.")]
            if not str(v["text"]).strip():
                return None, [FieldError("text", "Say what was found.")]
            if cents < 0:
                return None, [FieldError("quote", "0 or more.")]
            return (str(v["text"]), cents), []
        self.open_form("Finding", (fields, build), lambda made: self._do(
            lambda s: s.add_finding(self.order_id, *made)))

    def action_quote(self, state: str) -> None:
        findings = self.data.get("findings", [])
        pending = [n for n, f in enumerate(findings) if f.get("quote") == "pending"]
        if not pending:
            self.notify("No quote waits for the owner's answer.", timeout=3)
            return
        self._do(lambda s: s.set_quote(self.order_id, pending[0], state))

    def action_minutes(self) -> None:
        field = Field("minutes", "Minutes spent (added)", 30, "int")

        def build(v: dict[str, Any]) -> tuple[Any, list[FieldError]]:
            m = v["minutes"]
            if not isinstance(m, int) or not 1 <= m <= 24 * 60:
                return None, [FieldError("minutes", "1 to 1440.")]
            return m, []
        self.open_form("Time spent", ([field], build), lambda m: self._do(
            lambda s: s.add_minutes(self.order_id, m)))

    def action_status(self, status: str) -> None:
        self._do(lambda s: s.set_status(self.order_id, status))

    def action_close(self) -> None:
        self.dismiss()
