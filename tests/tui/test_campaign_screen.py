"""A campaign from the fleet's marks, driven with a Pilot at 80×24: B → dry run → canary →
the campaigns list → discarded from the pending screen."""

from __future__ import annotations

from fieldtech.app import FieldtechApp
from fieldtech.screens.campaign import CampaignScreen, CampaignsScreen
from fieldtech.screens.forms import ConfirmScreen, FormScreen
from fieldtech.screens.pending import PendingScreen
from fieldtech.widgets.text_line import TextBox
from tests.tui.conftest import SIZE, settle, wait_for


async def test_a_rain_delay_campaign_from_marks_to_discard(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = {c.id: c.config.rain_delay_until for c in app.store.controllers(
            [r.controller_id for r in app.store.fleet_rows() if r.controller_id])}
        await pilot.press("B")  # nothing marked: says how to mark
        await settle(pilot)
        assert not isinstance(app.screen, FormScreen)
        for _ in range(8):
            await pilot.press("space")
        await pilot.press("B")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")  # rain delay (the first kind)
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")  # 24 hours
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignScreen))
        screen = app.screen
        marked = len(screen.plan.records)
        assert marked >= 6 and "controllers change" in screen.plan.summary()
        assert app.store.pending_count() == 0  # a dry run writes nothing
        await pilot.press("d")
        await pilot.press("n")  # a canary of 2
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press("backspace", "2", "ctrl+s")
        await wait_for(pilot, lambda: screen.campaign_id is not None and screen.items)
        assert len(app.store.outbox()) == 2
        assert sum(i.state == "waiting" for i in screen.items) == screen.plan.changing - 2
        title = screen.query_one("#campaign-title", TextBox).text
        assert "its devices have 30 min to confirm once it is in the cloud" in title
        await pilot.press("p")  # not confirmed yet: the rest waits
        await settle(pilot)
        assert len(app.store.outbox()) == 2

        await pilot.press("escape", "K")
        await wait_for(pilot, lambda: isinstance(app.screen, CampaignsScreen))
        await wait_for(pilot, lambda: bool(getattr(app.screen, "rows", None)))
        assert "rain delay of 24 h" in app.screen.rows[0].summary
        await pilot.press("escape", "u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen))
        await wait_for(pilot, lambda: bool(app.screen.edits))
        await pilot.press("X")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.store.pending_count() == 0)
        after = {c.id: c.config.rain_delay_until for c in app.store.controllers(list(before))}
        assert after == before


async def test_a_canary_out_of_time_stops_at_the_minute_on_any_screen(
        app: FieldtechApp, monkeypatch) -> None:
    """Nobody looks at the campaign: the app's own timer starts the canary's clock once it is
    in the cloud and stops the campaign when its time is up, with a notice, on the fleet."""
    from datetime import UTC, datetime, timedelta

    import fieldtech.app
    from fieldtech.offline_store import campaigns as stored
    from fieldtech.offline_store.store import APPLIED
    from fieldtech.services.campaigns import BulkChange, Kind

    monkeypatch.setattr(fieldtech.app, "CANARIES_EVERY_S", 0.1)
    now = [datetime.now(UTC).replace(microsecond=0)]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        service = app.services.campaigns
        service.clock = lambda: now[0]
        ids = [r.controller_id for r in app.store.fleet_rows() if r.controller_id][:5]
        campaign_id = service.start(service.dry_run(BulkChange(Kind.RAIN_DELAY, hours=24), ids),
                                    canary=2)
        await pilot.pause(0.5)
        assert stored.campaign(app.store, campaign_id).canary_since is None  # not sent yet
        app.store.set_entries([e.id for e in app.store.outbox()], APPLIED)  # as a sync does
        await wait_for(pilot, lambda: stored.campaign(app.store, campaign_id).canary_since)
        now[0] += timedelta(minutes=29)
        await pilot.pause(0.5)
        assert stored.campaign(app.store, campaign_id).state == stored.CANARY
        now[0] += timedelta(minutes=2)
        await wait_for(pilot, lambda: stored.campaign(app.store, campaign_id).state
                       == stored.STOPPED)
        await wait_for(pilot, lambda: any("Campaign stopped" in str(n.message)
                                          for n in app._notifications))
        assert not isinstance(app.screen, CampaignScreen)
    notice = next(str(n.message) for n in app._notifications if "stopped" in str(n.message))
    assert "2 of the canary not confirmed by their devices within 30 min" in notice
    states = [i.state for i in stored.items(app.store, campaign_id)]
    assert states == [stored.FAILED] * 2 + [stored.WAITING] * 3  # the rest: never applied
    assert app.store.outbox() == []
