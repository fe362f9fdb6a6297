"""Triage (`!`): what is broken, who pays for a fast response, what is about to breach.

Open incidents from the cloud (through the store's change log), the ones whose response is due
first at the top. One key each to open the controller, acknowledge, snooze, assign, resolve or
put the customer in maintenance; marks (space, `*` for all in view) act on many at once. Every
action is a request to the cloud; its answer is written to the store and the list repaints.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from fieldtech.domain.errors import CloudProblem, CloudUnavailable, FieldError, NotSignedIn
from fieldtech.forms.fields import Field
from fieldtech.offline_store import live
from fieldtech.offline_store.triage_rows import TriageRow
from fieldtech.screens.flows import EditFlows
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import OpenController, Synced
from fieldtech.screens.topbar import TopBar
from fieldtech.services.queries import TRIAGE_FIELDS, TRIAGE_FLAGS, help_lines, parse
from fieldtech.services.triage import describe, open_incidents, passes
from fieldtech.widgets.filter_box import FilterBox
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.text_line import TextBox
from fieldtech.widgets.triage_list import TriageList

TICK_S = 1.0  # the countdowns are looked at every second; a line repaints when its words change


class TriageScreen(EditFlows):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Fleet", id="triage_back"),
        Binding("a", "acknowledge", "Ack", id="triage_ack"),
        Binding("z", "snooze", "Snooze", id="triage_snooze"),
        Binding("g", "assign", "Assign", id="triage_assign"),
        Binding("r", "resolve", "Resolve", id="triage_resolve"),
        Binding("m", "maintenance", "Maint.", id="triage_maintenance"),
        Binding("space", "mark", "Mark", id="triage_mark"),
        Binding("asterisk", "mark_all", "All", id="triage_mark_all"),
        Binding("v", "mark_range", "Mark range", id="triage_mark_range", show=False),
        Binding("slash", "filter", "Filter", id="triage_filter"),
    ]
    FILTER_HELP = help_lines(TRIAGE_FIELDS, TRIAGE_FLAGS)
    AUTO_FOCUS = "#triage-list"

    def __init__(self, rows: list[TriageRow] | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        """`rows`: incidents read ahead (at start-up), painted with the screen's first frame
        rather than after a read; the screen reads them again as it opens."""
        super().__init__()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.all_rows: list[TriageRow] = rows or []
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield TextBox(id="triage-title")
        yield FilterBox(placeholder="Filter: words, state: sev: membership: assignee: breaching",
                    id="triage-filter")
        yield Static(TriageList.header(), classes="table-header")
        yield TriageList(self.clock, moved=self._show_detail, id="triage-list")
        yield TextBox(id="triage-detail")
        yield KeyBar()

    @property
    def table(self) -> TriageList:
        return self.query_one("#triage-list", TriageList)

    def on_mount(self) -> None:
        self.set_interval(TICK_S, self._tick)
        if self.all_rows:
            self._filter()

    def on_screen_resume(self) -> None:
        self.reload()  # shown again (it is kept between visits): read what came meanwhile

    def _tick(self) -> None:
        if self.app.screen is self:  # only what is on screen repaints
            self.table.tick()

    def on_synced(self, message: Synced) -> None:
        if message.report.live or message.report.changed_ids:
            self.reload()

    # -- reading --------------------------------------------------------------------------------

    def reload(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="triage")
    def _read(self) -> None:
        rows = open_incidents(self.services.store, self.clock())
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[TriageRow]) -> None:
        self.all_rows = rows
        self._filter()

    def _filter(self) -> None:
        q = parse(self.query_text, TRIAGE_FIELDS, TRIAGE_FLAGS)
        now = self.clock()
        shown = [r for r in self.all_rows if passes(q, r, now, self._me())]
        self.table.set_rows(shown)
        self._title(len(shown), q.error)

    def _title(self, shown: int, error: str | None = None) -> None:
        breaching = sum(r.breaching(self.clock()) for r in self.all_rows)
        title = (f"[b]Triage[/b] — {len(self.all_rows)} open, "
                 + (f"[red]{breaching} breaching[/red]" if breaching else "0 breaching"))
        if self.query_text:
            title += f" · showing {shown}"
        if self.table.marked:
            title += f" · {len(self.table.marked)} marked"
        if error:
            title += f" · {error}"
        if not self.all_rows:
            title += (" · nothing needs a response." if self.services.link.connected
                      else " · local only: incidents come from the cloud (L to sign in).")
        self.query_one("#triage-title", TextBox).update(title)

    def _me(self) -> str:
        return (self.services.link.user_email or "").casefold()

    def _show_detail(self, row: TriageRow | None) -> None:
        detail = self.query_one("#triage-detail", TextBox)
        detail.update(escape(describe(row, self.clock())) if row is not None else "")

    def on_triage_list_selected(self, message: TriageList.Selected) -> None:
        if message.row.controller_id:
            self.post_message(OpenController(message.row.controller_id))
        else:
            self.notify("A whole-site incident: open one of the customer's controllers from "
                        "the fleet (/ then the name).", timeout=5)

    # -- marks and the filter -------------------------------------------------------------------

    def action_mark(self) -> None:
        self.table.toggle_mark()

    def action_mark_all(self) -> None:
        self.table.mark_all()

    def action_mark_range(self) -> None:
        self.table.mark_range()

    def on_cursor_list_marks_changed(self, message: TriageList.MarksChanged) -> None:
        self._title(self.table.row_count)

    def action_filter(self) -> None:
        self.query_one("#triage-filter", FilterBox).open()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "triage-filter":
            self.query_text = event.value
            self._filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "triage-filter":
            self.table.focus()

    def action_clear_filter(self) -> None:
        if self.query_one("#triage-filter", FilterBox).close():
            self.table.focus()

    def action_back(self) -> None:
        if self.query_one("#triage-filter", FilterBox).close():
            self.table.focus()
        else:
            self.app.pop_screen()

    # -- actions through the cloud --------------------------------------------------------------

    def _targets(self) -> list[TriageRow]:
        """The marked incidents, else the one under the cursor."""
        table = self.table
        marked = [r for r in table.rows if r.id in table.marked]
        return marked or ([table.current] if table.current else [])

    def _ask(self, verb: str, fields: list[Field], then: Callable[[list[TriageRow],
                                                                   dict[str, Any]], None],
             check: Callable[[dict[str, Any]], list[FieldError]] = lambda v: []) -> None:
        targets = self._targets()
        if not targets:
            self.notify("No incident here.", timeout=2)
            return
        if not self.services.link.connected:
            self.notify("Local only: incidents are answered through the cloud. Sign in (L).",
                        severity="warning", timeout=5)
            return
        what = (f"{len(targets)} incidents" if len(targets) > 1
                else f"{targets[0].what} — {targets[0].customer_name}")
        self.open_form(f"{verb} {what}", (fields, lambda v: (v, check(v))),
                       lambda values: then(targets, values), verb)

    def action_acknowledge(self) -> None:
        self._ask("Acknowledge", [Field("note", "Note", "", hint="what you are doing about it")],
                  lambda rows, v: self._each(rows, "Acknowledged", lambda api, r: (
                      api.acknowledge(r.id, v["note"]))))

    def action_snooze(self) -> None:
        def check(v: dict[str, Any]) -> list[FieldError]:
            return [] if 1 <= v["hours"] <= 24 * 14 else [
                FieldError("hours", "Between 1 and 336 hours (two weeks).")]

        def snooze(rows: list[TriageRow], v: dict[str, Any]) -> None:
            until = self.clock() + timedelta(hours=v["hours"])
            self._each(rows, f"Snoozed for {v['hours']} h", lambda api, r: (
                api.snooze(r.id, until, v["note"])))
        self._ask("Snooze", [Field("hours", "Hours", 4, "int", hint="1–336"),
                             Field("note", "Note", "")], snooze, check)

    def action_assign(self) -> None:
        def assign(rows: list[TriageRow], v: dict[str, Any]) -> None:
            who = v["who"].strip().casefold()
            staff: dict[str, str] = {}  # e-mail -> user id, read once for the batch

            def request(api: Any, r: TriageRow) -> Any:
                if who and not staff:
                    staff.update({u["email"].casefold(): u["id"] for u in api.staff()})
                if who and who not in staff:
                    raise CloudProblem(422, {"detail": f"No staff member {who} here."})
                return api.assign(r.id, staff.get(who))
            self._each(rows, f"Assigned to {who or 'nobody'}", request)
        self._ask("Assign", [Field("who", "Staff e-mail", self._me(), hint="blank = nobody")],
                  assign)

    def action_resolve(self) -> None:
        self._ask("Resolve", [Field("note", "Note", "", hint="what was done")],
                  lambda rows, v: self._each(rows, "Resolved", lambda api, r: (
                      api.resolve(r.id, v["note"]))))

    def action_maintenance(self) -> None:
        def check(v: dict[str, Any]) -> list[FieldError]:
            return [] if 1 <= v["days"] <= 366 else [
                FieldError("days", "Between 1 and 366 days.")]

        def start(rows: list[TriageRow], v: dict[str, Any]) -> None:
            customers = {r.customer_id: r for r in rows if r.customer_id}
            now = self.clock()
            self._each(list(customers.values()), f"In maintenance for {v['days']} days",
                       lambda api, r: api.start_maintenance(
                           customer_id=r.customer_id, starts=now,
                           ends=now + timedelta(days=v["days"]), note=v["note"]))
        self._ask("Maintenance for the customer of", [
            Field("days", "Days", 7, "int", hint="no new incidents meanwhile, e.g. winterized"),
            Field("note", "Note", "")], start, check)

    @work(thread=True, exclusive=True, group="triage-action")
    def _each(self, rows: list[TriageRow], done: str,
              request: Callable[[Any, TriageRow], Any]) -> None:
        link, store = self.services.link, self.services.store
        ok, failed = 0, []
        for row in rows:
            try:
                answer = link.call(lambda api, r=row: request(api, r))
            except (CloudProblem, CloudUnavailable, NotSignedIn) as exc:
                failed.append(f"{row.customer_name}: {exc}")
                if not isinstance(exc, CloudProblem):
                    break  # offline or signed out: the rest would fail the same way
                continue
            ok += 1
            if isinstance(answer, dict) and answer.get("id") and answer.get("kind"):
                live.remember(store, "incident", answer)  # shown now, not at the next pull
        self.app.call_from_thread(self._acted, done, ok, failed)

    def _acted(self, done: str, ok: int, failed: list[str]) -> None:
        self.table.clear_marks()
        if ok:
            self.notify(f"{done}: {ok} incident{'s' if ok > 1 else ''}.", timeout=3)
        if failed:
            self.notify("Not done — " + "; ".join(failed[:3])
                        + (f" … and {len(failed) - 3} more." if len(failed) > 3 else ""),
                        severity="error", timeout=8)
        self.reload()
        self.services.header.repaint()
