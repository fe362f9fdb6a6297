"""The fleet as last read from the store, and where the person has been in it.

Held by the app and shared with the screens (no textual): the rows and their search index, the
recent controllers the switcher offers on its digits, and the current and previous controller
that `b` goes back and forth between.
"""

from __future__ import annotations

from contextlib import suppress

from fieldtech.domain.errors import NotFound
from fieldtech.offline_store.store import FleetRow, Store
from fieldtech.services.fleet_index import FleetIndex

SHORTCUTS = 9  # the switcher's digits 1–9


class Fleet:
    def __init__(self) -> None:
        self.rows: list[FleetRow] = []
        self.first_rows: list[FleetRow] = []  # the first screenful, until the fleet is read
        self.index: FleetIndex | None = None
        self.rows_by_id: dict[str, FleetRow] = {}
        # The pinned and recent controllers' rows, read with the first screenful: `s` + digit
        # works before the whole fleet is read (seconds at 100,000 controllers).
        self.shortcut_rows: dict[str, FleetRow] = {}
        self.recent_ids: list[str] = []
        self.current: str | None = None
        self.previous: str | None = None

    def read_shortcuts(self, store: Store, pinned: list[str]) -> None:
        """Read the recents and the rows the switcher's digits open (a few ms at start-up)."""
        recent = store.recent()
        self.recent_ids += [r for r in recent if r not in self.recent_ids]
        for controller_id in dict.fromkeys([*pinned, *recent]):
            with suppress(NotFound):  # a pinned controller since removed
                self.shortcut_rows[controller_id] = store.controller_row(controller_id)

    @staticmethod
    def by_id(index: FleetIndex) -> dict[str, FleetRow]:
        """The index's rows by controller id: made in the read's thread (at 100,000, 30-45 ms
        that a key pressed meanwhile waited for on the event loop), in Python, which gives
        the interpreter to that loop's thread when it asks (as `dict(zip(…))` would not)."""
        return {row[0]: row for row in index.rows}

    def loaded(self, rows: list[FleetRow], index: FleetIndex, recent: list[str],
               by_id: dict[str, FleetRow]) -> None:
        """The whole fleet as read just now: `by_id` is `Fleet.by_id(index)`."""
        self.rows, self.index, self.rows_by_id = rows, index, by_id
        self.shortcut_rows = {}  # the whole fleet knows them now, as read just now
        # Switches made while this load ran are newer than what the store said: keep them first.
        self.recent_ids += [r for r in recent if r not in self.recent_ids]

    def opened(self, controller_id: str) -> None:
        """`controller_id` is shown now: it leads the recents; the one before is `previous`."""
        if controller_id != self.current:
            self.previous = self.current
        self.current = controller_id
        if controller_id in self.recent_ids:
            self.recent_ids.remove(controller_id)
        self.recent_ids.insert(0, controller_id)

    def forget(self, controller_id: str) -> None:
        """A controller no longer in the store: out of the recents, current and previous."""
        if controller_id in self.recent_ids:
            self.recent_ids.remove(controller_id)
        self.shortcut_rows.pop(controller_id, None)
        if self.previous == controller_id:
            self.previous = None
        if self.current == controller_id:
            self.current = None

    def shortcuts(self, pinned: list[str], showing: str | None = None
                  ) -> list[tuple[FleetRow, bool]]:
        """Pinned controllers, then the most recent ones, nine at most: (row, pinned). The
        controller `showing` is not one: switching to the screen you are on is no switch."""
        out: list[tuple[FleetRow, bool]] = []
        seen: set[str] = {showing} if showing else set()
        for cid, is_pinned in [(p, True) for p in pinned] + [(r, False) for r in self.recent_ids]:
            row = self.row(cid)
            if row is not None and cid not in seen:
                out.append((row, is_pinned))
                seen.add(cid)
        return out[:SHORTCUTS]

    def row(self, controller_id: str) -> FleetRow | None:
        """The fleet row of `controller_id` as last read (before the whole fleet is read: if
        it is pinned or recent), or None."""
        return self.rows_by_id.get(controller_id) or self.shortcut_rows.get(controller_id)

    def customer_of_current(self) -> str | None:
        row = self.row(self.current or "")
        return row.customer_id if row else None
