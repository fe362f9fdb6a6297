"""Pending changes: the outbox, each edit with its record, what it changes, its state and why;
retry, keep as a draft, discard, and settle conflicts field by field."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from fieldtech.cloud.sync import held_back, resolve_conflict
from fieldtech.domain.config_diff import config_changes
from fieldtech.domain.errors import FieldtechError
from fieldtech.domain.merge import canonical_config, describe_path, flatten_config, value_at
from fieldtech.offline_store.campaigns import campaign_words
from fieldtech.offline_store.store import (
    CONFLICT,
    DRAFT,
    QUEUED,
    REJECTED,
    SENDING,
    Conflict,
    OutboxEntry,
    Store,
)
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.keymap_first import KeymapFirst
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import ControllerGone, RecordsChanged, Synced
from fieldtech.screens.services import FieldtechScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from fieldtech.widgets.text_line import TextBox

MAX_FIELDS = 3  # fields named in the "Change" column before "+N more"
DETAIL_VALUES = 2  # changes with their values under the list, before "… and N more"


@dataclass(frozen=True)
class PendingEdit:
    """One outbox entry as the screen shows it."""

    entry: OutboxEntry
    record: str  # the record's name
    change: str  # what it changes, in the technician's words
    held_by: str = ""  # a queued edit that waits for an earlier one: which, and why
    values: tuple[str, ...] = ()  # each change with its values: zone 3 name: “A” → “B”

    @property
    def why(self) -> str:
        return self.entry.message or self.held_by

    @property
    def kind(self) -> str:
        return "controller" if self.entry.entity == "config" else self.entry.entity


def read_pending(store: Store) -> list[PendingEdit]:
    """Every pending edit, oldest first, with names and changes (call from a worker)."""
    names: dict[tuple[str, str], str] = {}
    last_config: dict[str, dict[str, Any]] = {}  # controller id → its config before the edit
    last_raw: dict[str, dict[str, Any]] = {}  # the same, as stored (for the values)
    edits: dict[str, PendingEdit] = {}
    campaigns = campaign_words(store)
    for e in store.outbox():
        kind = "controller" if e.entity == "config" else e.entity
        key = (kind, e.entity_id)
        if key not in names:
            part = store.record_data(kind, e.entity_id) or store.base(kind, e.entity_id)
            data = part[1] if part else {}
            names[key] = str(data.get("name") or e.patch.get("name")
                             or f"{kind} {e.entity_id[:8]}")
            if kind == "controller" or data.get("customer_id"):  # "Garden" alone: whose?
                names[key] += f" ({_customer_name(store, data.get('customer_id'))})"
        if e.campaign_id in campaigns and e.entity == "config":
            # A campaign's edit says the campaign's words: diffing 5,000 configurations here
            # took seconds. The next edit of the same controller diffs against this one.
            last_raw[e.entity_id] = e.patch["config"]
            last_config.pop(e.entity_id, None)
            edits[e.id] = PendingEdit(e, names[key], campaigns[e.campaign_id],
                                      values=(campaigns[e.campaign_id],))
            continue
        if e.entity == "config" and e.entity_id not in last_config and (
                raw := last_raw.get(e.entity_id)) is not None:
            last_config[e.entity_id] = flatten_config(canonical_config(raw))
        edits[e.id] = PendingEdit(e, names[key], _change(store, e, last_config),
                                  values=tuple(_values(store, e, last_raw)))
    # The sync engine's own rule: which queued edits wait, and for which held one.
    for entry_id, holder in held_back(store).items():
        first = edits.get(holder.id)
        edit = edits.get(entry_id)
        if first is None or edit is None:
            continue
        if holder.entity == "customer" and edit.entry.entity != "customer":
            why = f"Waits for its customer's {holder.state} edit ({first.change})."
        else:
            why = f"Waits for the {holder.state} edit before it ({first.change})."
        edits[entry_id] = replace(edit, held_by=why)
    return list(edits.values())


def _change(store: Store, e: OutboxEntry, last_config: dict[str, dict[str, Any]]) -> str:
    if e.op == "create":
        return f"new {e.entity}"
    if e.op == "delete":
        return f"delete {e.entity}"
    if e.entity != "config":
        return _fields(sorted(e.patch))
    after = flatten_config(canonical_config(e.patch["config"]))
    before = last_config.get(e.entity_id)
    if before is None:
        base = store.base("config", e.entity_id)
        before = flatten_config(canonical_config(base[1])) if base else {}
    last_config[e.entity_id] = after
    changed = [k for k in after if before.get(k) != after.get(k)]
    changed += [k for k in before if k not in after]
    return _fields(changed) if changed else "configuration"


def _customer_name(store: Store, customer_id: Any) -> str:
    part = store.record_data("customer", str(customer_id)) if customer_id else None
    return str(part[1].get("name")) if part else "customer not here"


def _values(store: Store, e: OutboxEntry, last_raw: dict[str, dict[str, Any]]) -> list[str]:
    """What the edit sets, with the values before where they are known."""
    if e.op != "update":
        return []
    if e.entity != "config":
        return [f"{describe_path(k)}: {_shown(v)}" for k, v in sorted(e.patch.items())]
    after = e.patch["config"]
    before = last_raw.get(e.entity_id)
    if before is None:
        base = store.base("config", e.entity_id)
        before = base[1] if base else None
    last_raw[e.entity_id] = after
    return config_changes(before, after)


def _shown(value: Any) -> str:
    return "—" if value in (None, "") else f"“{value}”" if isinstance(value, str) else str(value)


def _fields(paths: list[str]) -> str:
    names = [describe_path(p) for p in paths]
    more = f" +{len(names) - MAX_FIELDS} more" if len(names) > MAX_FIELDS else ""
    return ", ".join(names[:MAX_FIELDS]) + more


class PendingScreen(FieldtechScreen):
    DEFAULT_CSS = """
    #pending-list { height: 1fr; }
    #pending-detail { height: 5; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="pending_back"),
        Binding("r", "retry", "Retry", id="pending_retry"),
        Binding("c", "resolve", "Resolve", id="pending_resolve"),
        Binding("d", "draft", "Keep as draft", id="pending_draft"),
        Binding("x,delete", "discard", "Discard", id="pending_discard"),
        Binding("X", "discard_campaign", "Discard campaign", id="pending_discard_campaign"),
    ]
    AUTO_FOCUS = "#pending-list"

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[PendingEdit] = []

    def compose(self) -> ComposeResult:
        table = RecordTable([("Record", 20), ("Change", 26), ("State", 9), ("Why", 0)],
                         empty="Nothing pending: every edit is in the cloud.",
                         id="pending-list")
        yield TopBar(id="topbar")
        yield Static(table.header(), classes="table-header")
        yield table
        yield TextBox(id="pending-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.reload()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#pending-list", RecordTable)

    def reload(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="pending")
    def _read(self) -> None:
        edits = read_pending(self.services.store)
        self.app.call_from_thread(self._show, edits)

    def _show(self, edits: list[PendingEdit]) -> None:
        keep = self.table.cursor
        self.edits = edits
        self.table.set_rows([(p.record, p.change, p.entry.state, p.why) for p in edits],
                            keep_cursor=True)
        if not edits:
            self.query_one("#pending-detail", TextBox).update(self.table.empty)
        elif keep >= len(edits):
            self.table.move_to(len(edits) - 1)
        self._detail()

    def on_synced(self, _: Synced) -> None:
        self.reload()

    # -- the selected edit ----------------------------------------------------------------------

    def current(self) -> PendingEdit | None:
        if not self.edits:
            return None
        return self.edits[min(self.table.cursor, len(self.edits) - 1)]

    def _detail(self) -> None:
        p = self.current()
        if p is None:
            return
        e = p.entry
        hint = {CONFLICT: "c compares both versions field by field.",
                REJECTED: "r sends it again (e.g. after an upgrade), d keeps it as a draft, "
                          "x discards it.",
                DRAFT: "Not sent until you retry it (r).",
                QUEUED: "Sent after that one is retried, resolved or discarded." if p.held_by
                else "Sent with the next sync.",
                SENDING: "Being sent."}.get(e.state, "")
        values = "".join(f"{escape(line)}\n" for line in p.values[:DETAIL_VALUES])
        if len(p.values) > DETAIL_VALUES:
            values += f"… and {len(p.values) - DETAIL_VALUES} more\n"
        if e.campaign_id:
            hint += " Part of a campaign: X discards all of it not yet sent."
        self.query_one("#pending-detail", TextBox).update(
            f"[b]{escape(p.record)}[/b] — {escape(p.change)} · [b]{e.state}[/b]\n"
            f"{values}{escape(p.why)} {hint}".strip())

    def on_record_table_moved(self, _: RecordTable.Moved) -> None:
        self._detail()

    def on_record_table_selected(self, _: RecordTable.Selected) -> None:
        p = self.current()
        if p is not None and p.entry.state == CONFLICT:
            self.action_resolve()

    # -- actions ------------------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss()

    def action_retry(self) -> None:
        p = self.current()
        if p is None:
            return
        if p.entry.state == CONFLICT:
            self.notify("A conflict needs a choice first: c to compare.", timeout=3)
        elif p.entry.state in (REJECTED, DRAFT):
            entry_id = p.entry.id
            self._change(lambda s: s.retry(entry_id), "Queued again: sent with the "
                         "next sync" + (" (S now)." if self.services.link.connected else "."))
        else:
            self.notify(f"It is {p.entry.state} already.", timeout=2)

    def action_draft(self) -> None:
        p = self.current()
        if p is None:
            return
        if p.entry.state in (QUEUED, REJECTED):
            ids, why = [p.entry.id], p.entry.message or "Kept as a draft."
            self._change(lambda s: s.set_entries(ids, DRAFT, why),
                         "Kept as a draft: not sent until you retry it (r).")
        else:
            self.notify(f"A {p.entry.state} edit cannot become a draft.", timeout=3)

    def action_discard(self) -> None:
        p = self.current()
        if p is None:
            return
        if p.entry.state == SENDING:
            self.notify("It is being sent: wait for the sync to finish.", timeout=3)
            return
        entry = p.entry
        created = (entry.op, entry.entity) == ("create", "controller")

        def answer(yes: bool | None) -> None:
            if yes:
                self._change(lambda s: _discard(s, entry), f"Discarded: {p.change}.",
                             gone=entry.entity_id if created else None)
        from fieldtech.screens.forms import ConfirmScreen

        undo = {"create": "The record goes away.", "delete": "The record comes back."}.get(
            entry.op, "Its fields go back to the values last synced.")
        self.app.push_screen(ConfirmScreen(
            f"Discard “{p.change}” on {p.record}? {undo} This cannot be undone."), answer)

    def action_discard_campaign(self) -> None:
        p = self.current()
        if p is None or not p.entry.campaign_id:
            self.notify("This edit is not part of a campaign (x discards it alone).", timeout=3)
            return
        campaign_id = p.entry.campaign_id
        count = sum(1 for q in self.edits if q.entry.campaign_id == campaign_id
                    and q.entry.state != SENDING)

        def answer(yes: bool | None) -> None:
            if yes:
                self._discard_campaign(campaign_id)
        from fieldtech.screens.forms import ConfirmScreen

        self.app.push_screen(ConfirmScreen(
            f"Discard the whole campaign: {count} edits not yet sent? Each record goes back "
            "to the values last synced. This cannot be undone."), answer)

    @work(thread=True, group="pending")
    def _discard_campaign(self, campaign_id: str) -> None:
        try:
            words = self.services.campaigns.discard(campaign_id)
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=6)
            return
        self.app.call_from_thread(self._changed, words, None)

    def action_resolve(self) -> None:
        p = self.current()
        if p is None or p.entry.state != CONFLICT:
            self.notify("Only an edit in conflict needs resolving.", timeout=2)
            return
        self._open_conflict(p)

    @work(thread=True, group="pending")
    def _open_conflict(self, p: PendingEdit) -> None:
        store = self.services.store
        conflict = store.conflict(p.entry.entity, p.entry.entity_id)
        mine = store.record_data(p.entry.entity, p.entry.entity_id)
        if conflict is None:
            self.app.call_from_thread(self.reload)
            return
        self.app.call_from_thread(self._conflict_loaded, p, conflict, mine[1] if mine else {})

    def _conflict_loaded(self, p: PendingEdit, conflict: Conflict, mine: dict[str, Any]) -> None:
        def chosen(take_theirs: set[str] | None) -> None:
            if take_theirs is None:
                return
            self._change(lambda s: resolve_conflict(s, conflict.entity, conflict.id,
                                                    take_theirs),
                         "Resolved: sent with the next sync"
                         + (" (S now)." if self.services.link.connected else "."))
        self.app.push_screen(ConflictScreen(p.record, conflict, mine), chosen)

    @work(thread=True, group="pending")
    def _change(self, change: Callable[[Store], Any], done: str, gone: str | None = None) -> None:
        try:
            change(self.services.store)
        except FieldtechError as exc:  # e.g. a new customer whose controllers still wait
            self.app.call_from_thread(self.notify, str(exc), severity="warning", timeout=6)
            return
        self.app.call_from_thread(self._changed, done, gone)

    def _changed(self, done: str, gone: str | None) -> None:
        self.notify(done, timeout=3)
        self.reload()
        if gone:  # if open under this screen, it leaves for the fleet
            self.post_message(ControllerGone(gone))
        # Pending counts, usage and values in the list, the top bar, the controller shown.
        self.post_message(RecordsChanged(reload_current=True))


def _discard(store: Store, entry: OutboxEntry) -> None:
    store.discard(entry.id)
    if entry.state == CONFLICT and not any(
            e.entity == entry.entity and e.entity_id == entry.entity_id
            for e in store.outbox([CONFLICT])):
        store.clear_conflict(entry.entity, entry.entity_id)


# -- one conflict, field by field ------------------------------------------------------------------


def show_value(value: Any, other: Any) -> str:
    """A value in one cell; for two records (a program) only what differs from the other."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        other = other if isinstance(other, dict) else {}
        differs = {k: v for k, v in value.items() if other.get(k) != v} or value
        return ", ".join(f"{k}={_plain(v)}" for k, v in differs.items())
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return " ".join(str(v) for v in value) or "—"  # start times, days
    return json.dumps(value, separators=(",", ":"))


class ConflictScreen(KeymapFirst, PromptFrames, ModalScreen[set[str] | None]):
    """Both versions of each conflicting field; dismisses with the fields to take from the
    cloud, or None to decide later."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Later"),
        Binding("m", "choose(False)", "Keep mine"),
        Binding("t", "choose(True)", "Take theirs"),
        Binding("space", "toggle", "Toggle", show=False),
        Binding("a,ctrl+s", "apply", "Apply"),
    ]

    def __init__(self, record: str, conflict: Conflict, mine: dict[str, Any]):
        super().__init__()
        self.record = record
        self.conflict = conflict
        config = conflict.entity == "config"
        self.rows = [(f, value_at(mine, f, config) if mine else None,
                      value_at(conflict.theirs, f, config)) for f in conflict.fields]
        self.take_theirs: set[str] = set()

    def compose(self) -> ComposeResult:
        table = RecordTable([("Field", 18), ("Mine (here)", 20), ("The cloud's", 20),
                             ("Keep", 0)], id="conflict-fields")
        with Vertical(classes="dialog"):
            yield Static(f"{escape(self.record)}: changed here and in the cloud",
                         classes="dialog-title")
            yield Static(table.header(72), classes="table-header")
            yield table
            yield Static("[b]m[/b] keep mine · [b]t[/b] take the cloud's · [b]Enter[/b] "
                         "toggles · [b]a[/b] apply · [b]Esc[/b] later",
                         classes="dialog-hint")

    def on_mount(self) -> None:
        self._fill()
        table = self.query_one(RecordTable)
        table.styles.height = min(12, max(2, table.row_count))  # the dialog fits its fields
        table.focus()

    def _fill(self) -> None:
        table = self.query_one(RecordTable)
        if self.conflict.fields == ("deleted",):
            rows = [("the record", "deleted", "changed since",
                     "cloud's" if "deleted" in self.take_theirs else "mine")]
        else:
            rows = [(describe_path(f), show_value(m, t), show_value(t, m),
                     "cloud's" if f in self.take_theirs else "mine")
                    for f, m, t in self.rows]
        table.set_rows(rows, keep_cursor=True)

    def _field(self) -> str:
        return self.conflict.fields[self.query_one(RecordTable).cursor]

    def action_choose(self, theirs: bool) -> None:
        field = self._field()
        if theirs:
            self.take_theirs.add(field)
        else:
            self.take_theirs.discard(field)
        self._fill()
        self.query_one(RecordTable).action_cursor(1)

    def action_toggle(self) -> None:
        self.action_choose(self._field() not in self.take_theirs)

    def on_record_table_selected(self) -> None:
        self.action_toggle()

    def action_apply(self) -> None:
        self.dismiss(set(self.take_theirs))

    def action_cancel(self) -> None:
        self.dismiss(None)
