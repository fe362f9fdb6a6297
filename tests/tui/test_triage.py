"""The triage screen on a real store fed through the change log's path (Pilot, 80×24).

The cloud end to end (a simulated controller's fault reaching this screen) is in
tests/cloud/test_live_triage.py; here the incidents come in as a sync's pull writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldtech.app import FieldtechApp
from fieldtech.offline_store.live import fleet_health
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.screens.triage import TriageScreen
from fieldtech.services.triage import open_incidents
from fieldtech.widgets.triage_list import TriageList
from tests.tui.conftest import SIZE, settle, wait_for

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW as each test starts, not as the module was collected: the app's clock is the real
    one, and in the whole suite this file runs ~18 minutes after collection ("due in 1 min"
    was then late)."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


def incident(n: int, row, *, kind: str = "offline", severity: str = "warning",
             due_in: timedelta | None = timedelta(minutes=30), state: str = "open",
             detail: str = "", membership: str = "priority") -> dict:
    return {"entity": "incident", "id": f"inc-{n}", "op": "upsert", "data": {
        "id": f"inc-{n}", "controller_id": row.controller_id, "customer_id": row.customer_id,
        "kind": kind, "zone": 4 if kind.startswith("zone") else None, "severity": severity,
        "state": state, "detail": detail, "opened_at": (NOW - timedelta(minutes=10)).isoformat(),
        "last_seen_at": NOW.isoformat(), "count": 1, "membership": membership,
        "response_due_at": (NOW + due_in).isoformat() if due_in is not None else None,
        "breached_at": None, "acknowledged_by": None, "revision": 1}}


def feed(app: FieldtechApp, changes: list[dict]) -> None:
    cursor = int(app.store.sync_value("cursor") or 0) + len(changes)
    result = app.store.apply_changes(changes, cursor)
    assert result.live_changed


def lines(app: FieldtechApp) -> list[str]:
    table = app.screen.query_one(TriageList)
    return ["".join(text for text, _ in table.line_parts(i, 78)) for i in range(table.row_count)]


async def test_incidents_are_listed_by_response_due_and_say_everything_under_the_cursor(
        app: FieldtechApp) -> None:
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    long = ("Zone 4: no current — open circuit between the controller and the valve; check "
            "the splice by the backflow preventer and the common wire")
    feed(app, [
        incident(1, rows[0], due_in=timedelta(hours=3)),
        incident(2, rows[1], kind="zone_no_current", due_in=timedelta(minutes=-5),
                 severity="critical", detail=long),
        incident(3, rows[2], kind="flow_high", due_in=timedelta(minutes=20),
                 severity="critical"),
        incident(4, rows[3], state="acknowledged", due_in=timedelta(minutes=1)),
    ])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = app.screen.query_one(TopBar).render().plain
        assert any(words in header for words in ("1 breaching", "1 late", "⏰1")), header
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, TriageScreen)
                       and app.screen.table.row_count == 4)
        shown = lines(app)
        # overdue first, then due in 20 min, then 3 h; the acknowledged one last
        assert shown[0].split()[0].startswith("-") and rows[1].customer_name[:10] in shown[0]
        assert "Flow high" in shown[1] and shown[3].split()[0] == "ack"
        detail = str(app.screen.query_one("#triage-detail").render())
        assert "splice by the backflow preventer and the common wire" in detail
        assert "overdue" in detail
        title = str(app.screen.query_one("#triage-title").render())
        assert "4 open" in title and "1 breaching" in title

        await pilot.press("slash", *"sev:crit")
        await settle(pilot)
        assert app.screen.table.row_count == 2
        await pilot.press("enter", "down", "enter")  # leave the box, then open the second
        await wait_for(pilot, lambda: isinstance(app.screen, ControllerScreen))
        assert app.current_controller == rows[2].controller_id


async def test_marks_pick_many_and_acting_without_a_cloud_says_so(app: FieldtechApp) -> None:
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    feed(app, [incident(n, rows[n]) for n in range(5)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, TriageScreen)
                       and app.screen.table.row_count == 5)
        await pilot.press("space", "space")
        assert len(app.screen.table.marked) == 2
        assert lines(app)[0].startswith("●") and lines(app)[2].startswith(" ")
        await pilot.press("asterisk")
        assert len(app.screen.table.marked) == 5
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, TriageScreen)  # nothing asked: there is no cloud
        assert any("Local only" in n.message for n in app._notifications)


async def test_the_countdown_repaints_only_the_cells_whose_words_change(
        tmp_path: Path, app: FieldtechApp) -> None:
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    feed(app, [incident(n, rows[n], due_in=timedelta(minutes=5 + 60 * n)) for n in range(6)]
         + [incident(6, rows[6], state="acknowledged")])  # no countdown, but its age moves
    clock = [NOW]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(TriageScreen(clock=lambda: clock[0]))
        await wait_for(pilot, lambda: isinstance(app.screen, TriageScreen)
                       and app.screen.query(TriageList) and app.screen.table.row_count == 7)
        await settle(pilot)
        table = app.screen.table
        assert table.tick() == 0  # nothing changed: nothing repainted
        assert "10m" in table.render_line(6).text
        clock[0] = NOW + timedelta(seconds=61)  # every countdown loses a minute, ages gain one
        assert table.tick() == 7
        # Only the two clock cells of each line, never a whole line (bytes over SSH).
        width = table.scrollable_content_region.width
        regions = table._repaint_regions
        assert regions and all(r.height == 1 and r.width <= 12 for r in regions), regions
        assert len(regions) == 7  # one per line: its two clocks side by side
        assert all(r.width < width for r in regions)
        await settle(pilot)
        assert "11m" in table.render_line(6).text  # the age as painted, not a stale one
        clock[0] = NOW + timedelta(seconds=62)
        assert table.tick() == 0


def test_the_header_counts_come_from_the_store(app: FieldtechApp) -> None:
    rows = [r for r in app.store.fleet_rows() if r.controller_id]
    before = fleet_health(app.store, NOW)
    feed(app, [incident(1, rows[0], due_in=timedelta(minutes=-1)),
               incident(2, rows[1]), incident(3, rows[2], state="resolved")])
    after = fleet_health(app.store, NOW)
    assert after.incidents == before.incidents + 2
    assert after.breaching == before.breaching + 1
    assert [r.id for r in open_incidents(app.store, NOW)] == ["inc-1", "inc-2"]


async def test_a_change_on_the_screen_underneath_does_not_repaint_the_one_on_top(
        app: FieldtechApp, monkeypatch) -> None:
    """Textual repaints the whole top screen for any change on the screen under it (~7 KB over
    SSH each time the fleet's key bar turned a page under triage). Recorded on the way to the
    terminal: the app's real frames, passed on unchanged."""
    from textual._compositor import LayoutUpdate

    from fieldtech.screens.fleet import FleetScreen
    from fieldtech.widgets.key_bar import KeyBar

    frames: list[object] = []
    display = app._display

    def recording(screen, renderable):
        frames.append(renderable)
        return display(screen, renderable)

    monkeypatch.setattr(app, "_display", recording)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen
        assert isinstance(fleet, FleetScreen)
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, TriageScreen))
        await settle(pilot)
        frames.clear()
        fleet.query_one(KeyBar).page = 1  # what its page turn does, under triage
        await settle(pilot)
        assert not [f for f in frames if isinstance(f, LayoutUpdate)]
        await pilot.press("escape")  # back on top: the whole screen, with what changed
        await wait_for(pilot, lambda: app.screen is fleet)
        await settle(pilot)
        assert [f for f in frames if isinstance(f, LayoutUpdate)]
