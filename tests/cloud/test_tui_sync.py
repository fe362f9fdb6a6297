"""The TUI against the real reference server: header, sync key, pending changes, plans, sign-in.

Each test gets its own cloud account (seeded like a contractor's) and its own local store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from fieldtech.app import FieldtechApp
from fieldtech.cloud.api import CloudAPI
from fieldtech.cloud.link import LinkState
from fieldtech.cloud.sync import SyncEngine
from fieldtech.domain.errors import NotSignedIn
from fieldtech.domain.models import Controller, Customer, new_id
from fieldtech.domain.plans import Tier
from fieldtech.offline_store.store import CONFLICT, DRAFT, QUEUED, REJECTED, Store
from fieldtech.screens.forms import ConfirmScreen
from fieldtech.screens.login import LoginScreen
from fieldtech.screens.pending import ConflictScreen, PendingScreen
from fieldtech.screens.plans import PlansScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.server.accounts import issue_plan_codes
from fieldtech.server.embedded import EmbeddedServer, free_port
from fieldtech.services.settings import Settings
from tests.cloud.conftest import FAST_RETRY, PASSWORD, CloudAccount
from tests.tui.conftest import SIZE, settle, wait_for


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A server of these tests' own: their generated ids never meet other tests' accounts."""
    path = tmp_path_factory.mktemp("tui-cloud") / "cloud.sqlite3"
    with EmbeddedServer(f"sqlite:///{path}") as server:
        yield server


def synced_store(path: Path, account: CloudAccount) -> Store:
    store = Store(path)
    with account.api() as api:
        report = SyncEngine(store, api).sync()
    assert report.error is None, report.error
    return store


def tui(tmp_path: Path, store: Store, cloud: Callable[[], CloudAPI] | None,
        **options) -> FieldtechApp:
    options.setdefault("sync_every_s", None)  # the tests press the sync key themselves
    return FieldtechApp(store, Settings.load(tmp_path / "config"), tmp_path / "data",
                        cloud=cloud, **options)


def header(app: FieldtechApp) -> str:
    return app.screen.query_one(TopBar).render().plain


def notices(app: FieldtechApp) -> list[str]:
    return [n.message for n in app._notifications]


async def sync_with_key(pilot: Pilot) -> None:
    app = pilot.app
    before = app.link.last_report
    await pilot.press("S")
    await wait_for(pilot, lambda: app.link.last_report is not before and not app.link.busy)


# -- the header and the sync key -------------------------------------------------------------------


async def test_header_shows_pending_and_usage_and_follows_a_sync(tmp_path, seeded) -> None:
    # A seed of its own: the generated fleet (2 of its 20 controllers offline) must not depend
    # on how many accounts the session made before this test.
    account = seeded(controllers=20, seed=90001)
    store = synced_store(tmp_path / "mine.db", account)
    first = store.fleet_rows()[0]
    store.update_controller(first.controller_id, notes="gate code 4411")
    store.update_customer(first.customer_id, phone="555-0100")
    # Meanwhile a colleague renames another controller in the cloud.
    other = synced_store(tmp_path / "colleague.db", account)
    renamed = other.fleet_rows()[3].controller_id
    other.update_controller(renamed, name="Renamed by the office")
    with account.api() as api:
        SyncEngine(other, api).sync()
    other.close()

    app = tui(tmp_path, store, account.api, account_label="Greenline Irrigation")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = header(app)
        assert "✎ 2 pending" in text and "Starter 20/25" in text, text
        # The header now also counts what needs a look (offline controllers): at 80 columns
        # the age of the sync is said in fewer words.
        assert "online" in text and "just now" in text and " off" in text, text
        assert len(text) <= 78
        app.open_controller(renamed)  # open while the office's rename comes in
        await settle(pilot)

        await sync_with_key(pilot)
        text = header(app)
        # nothing pending: no ✎ count (when the line is full, "0 pending" gives way)
        assert "✎" not in text and "online · " in text and "just now" in text, text
        assert app.rows_by_id[renamed].name == "Renamed by the office"
        await wait_for(pilot, lambda: "Renamed by the office" in str(
            app.screen.query_one("#ctl-header").render()))
        assert any("2 applied" in m for m in notices(app))

        app.link.clock = lambda: app.link.last_sync_at + timedelta(minutes=2, seconds=5)
        app.services.header.repaint()
        await pilot.pause()
        assert "2m ago" in header(app) or "2 min ago" in header(app)
    store.close()


class SlowTransport(httpx.HTTPTransport):
    """A slow link: every request takes a while (the sync must not hold up the keyboard)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(0.4)
        return super().handle_request(request)


async def test_sync_key_runs_in_the_background(tmp_path, seeded) -> None:
    account = seeded(controllers=20)
    store = synced_store(tmp_path / "mine.db", account)
    store.update_controller(store.fleet_rows()[0].controller_id, notes="sent slowly")
    app = tui(tmp_path, store, lambda: account.api(transport=SlowTransport()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fleet = app.screen.fleet_list
        start = fleet.cursor
        await pilot.press("S")
        deadline = time.monotonic() + 5
        while not app.link.busy:
            # Once seen failing under load (session 10), cause unknown: say what the app said.
            assert time.monotonic() < deadline, (app.link.state, app.link.last_report,
                                                 notices(app))
            await pilot.pause(0.01)
        assert "syncing" in header(app)
        await pilot.press("down", "down")  # the keyboard still answers
        assert fleet.cursor > start
        await pilot.press("S")  # a second sync while one runs: it just says so
        assert "A sync is already running." in notices(app)
        assert app.link.busy, "the sync should still be running on the slow link"
        await wait_for(pilot, lambda: not app.link.busy and app.link.last_report is not None)
        assert store.pending_count() == 0 and "online" in header(app)
    store.close()


async def test_periodic_sync_runs_by_itself(tmp_path, seeded) -> None:
    account = seeded(controllers=5)
    store = Store(tmp_path / "mine.db")
    app = tui(tmp_path, store, account.api, sync_every_s=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(app.rows) == 5 and app.link.last_report is not None)
        assert "Starter 5/25" in header(app)
    store.close()


async def test_offline_says_so_and_keeps_the_edits(tmp_path, seeded) -> None:
    account = seeded(controllers=5)
    store = synced_store(tmp_path / "mine.db", account)
    store.update_controller(store.fleet_rows()[0].controller_id, notes="offline edit")
    nowhere = f"http://127.0.0.1:{free_port()}"
    app = tui(tmp_path, store, lambda: CloudAPI(nowhere, account.token, retry=FAST_RETRY))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sync_with_key(pilot)
        assert app.link.state is LinkState.OFFLINE
        assert "offline" in header(app) and "✎ 1 pending" in header(app)
        assert any(m.startswith("Offline.") for m in notices(app))
        assert [e.state for e in store.outbox()] == [QUEUED]
        await pilot.press("P")  # the plans screen: last known usage, and why no actions
        await settle(pilot)
        assert isinstance(app.screen, PlansScreen)
        assert "5 / 25" in app.screen.query_one("#plans-usage").render()
        assert "need the cloud" in app.screen.query_one("#plans-message").render()
    store.close()


async def test_signed_out_asks_to_sign_in_and_login_reconnects(tmp_path, seeded) -> None:
    account = seeded(controllers=5)
    store = synced_store(tmp_path / "mine.db", account)
    store.update_controller(store.fleet_rows()[0].controller_id, notes="kept")
    app = tui(tmp_path, store, lambda: CloudAPI(account.url, "ftu_revoked", retry=FAST_RETRY))
    app.link.base_url = account.url
    signed: list[tuple[str, str, str]] = []
    original = app.signed_in
    app.signed_in = lambda url, email, token: (signed.append((url, email, token)),
                                               original(url, email, token))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sync_with_key(pilot)
        assert any(m.startswith("Sign in again (L)") for m in notices(app))
        assert isinstance(app.screen, LoginScreen)
        assert app.link.state is LinkState.SIGN_IN
        assert store.pending_count() == 1

        app.screen.query_one("#in-email", Input).value = account.email
        app.screen.query_one("#in-password", Input).value = "not the password"
        assert app.screen.query_one("#in-password", Input).password  # typed blind
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Wrong e-mail or password." in str(
            app.screen.query_one("#login-message").render()))
        assert isinstance(app.screen, LoginScreen)

        app.screen.query_one("#in-password", Input).value = PASSWORD
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, LoginScreen))
        await wait_for(pilot, lambda: app.link.state is LinkState.ONLINE
                       and store.pending_count() == 0)
        assert signed and signed[0][:2] == (account.url, account.email)
        assert "online" in header(app)
    store.close()


@pytest.mark.usefixtures("no_env_token")
async def test_a_login_in_another_terminal_is_followed_by_the_running_app(
        tmp_path, seeded, memory_keyring, monkeypatch) -> None:
    # The login is the real `fieldtech login`; only the OS keyring is a memory one (there is
    # no keyring daemon here). The app was started local only, as on a new laptop.
    import io
    import sys

    from fieldtech.cli import main
    from fieldtech.cloud.saved_sign_in import SignInWatch

    account = seeded(customers=3, controllers=4)
    store = Store(tmp_path / "mine.db")
    store.create_customer(Customer(id=new_id(), name="Typed before signing in"))
    app = tui(tmp_path, store, None, sign_in_watch=SignInWatch())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.link.connected and "local only" in header(app)
        monkeypatch.setattr(sys, "stdin", io.StringIO(account.password + "\n"))
        assert main(["login", account.url, "--email", account.email, "--password-stdin"]) == 0
        await wait_for(pilot, lambda: store.counts()[0] == 4 and store.pending_count() == 0)
        assert any("another terminal" in n for n in notices(app)), notices(app)
        assert app.link.user_email == account.email and "online" in header(app)
        names = [c["name"] for c in account.get("/v1/customers")["customers"]]
        assert "Typed before signing in" in names  # the local work went up, nothing lost
        shown = len(notices(app))
        await pilot.pause(3.5)  # the next check: the same login is not news again
        assert not any("another terminal" in n for n in notices(app)[shown:])
    store.close()


async def test_login_to_an_unreachable_server_says_so(tmp_path) -> None:
    store = Store(tmp_path / "mine.db")
    app = tui(tmp_path, store, None)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "local only" in header(app)
        await pilot.press("L")
        app.screen.query_one("#in-url", Input).value = f"http://127.0.0.1:{free_port()}"
        app.screen.query_one("#in-email", Input).value = "a@example.com"
        app.screen.query_one("#in-password", Input).value = "whatever1"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Cannot reach" in str(
            app.screen.query_one("#login-message").render()), timeout=20)
        assert isinstance(app.screen, LoginScreen) and not app.link.connected
    store.close()


# -- pending changes ----------------------------------------------------------------------------


async def test_conflict_is_resolved_field_by_field_and_synced(tmp_path, seeded) -> None:
    account = seeded(controllers=8)
    mine = synced_store(tmp_path / "mine.db", account)
    theirs = synced_store(tmp_path / "theirs.db", account)
    cid = mine.fleet_rows()[0].controller_id

    def zone1(name: str, minutes: int):
        def change(c):
            zones = [replace(z, name=name, run_minutes=minutes) if z.number == 1 else z
                     for z in c.config.zones]
            return {"config": replace(c.config, zones=zones)}
        return change
    theirs.edit_controller(cid, zone1("Office lawn", 12))
    with account.api() as api:
        assert SyncEngine(theirs, api).sync().applied == 1
    theirs.close()
    mine.edit_controller(cid, zone1("Tech lawn", 33))

    app = tui(tmp_path, mine, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sync_with_key(pilot)
        assert [e.state for e in mine.outbox()] == [CONFLICT]
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen) and app.screen.edits)
        pending = app.screen
        assert pending.table.rows[0][1:3] == ("zone 1 name, zone 1 run minutes", "conflict")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConflictScreen))
        rows = app.screen.query_one("#conflict-fields").rows
        assert [r[:3] for r in rows] == [("zone 1 name", "Tech lawn", "Office lawn"),
                                         ("zone 1 run minutes", "33", "12")]
        await pilot.press("m", "t")  # keep my name, take the office's minutes
        assert [r[3] for r in app.screen.query_one("#conflict-fields").rows] == [
            "mine", "cloud's"]
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen)
                       and [e.state for e in mine.outbox()] == [QUEUED])
        await sync_with_key(pilot)
        assert mine.pending_count() == 0
        await wait_for(pilot, lambda: pending.table.row_count == 0)

    check = synced_store(tmp_path / "check.db", account)
    zone = check.controller(cid).config.zone(1)
    assert (zone.name, zone.run_minutes) == ("Tech lawn", 12)
    check.close()
    mine.close()


def _one_too_many(tmp_path, seeded) -> tuple:
    """A full Starter account, synced, and a controller created here as if the last known
    usage had room: (account, store, the first fleet row, the extra controller)."""
    account = seeded(customers=5, controllers=25)
    store = synced_store(tmp_path / "mine.db", account)
    first = store.fleet_rows()[0]
    extra = Controller(id=new_id(), customer_id=first.customer_id, name="One too many")
    store.create_controller(extra)
    return account, store, first, extra


async def test_rejected_controller_shows_why_kept_as_draft_then_discarded(tmp_path,
                                                                          seeded) -> None:
    account, store, _, extra = _one_too_many(tmp_path, seeded)
    app = tui(tmp_path, store, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sync_with_key(pilot)
        assert any("need a plan upgrade" in m or "needs a plan upgrade" in m
                   for m in notices(app))
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen) and app.screen.edits)
        screen = app.screen
        record, change, state, why = screen.table.rows[0]
        assert (change, state) == ("new controller", REJECTED)
        assert record.startswith("One too many (")  # and whose it is
        assert "25" in why and "Starter" in why, why
        assert "One too many" in str(screen.query_one("#pending-detail").render())

        await pilot.press("d")
        await wait_for(pilot, lambda: screen.table.rows and screen.table.rows[0][2] == DRAFT)
        assert [e.state for e in store.outbox()] == [DRAFT]
        await sync_with_key(pilot)  # a draft is not sent
        assert [e.state for e in store.outbox()] == [DRAFT]

        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # changed my mind: nothing happens
        await settle(pilot)
        assert store.pending_count() == 1
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: screen.table.row_count == 0)
        assert store.pending_count() == 0 and extra.id not in {
            r.controller_id for r in store.fleet_rows()}
        await wait_for(pilot, lambda: extra.id not in app.rows_by_id)
    store.close()


async def test_an_edit_held_behind_a_refused_one_says_what_it_waits_for(tmp_path,
                                                                        seeded) -> None:
    account, store, first, extra = _one_too_many(tmp_path, seeded)
    with account.api() as api:
        assert SyncEngine(store, api).sync().needs_upgrade == 1
    store.update_controller(extra.id, location="Behind the gate")  # waits behind the create
    store.update_controller(first.controller_id, notes="not held")
    app = tui(tmp_path, store, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen)
                       and len(app.screen.edits) == 3)
        screen = app.screen
        rows = screen.table.rows
        whose = rows[0][0]
        assert whose.startswith("One too many (")  # the controller, and whose it is
        assert rows[0][1:3] == ("new controller", REJECTED)
        assert rows[1] == (whose, "location", QUEUED,
                           "Waits for the rejected edit before it (new controller).")
        assert rows[2][2:] == (QUEUED, "")  # another record's edit waits for nothing
        await pilot.press("down")

        def detail() -> str:
            return str(screen.query_one("#pending-detail").render())
        await wait_for(pilot, lambda: "location" in detail())
        assert "Waits for the rejected edit" in detail(), detail()
        assert "retried, resolved or discarded" in detail(), detail()
    store.close()


async def test_creating_warns_from_last_known_usage_and_the_cloud_decides_past_the_limit(
        tmp_path, seeded) -> None:
    account = seeded(customers=5, controllers=24)
    store = synced_store(tmp_path / "mine.db", account)
    app = tui(tmp_path, store, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        assert any("This is 25 of 25 controllers on Starter" in m for m in notices(app))
        app.screen.query_one("#in-name", Input).value = "Number 25"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Starter 25/25" in header(app))
        await pilot.press("escape", "c")
        assert any("26 of 25" in m for m in notices(app))
        app.screen.query_one("#in-name", Input).value = "Number 26"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(store.outbox()) == 2)
        assert [e.state for e in store.outbox()] == [QUEUED, QUEUED]  # kept, to be sent
        await sync_with_key(pilot)
        left = store.outbox()  # 25 went in; the cloud refused 26, which stays with why
        assert [e.state for e in left] == [REJECTED] and "Starter" in left[0].message
        assert store.controller(left[0].entity_id).name == "Number 26"
    store.close()


# -- plans ----------------------------------------------------------------------------------------


async def test_plan_codes_redeem_and_refusals_are_told_apart(tmp_path, cloud, seeded) -> None:
    account = seeded(customers=4, controllers=6)
    (code,) = issue_plan_codes(cloud.db, 1)
    store = synced_store(tmp_path / "mine.db", account)
    app = tui(tmp_path, store, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PlansScreen) and app.screen.shown
                       and "from the cloud" in str(app.screen.query_one("#plans-usage").render()))
        plans = app.screen
        home = [i for i, c in enumerate(plans.shown) if c.plan.value == "home"]
        plans.table.move_to(home[0])
        first = plans.selected()

        def message() -> str:
            return str(plans.query_one("#plans-message").render())

        def code_error() -> str:
            return str(plans.query_one("#plans-code-error").render())

        await pilot.press("c", *"12g")
        assert "4 characters, a dash" in code_error()
        await pilot.press(*"4-ABCG")
        assert "only 0–9 and A–F" in code_error()
        await pilot.press("enter")  # malformed: never sent
        assert message() == ""
        plans.query_one("#plans-code", Input).value = ""
        await pilot.press(*code.lower(), "enter")
        await wait_for(pilot, lambda: "is now on Enthusiast" in message())
        assert first.name in message()
        # The sync that follows pulls the new plan, and keeps the customer the user picks.
        await wait_for(pilot, lambda: store.customer(first.id).plan.value == "enthusiast")
        await wait_for(pilot, lambda: plans.shown[home[0]].plan.value == "enthusiast")

        plans.table.focus()
        plans.table.move_to(home[1])
        second = plans.selected()
        await pilot.press("c", *code, "enter")
        await wait_for(pilot, lambda: message().startswith("Code already used"))
        assert "already redeemed" in message()

        plans.query_one("#plans-code", Input).value = ""
        await pilot.press(*"ABCD-1234", "enter")
        await wait_for(pilot, lambda: message().startswith("Unknown code"))

        plans.table.focus()
        await pilot.press("o", "y")  # after asking
        await wait_for(pilot, lambda: message().startswith("Purchase of an Enthusiast plan"))
        assert second.name in message() and plans.selected() == second
        assert store.customer(second.id).plan.value == "home"
    store.close()


async def test_assigning_an_included_plan_counts_it(tmp_path, seeded) -> None:
    account = seeded(customers=4, controllers=30, tier=Tier.CONTRACTOR)  # 2 included
    store = synced_store(tmp_path / "mine.db", account)
    app = tui(tmp_path, store, account.api)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, PlansScreen) and app.screen.shown
                       and "from the cloud" in str(app.screen.query_one("#plans-usage").render()))
        plans = app.screen
        plans.table.move_to(next(i for i, c in enumerate(plans.shown)
                                 if c.plan.value == "home"))
        await pilot.press("i")
        assert "included Enthusiast plans?" in app.screen.question  # asks before it spends
        await pilot.press("y")
        await wait_for(pilot, lambda: "an included plan" in str(
            plans.query_one("#plans-message").render()))
        await wait_for(pilot, lambda: "1 of 2 included plans used" in str(
            plans.query_one("#plans-usage").render()))
    store.close()


# -- snapshots (80×24, a frozen clock) ------------------------------------------------------------


def _frozen(app: FieldtechApp) -> None:
    app.link.clock = lambda: app.link.last_sync_at + timedelta(minutes=2)
    app.clear_notifications()
    app.services.header.repaint()


def test_header_snapshot(snap_compare, tmp_path, seeded) -> None:
    account = seeded(customers=6, controllers=20, seed=9001)
    store = synced_store(tmp_path / "mine.db", account)
    for row in store.fleet_rows()[:3]:
        store.update_controller(row.controller_id, notes="check the rain sensor")
    app = tui(tmp_path, store, account.api, account_label="Greenline Irrigation")

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        app.link.load()
        _frozen(app)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    store.close()


def test_pending_screen_snapshot(snap_compare, tmp_path, seeded) -> None:
    account = seeded(customers=5, controllers=25, seed=9002)
    store = synced_store(tmp_path / "mine.db", account)
    rows = store.fleet_rows()
    store.create_controller(Controller(id="00000000-0000-4000-8000-000000000001",
                                       customer_id=rows[0].customer_id, name="One too many"))
    app = tui(tmp_path, store, account.api, account_label="Greenline Irrigation")

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await sync_with_key(pilot)
        store.update_controller(rows[1].controller_id, notes="gate code 4411")
        store.update_customer(rows[2].customer_id, phone="555-0100")
        app.load_fleet()
        await pilot.press("u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen)
                       and len(app.screen.edits) == 3)
        _frozen(app)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
    store.close()


async def test_keys_are_in_help_and_remappable_and_local_only_says_so(tmp_path) -> None:
    store = Store(tmp_path / "mine.db")
    settings = Settings.load(tmp_path / "config")
    settings.keys = {"sync": "ctrl+y"}
    app = FieldtechApp(store, settings, tmp_path / "data")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "local only" in header(app)
        await pilot.press("ctrl+y")
        assert any(m.startswith("Local only: sign in") for m in notices(app))
        await pilot.press("question_mark")
        text = str(app.screen.query_one("#help-body Static").render())
        for bid in ("(sync)", "(pending)", "(plans)", "(login)"):
            assert bid in text
        await pilot.press("escape", "u")
        await wait_for(pilot, lambda: isinstance(app.screen, PendingScreen))
        assert "Nothing pending" in str(app.screen.query_one("#pending-detail").render())
    store.close()


async def test_a_factory_without_a_token_asks_to_sign_in(tmp_path) -> None:
    def no_token() -> CloudAPI:
        raise NotSignedIn("The token is no longer in the keyring. Log in again.")

    store = Store(tmp_path / "mine.db")
    store.create_customer(Customer(id=new_id(), name="Rosa Patel"))
    app = tui(tmp_path, store, no_token)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await sync_with_key(pilot)
        assert app.link.state is LinkState.SIGN_IN and isinstance(app.screen, LoginScreen)
        assert any(m.startswith("Sign in again (L)") for m in notices(app))
        assert store.pending_count() == 1
        await pilot.press("escape", "P")
        await wait_for(pilot, lambda: isinstance(app.screen, PlansScreen) and "sign in" in str(
            app.screen.query_one("#plans-message").render()))
    store.close()
