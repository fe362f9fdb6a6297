"""The business report ($): MRR and its 12-month trend, margins, renewals, suspended accounts
still costing fees, SLA compliance, included hours. Worked out in a worker from the local
store (services/contracts.py), with progress shown; [ and ] step through months; x writes the
month's CSV files; c opens the catalogue."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from fieldtech.domain.billing import Report, month_days, month_of, previous_month
from fieldtech.domain.errors import FieldtechError
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import Synced
from fieldtech.screens.services import FieldtechScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.text_line import TextBox


def next_month(month: str) -> str:
    from datetime import timedelta

    return month_of(month_days(month)[1] + timedelta(days=1))


class ReportScreen(FieldtechScreen):
    DEFAULT_CSS = """
    #report-status { height: 1; padding: 0 1; background: $boost; }
    #report-scroll { height: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="report_back"),
        Binding("left_square_bracket", "month(-1)", "Previous month", id="report_previous"),
        Binding("right_square_bracket", "month(1)", "Next month", id="report_next"),
        Binding("x", "export", "Export CSV", id="report_export"),
        Binding("c", "catalogue", "Catalogue", id="report_catalogue"),
    ]
    AUTO_FOCUS = "#report-scroll"

    def __init__(self, month: str | None = None, today: date | None = None):
        super().__init__()
        self.today = today  # None: the contractor's (the store's), read by the worker
        self.month = month or (month_of(today) if today else None)
        self.report: Report | None = None

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield TextBox(f"Business report for {self.month or 'this month'}: working it out…",
                      id="report-status")
        with VerticalScroll(id="report-scroll"):
            yield Static("", id="report-body")
        yield KeyBar()

    def on_mount(self) -> None:
        # After the first paint: the worker holds the GIL for long stretches, and the person
        # should see the screen (and its progress) at once.
        self.call_after_refresh(self._compute, self.month)

    def action_close(self) -> None:
        self.dismiss()

    def action_catalogue(self) -> None:
        """c: the membership tiers (and packages) the agreements are made from."""
        from fieldtech.screens.contracts import CatalogueScreen

        self.app.push_screen(CatalogueScreen(self.today))

    def action_month(self, step: int) -> None:
        if self.month is None:
            return  # this month is not known yet (the first report is being worked out)
        self.month = next_month(self.month) if step > 0 else previous_month(self.month)
        self._status(f"Business report for {self.month}: working it out…")
        self._compute(self.month)

    def on_synced(self, _: Synced) -> None:
        self._compute(self.month)

    class Progress(Message):
        """How far the worker got (posted from its thread; it never waits for a paint)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def on_report_screen_progress(self, message: Progress) -> None:
        if self.report is None or self.report.month != self.month:
            self._status(message.text)

    def _status(self, text: str) -> None:
        self.query_one("#report-status", TextBox).update(escape(text))

    # -- the worker -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="report")
    def _compute(self, month: str | None) -> None:
        from fieldtech.services.contracts import report
        from fieldtech.services.report_text import report_lines

        def progress(what: str, done: float) -> None:  # not waiting for the screen to paint
            self.post_message(self.Progress(f"{month}: {what}… {done:.0%}"))

        store = self.services.store
        month = month or month_of(self.today or store.today())
        try:
            result = report(store, month, self.today, progress)
        except FieldtechError as exc:  # e.g. a tier deleted while agreements use it
            self.app.call_from_thread(self._failed, month, str(exc))
            return
        lines = report_lines(result, width=max(60, self.size.width - 4))
        self.app.call_from_thread(self._show, result, lines)

    def _show(self, result: Report, lines: list[str]) -> None:
        self.month = self.month or result.month
        if result.month != self.month:
            return  # the person moved on to another month meanwhile
        self.report = result
        self._status(f"Business report for {result.month} ([ ] other months, x exports CSV)")
        self.query_one("#report-body", Static).update(escape("\n".join(lines)))

    def _failed(self, month: str, why: str) -> None:
        self.month = self.month or month
        if month == self.month:
            self._status(f"No report for {month}")
            self.query_one("#report-body", Static).update(escape(why))

    # -- export ---------------------------------------------------------------------------------

    def action_export(self) -> None:
        if self.month is not None:
            self._export(self.month)

    @work(thread=True, group="report-export")
    def _export(self, month: str) -> None:
        from fieldtech.services.contracts import (
            load_book,
            provider_csv,
            report,
            report_csv,
            statements_csv,
        )

        folder = self.services.data_dir / "exports"
        try:
            store = self.services.store
            book = load_book(store)
            folder.mkdir(parents=True, exist_ok=True)
            files = {f"statements-{month}.csv": statements_csv(book, month),
                     f"provider-{month}.csv": provider_csv(book, month),
                     f"report-{month}.csv": report_csv(report(store, month, self.today))}
            for name, text in files.items():
                (folder / name).write_text(text, encoding="utf-8")
        except (OSError, FieldtechError) as exc:
            self.app.call_from_thread(self.notify, f"Not exported: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, f"Wrote {len(files)} CSV files to {folder}.")
