"""Many controllers from one form, and CSV import/export from the fleet (Pilot, 80×24)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.screens.forms import ConfirmScreen, FormScreen
from tests.tui.conftest import SIZE, settle, wait_for


async def test_twelve_controllers_from_one_form(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        customer = app.screen.fleet_list.current[0].customer_id
        before = app.store.pending_count()
        await pilot.press("C")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        app.screen.query_one("#in-count", Input).value = "12"
        app.screen.query_one("#in-name", Input).value = "Bulk"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.store.pending_count() == before + 12)
        names = [r.name for r in app.store.fleet_rows()
                 if r.customer_id == customer and r.name.startswith("Bulk")]
        assert sorted(names) == sorted(f"Bulk {n}" for n in range(1, 13))


async def test_over_the_plan_nothing_is_made(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        usage = app.store.usage()
        free = usage.controllers_limit - usage.controllers_used
        before = app.store.pending_count()
        await pilot.press("C")
        await settle(pilot)
        app.screen.query_one("#in-count", Input).value = str(free + 1)
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.pause(0.3)
        assert app.store.pending_count() == before


async def test_export_then_import_a_csv_from_the_fleet(app: FieldtechApp,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "fleet.csv"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        app.screen.query_one("#in-path", Input).value = str(out)
        await pilot.press("ctrl+s")
        await wait_for(pilot, out.exists)
        new = tmp_path / "new.csv"
        new.write_text("customer,email,controller,zones,timezone\n"
                       "Noor Haddad,noor@example.com,Orchard,6,UTC\n"
                       "Bad Row,not-mail,Lawn,4,UTC\n", encoding="utf-8")
        before = app.store.counts()
        await pilot.press("I")
        await settle(pilot)
        app.screen.query_one("#in-path", Input).value = str(new)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "line 3, email" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: app.store.counts() != before)
        assert any(r.name == "Orchard" and r.customer_name == "Noor Haddad"
                   for r in app.store.fleet_rows())
    assert "Front yard" in out.read_text(encoding="utf-8") or out.stat().st_size > 100
