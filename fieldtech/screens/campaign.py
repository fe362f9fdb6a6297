"""A campaign: its dry run (what changes on how many, each diff on `d`), then applying it —
a canary first or everything, with a progress bar — and where each record has got to.

The screen only calls the campaign service (services/campaigns.py) in workers; the fleet
opens it on the marked controllers, and the campaigns list (`K`) opens it again later.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import ProgressBar, Static

from fieldtech.domain.errors import FieldError, FieldtechError
from fieldtech.forms.fields import Field
from fieldtech.offline_store import campaigns as stored
from fieldtech.screens.flows import EditFlows
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import RecordsChanged, Synced
from fieldtech.screens.topbar import TopBar
from fieldtech.services.campaigns import CampaignService, DryRun, Status
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from fieldtech.widgets.text_line import TextBox

CANARY_DEFAULT = 5
STATE_WORDS = {stored.WAITING: "waiting", stored.QUEUED: "queued", stored.IN_CLOUD: "in cloud",
               stored.CONFIRMED: "confirmed", stored.FAILED: "FAILED",
               stored.DISCARDED: "discarded", stored.UNCHANGED: "as is"}

ITEM_HELP = {stored.WAITING: "Waits for the canary: p applies it once the canary is confirmed.",
             stored.QUEUED: "Queued here: sent with the next sync.",
             stored.IN_CLOUD: "In the cloud: waits for its device to report it applied.",
             stored.CONFIRMED: "Confirmed: its device applied it.",
             stored.FAILED: "Failed: r sends it again; u shows why.",
             stored.DISCARDED: "Discarded before it was sent.",
             stored.UNCHANGED: "Nothing to change here."}


class CampaignScreen(EditFlows):
    DEFAULT_CSS = """
    #campaign-list { height: 1fr; }
    #campaign-title { height: auto; max-height: 5; padding: 0 1; }
    #campaign-detail { height: 4; padding: 0 1; background: $boost; }
    #campaign-progress { display: none; padding: 0 1; }
    #campaign-progress.visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="campaign_back"),
        Binding("a", "apply", "Apply to all", id="campaign_apply"),
        Binding("n", "canary", "Canary first", id="campaign_canary"),
        Binding("d", "diff", "Diff", id="campaign_diff"),
        Binding("p", "proceed", "Proceed", id="campaign_proceed"),
        Binding("r", "retry", "Retry failed", id="campaign_retry"),
        Binding("x", "discard", "Discard", id="campaign_discard"),
    ]
    AUTO_FOCUS = "#campaign-list"

    def __init__(self, plan: DryRun | None = None, campaign_id: str | None = None):
        super().__init__()
        self.plan = plan
        self.campaign_id = campaign_id
        self.items: list[stored.ItemRow] = []
        self.applying = False
        self.status: Status | None = None
        self._ticking = False  # the canary's countdown repaints every second

    def compose(self) -> ComposeResult:
        table = RecordTable([("Controller", 20), ("Customer", 16), ("State", 9), ("Note", 0)],
                            empty="No controllers.", id="campaign-list")
        yield TopBar(id="topbar")
        yield TextBox(id="campaign-title")
        yield ProgressBar(show_eta=False, id="campaign-progress")
        yield Static(table.header(), classes="table-header")
        yield table
        yield TextBox(id="campaign-detail")
        yield KeyBar()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A dry run applies (a, n); an applied campaign proceeds, retries (p, r)."""
        if action in ("apply", "canary"):
            return self.campaign_id is None
        if action in ("proceed", "retry"):
            return self.campaign_id is not None
        return True

    @property
    def service(self) -> CampaignService:
        return self.services.campaigns

    @property
    def table(self) -> RecordTable:
        return self.query_one("#campaign-list", RecordTable)

    def on_mount(self) -> None:
        if self.plan is not None and self.campaign_id is None:
            self._show_plan(self.plan)
        else:
            self.reload()

    # -- the dry run ----------------------------------------------------------------------------

    def _show_plan(self, plan: DryRun) -> None:
        self._title(f"[b]Dry run[/b] — {escape(plan.summary())}\n"
                    "a applies to all · n a canary first · d this controller's diff · Esc "
                    "leaves (nothing written)")
        self.table.set_rows([(r.controller.name, self._customer(r.controller.customer_id),
                              "changes" if r.changes else "as is", r.note or "")
                             for r in plan.records])
        self.action_diff()

    def _customer(self, customer_id: str) -> str:
        for row in self.services.fleet.rows:  # a customer's first row names it
            if row.customer_id == customer_id:
                return row.customer_name
        return ""

    def action_diff(self) -> None:
        detail = self.query_one("#campaign-detail", TextBox)
        if self.plan is None or self.campaign_id is not None or not self.plan.records:
            item = self._item()
            detail.update(escape(ITEM_HELP.get(item.state, "") + (
                f" {item.message}" if item.message else "")) if item else "")
            return
        lines = self.plan.diff(min(self.table.cursor, len(self.plan.records) - 1))
        detail.update(escape("\n".join(lines[:3]) + (f"\n… and {len(lines) - 3} more"
                                                    if len(lines) > 3 else ""))
                      if lines else "No change here (already so).")

    def on_record_table_moved(self, _: RecordTable.Moved) -> None:
        self.action_diff()

    def action_apply(self) -> None:
        self._start(0)

    def action_canary(self) -> None:
        if self.plan is None or self.campaign_id is not None:
            return
        n = len(self.plan.targets())

        def build(values: dict[str, Any]) -> tuple[int, list[FieldError]]:
            count = values["count"]
            if not isinstance(count, int) or not 1 <= count < n:
                return 0, [FieldError("count", f"Between 1 and {n - 1}.")]
            return count, []
        field = Field("count", "How many go first", min(CANARY_DEFAULT, max(1, n - 1)), "int",
                      hint="the rest waits until their devices confirm (p proceeds)")
        self.open_form("Canary", ([field], build), self._start, action="Apply canary")

    def _start(self, canary: int) -> None:
        if self.plan is None or self.campaign_id is not None or self.applying:
            return
        if not self.plan.changing:
            self.notify("Nothing to change: every marked controller is already so.", timeout=4)
            return
        self._apply(self.plan, canary)

    def _progress(self, total: int) -> ProgressBar:
        bar = self.query_one("#campaign-progress", ProgressBar)
        bar.update(total=total, progress=0)
        bar.add_class("visible")
        return bar

    @work(thread=True, exclusive=True, group="campaign")
    def _apply(self, plan: DryRun, canary: int) -> None:
        self.applying = True
        total = canary or len(plan.targets())
        bar = self.app.call_from_thread(self._progress, total)
        try:
            campaign_id = self.service.start(plan, canary, progress=lambda done, _total: (
                self.app.call_from_thread(bar.update, progress=done)))
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, f"Not applied: {exc}", severity="error")
            return
        finally:
            self.applying = False
        self.campaign_id = campaign_id
        self.app.call_from_thread(self.refresh_bindings)
        self.app.call_from_thread(self._applied, canary)

    def _applied(self, canary: int) -> None:
        self.query_one("#campaign-progress").remove_class("visible")
        self.notify(("Canary applied: sync, then p proceeds once its devices confirm."
                     if canary else "Applied here: sent with the next sync."), timeout=5)
        self.post_message(RecordsChanged(reload_current=True))
        self.reload()

    # -- after it is applied ---------------------------------------------------------------------

    def reload(self) -> None:
        if self.campaign_id is not None:
            self._read(self.campaign_id)

    def on_synced(self, _: Synced) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="campaign-read")
    def _read(self, campaign_id: str) -> None:
        status = self.service.status(campaign_id)
        items = self.service.items(campaign_id)
        self.app.call_from_thread(self._show_status, status, items)

    def _show_status(self, status: Status, items: list[stored.ItemRow]) -> None:
        self.items = items
        self.status = status
        self._show_title()
        if status.campaign.canary_deadline is not None and not self._ticking:
            self._ticking = True
            self.set_interval(1, self._tick)
        by_id = self.services.fleet.rows_by_id
        rows = []
        for item in items:
            fleet_row = by_id.get(item.record_id)
            name = fleet_row.name if fleet_row else (self._customer(item.record_id)
                                                     or item.record_id[:8])
            customer = fleet_row.customer_name if fleet_row else ""
            rows.append((name, customer, STATE_WORDS.get(item.state, item.state),
                         item.message or ""))
        self.table.set_rows(rows, keep_cursor=True)
        self.action_diff()

    def _show_title(self) -> None:
        status = self.status
        if status is None:
            return
        row = status.campaign
        how = {stored.CANARY: "p proceeds once confirmed",
               stored.APPLIED: "applied", stored.STOPPED: "stopped: r retries the failed",
               "discarded": "discarded"}.get(row.state, row.state)
        canary = status.canary_words(self.service.clock())
        self._title(f"[b]Campaign[/b] — {escape(row.summary)}\n{escape(status.words())} · "
                    + escape(f"{canary} · {how}" if canary else how))

    def _tick(self) -> None:
        """The canary's countdown; when its time is up, read again (the service stops it)."""
        status = self.status
        deadline = status.campaign.canary_deadline if status else None
        if status is None or deadline is None or status.campaign.state != stored.CANARY:
            return
        self._show_title()
        if self.service.clock() >= deadline:
            self.status = None  # once: the read brings the stopped campaign
            self.reload()

    def _item(self) -> stored.ItemRow | None:
        if not self.items:
            return None
        return self.items[min(self.table.cursor, len(self.items) - 1)]

    def _title(self, text: str) -> None:
        self.query_one("#campaign-title", TextBox).update(text)

    def action_proceed(self) -> None:
        if self.campaign_id is not None:
            self._proceed(self.campaign_id)

    @work(thread=True, exclusive=True, group="campaign")
    def _proceed(self, campaign_id: str) -> None:
        try:
            bar = self.app.call_from_thread(self._progress, 1)
            n = self.service.proceed(campaign_id, progress=lambda done, total: (
                self.app.call_from_thread(bar.update, total=total, progress=done)))
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=8)
            n = -1
        self.app.call_from_thread(self._proceeded, n)

    def _proceeded(self, n: int) -> None:
        self.query_one("#campaign-progress").remove_class("visible")
        if n >= 0:
            self.notify(f"The rest applied here ({n}): sent with the next sync.", timeout=5)
            self.post_message(RecordsChanged(reload_current=True))
        self.reload()

    def action_retry(self) -> None:
        if self.campaign_id is not None:
            self._call(lambda s, c: f"{s.retry_failed(c)} failed edits queued again.")

    def action_discard(self) -> None:
        if self.campaign_id is None:
            self.dismiss()  # a dry run wrote nothing
            return
        self.confirm("Discard this campaign's edits not yet sent? Each record goes back to "
                     "the values last synced.", lambda: self._call(lambda s, c: s.discard(c)))

    @work(thread=True, group="campaign")
    def _call(self, act: Any) -> None:
        try:
            words = act(self.service, self.campaign_id)
        except FieldtechError as exc:
            words = str(exc)
        self.app.call_from_thread(self.notify, words, timeout=6)
        self.app.call_from_thread(self.post_message, RecordsChanged(reload_current=True))
        self.app.call_from_thread(self.reload)

    def action_close(self) -> None:
        if not self.applying:
            self.dismiss()


class CampaignsScreen(EditFlows):
    """Every campaign, the newest first, with where it has got to; Enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="campaigns_back"),
    ]
    AUTO_FOCUS = "#campaigns-list"

    def compose(self) -> ComposeResult:
        table = RecordTable([("When", 16), ("Change", 0)],
                            empty="No campaigns yet: mark controllers, then B.",
                            id="campaigns-list")
        yield TopBar(id="topbar")
        yield Static(table.header(), classes="table-header")
        yield table
        yield KeyBar()

    def on_mount(self) -> None:
        self._read()

    def on_screen_resume(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="campaigns")
    def _read(self) -> None:
        rows = self.services.campaigns.campaigns()
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[stored.CampaignRow]) -> None:
        self.rows = rows
        self.query_one("#campaigns-list", RecordTable).set_rows(
            [(r.created_at.replace("T", " ")[:16], f"{r.summary} [{r.state}]") for r in rows])

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if 0 <= event.row < len(self.rows):
            self.app.push_screen(CampaignScreen(campaign_id=self.rows[event.row].id))

    def action_close(self) -> None:
        self.dismiss()
