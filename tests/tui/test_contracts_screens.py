"""The catalogue (c on the report screen) and a customer's agreements (A on the fleet and on a
controller), on a real seeded store driven by Pilot at 80×24: tiers listed and edited, an
agreement signed, changed and ended, the membership following, bad input refused next to its
field with nothing saved."""

from __future__ import annotations

from datetime import date, timedelta

from fieldtech.app import FieldtechApp
from fieldtech.domain.contracts import AGREEMENT, PACKAGE, TIER, Agreement, MembershipTier
from fieldtech.domain.plans import Membership
from fieldtech.screens.contracts import AgreementsScreen, CatalogueScreen
from fieldtech.screens.controller import ControllerScreen
from fieldtech.screens.forms import FormScreen
from fieldtech.screens.report import ReportScreen
from fieldtech.services import contracts
from fieldtech.services.edits import EditService
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from tests.tui.conftest import SIZE, settle, wait_for

TODAY = date.today()


def _tier(app: FieldtechApp, code: str) -> MembershipTier:
    return next(MembershipTier.from_document(d) for d in app.store.documents(TIER.name)
                if d.data["code"] == code)


def _keys(app: FieldtechApp) -> set[str]:
    bar = app.screen.query_one(KeyBar)
    return {description for _key, description, _on in bar.keys + bar.more}


async def _type(pilot, field: str, value: str) -> None:
    pilot.app.screen.query_one(f"#in-{field}").value = value
    await pilot.pause()


async def test_the_catalogue_lists_and_edits_tiers(app: FieldtechApp) -> None:
    contracts.ensure_catalogue(EditService(app.store), "acct")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("$")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen) and "Catalogue" in _keys(app)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CatalogueScreen)
        assert {"New tier", "Edit tier", "Back"} <= _keys(app)
        table = app.screen.query_one(RecordTable)
        assert [r[1] for r in table.rows] == ["Standard", "Essentials+", "Priority",
                                               "Proactive"]
        assert table.rows[2][2] == "300.00 USD" and table.rows[2][3] == "30 min"

        table.move_to(2)  # Priority
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        await _type(pilot, "monthly_cents", "1e12")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)  # refused next to the field
        error = str(app.screen.query_one("#err-monthly_cents").render())
        assert "Enter a price in dollars, like 125 or 125.50." in error
        assert _tier(app, "priority").prices[-1].monthly_cents == 30_000  # nothing saved

        later = (TODAY + timedelta(days=30)).isoformat()
        await _type(pilot, "monthly_cents", "325.50")
        await _type(pilot, "from", later)
        await _type(pilot, "response_minutes", "45")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(_tier(app, "priority").prices) == 2)
        tier = _tier(app, "priority")
        assert tier.price_on(TODAY) == 30_000  # running terms keep their price
        assert tier.price_on(date.fromisoformat(later)) == 32_550
        assert tier.response_minutes == 45
        assert any(e.entity == "document" and e.op == "update" for e in app.store.outbox())

        await pilot.press("n")
        await pilot.pause()
        await _type(pilot, "code", "gold")
        await _type(pilot, "name", "Gold")
        await _type(pilot, "monthly_cents", "1,200")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(app.store.documents(TIER.name)) == 5)
        assert _tier(app, "gold").price_on(TODAY) == 120_000
        await wait_for(pilot, lambda: "Gold" in [r[1] for r in table.rows])


async def test_an_agreement_is_signed_changed_and_ended_from_the_fleet(app: FieldtechApp
                                                                       ) -> None:
    contracts.ensure_catalogue(EditService(app.store), "acct")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("A")  # the customer under the fleet's cursor
        await settle(pilot)
        assert isinstance(app.screen, AgreementsScreen)
        assert {"Sign agreement", "Change", "End agreement", "Back"} <= _keys(app)
        customer_id = app.screen.customer_id
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        await _type(pilot, "tier_id", _tier(app, "priority").id)
        await _type(pilot, "billing", "annual")
        await _type(pilot, "start", "2026-02-30")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Enter a date as YYYY-MM-DD." in str(app.screen.query_one("#err-start").render())
        assert not app.store.documents(AGREEMENT.name, customer_id)
        start = TODAY - timedelta(days=3)
        await _type(pilot, "start", start.isoformat())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.store.documents(AGREEMENT.name, customer_id)))
        assert app.store.customer(customer_id).membership is Membership.PRIORITY
        await wait_for(pilot, lambda: "Priority" in str(
            app.screen.query_one(".contract-title").render()))

        await pilot.press("e")  # change: the tier
        await pilot.pause()
        await _type(pilot, "tier_id", _tier(app, "proactive").id)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.store.customer(customer_id).membership
                       is Membership.PROACTIVE)

        await pilot.press("x")  # end: before the start is refused, then last month
        await pilot.pause()
        await _type(pilot, "cancelled_on", (start - timedelta(days=1)).isoformat())
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert "before it starts" in str(app.screen.query_one("#err-cancelled_on").render())
        await _type(pilot, "cancelled_on", start.isoformat())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.store.documents(AGREEMENT.name, customer_id)[0]
                       .data.get("status") == "cancelled")
        [agreement] = app.store.documents(AGREEMENT.name, customer_id)
        assert agreement.data["cancelled_on"] == start.isoformat()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AgreementsScreen)


async def test_every_catalogue_field_and_the_providers_package_are_edited_in_the_tui(
        app: FieldtechApp) -> None:
    contracts.ensure_catalogue(EditService(app.store), "acct")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(CatalogueScreen(TODAY))
        await settle(pilot)
        assert "Edit package" in _keys(app)
        table = app.screen.query_one(RecordTable)
        table.move_to(1)  # Essentials+
        await pilot.press("e")
        await pilot.pause()
        await _type(pilot, "advanced", "1e12")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)  # refused next to the field, nothing saved
        assert "Enter a rate in dollars" in str(app.screen.query_one("#err-advanced").render())
        await _type(pilot, "advanced", "180")
        await _type(pilot, "concierge", "0")
        await _type(pilot, "included_minutes", "120")
        await _type(pilot, "visits_per_year", "1")
        await _type(pilot, "not_included", "Advanced support at $180/h.")
        app.screen.query_one("#in-monitoring").value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: _tier(app, "essentials").included_minutes == 120)
        tier = _tier(app, "essentials")
        assert (tier.rate("advanced"), tier.rate("concierge")) == (18_000, 0)
        assert (tier.visits_per_year, tier.monitoring) == (1, True)
        assert tier.not_included == "Advanced support at $180/h."
        assert tier.price_on(TODAY) == 12_500  # untouched fields stay

        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        await _type(pilot, "wholesale", "12")
        await _type(pilot, "retail", "25")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "12.00 USD wholesale" in str(
            app.screen.query_one(".contract-title").render()))
        [package] = app.store.documents(PACKAGE.name)
        assert (package.data["wholesale_cents"], package.data["retail_cents"]) == (1200, 2500)


async def test_an_agreements_price_discount_packages_and_suspension(app: FieldtechApp) -> None:
    contracts.ensure_catalogue(EditService(app.store), "acct")
    customer_id = app.store.customers()[0].id
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(AgreementsScreen(customer_id, TODAY))
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await _type(pilot, "tier_id", _tier(app, "priority").id)
        await _type(pilot, "discount", "120")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "A percentage from 0 to 100" in str(app.screen.query_one("#err-discount")
                                                   .render())
        await _type(pilot, "discount", "5")
        await _type(pilot, "price_override", "280")
        app.screen.query_one("#in-package_0").value = True  # the provider's package
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: bool(app.store.documents(AGREEMENT.name, customer_id)))
        [doc] = app.store.documents(AGREEMENT.name, customer_id)
        agreement = Agreement.from_document(doc)
        assert (agreement.price_override_cents, agreement.discount_bp) == (28_000, 500)
        [package] = app.store.documents(PACKAGE.name)
        assert [(h.package_id, h.start, h.end) for h in agreement.holdings] == [
            (package.id, TODAY, None)]
        assert app.store.customer(customer_id).membership is Membership.PRIORITY

        await wait_for(pilot, lambda: bool(app.screen.query_one(RecordTable).rows))
        await pilot.press("e")  # suspend from today, the package taken away, own price gone
        await pilot.pause()
        await _type(pilot, "suspended_from", TODAY.isoformat())
        await _type(pilot, "price_override", "")
        app.screen.query_one("#in-package_0").value = False
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.store.documents(AGREEMENT.name, customer_id)[0]
                       .data.get("status") == "suspended")
        agreement = Agreement.from_document(app.store.documents(AGREEMENT.name, customer_id)[0])
        assert agreement.suspended_from == TODAY and agreement.price_override_cents is None
        assert [(h.start, h.end) for h in agreement.holdings] == [(TODAY, TODAY)]  # its past
        assert app.store.customer(customer_id).membership is Membership.NONE


async def test_a_controllers_customer_agreements_open_on_A(app: FieldtechApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row = next(r for r in app.rows if r.controller_id)
        app.open_controller(row.controller_id)
        await settle(pilot)
        assert isinstance(app.screen, ControllerScreen) and "Agreement" in _keys(app)
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, AgreementsScreen)
        assert app.screen.customer_id == row.customer_id
        # a new account's store: the default catalogue is made once, on first need
        assert sorted(d.data["code"] for d in app.store.documents(TIER.name)) == [
            "essentials", "priority", "proactive", "standard"]
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        options = [label for label, _ in app.screen.query_one("#in-tier_id")._options]
        assert "Essentials+ — 125.00 USD/month" in options
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("A")
        await settle(pilot)
        assert len(app.store.documents(TIER.name)) == 4  # not made twice


def test_catalogue_snapshot(snap_compare, tmp_path) -> None:
    from tests.tui.conftest import make_app

    app = make_app(tmp_path)
    edits = EditService(app.store)
    contracts.ensure_catalogue(edits, "acct")
    customer = app.store.customers()[0].id
    contracts.sign_agreement(edits, customer, contracts.default_id("acct", "tier:priority"),
                             "monthly", date(2026, 1, 1))

    async def open_catalogue(pilot) -> None:
        await settle(pilot)
        app.push_screen(CatalogueScreen(date(2026, 3, 1)))
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_catalogue)


async def test_the_app_settles_a_membership_the_calendar_ended(app: FieldtechApp) -> None:
    # An agreement whose paid term ran out while the app was closed (written as synced,
    # so nothing followed it): the running app settles the membership by itself, once the
    # fleet is read.
    from fieldtech.domain.documents import Document
    from fieldtech.domain.models import new_id

    contracts.ensure_catalogue(EditService(app.store), "acct")
    customer = app.store.customers()[0]
    app.store.update_customer(customer.id, membership=Membership.ESSENTIALS)
    app.store.put_synced_documents([Document(AGREEMENT.name, new_id(), {
        "customer_id": customer.id, "tier_id": _tier(app, "essentials").id,
        "billing": "monthly", "start": (TODAY - timedelta(days=120)).isoformat(),
        "status": "cancelled", "cancelled_on": (TODAY - timedelta(days=80)).isoformat()})])
    assert app.store.customer(customer.id).membership is Membership.ESSENTIALS
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.store.customer(customer.id).membership
                       is Membership.NONE)
        await wait_for(pilot, lambda: all(r.membership == "none" for r in app.rows
                                          if r.customer_id == customer.id))
    assert any(e.entity == "customer" and e.patch.get("membership") == "none"
               for e in app.store.outbox())  # queued to sync


async def test_the_contract_screens_follow_the_contractors_day(app: FieldtechApp,
                                                               monkeypatch) -> None:
    # The account's time zone puts the contractor's day apart from this computer's: prices,
    # the report and an agreement's start follow the contractor's (the store's), as the
    # memberships do.
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import fieldtech.services.contracts as contract_service

    now = datetime.now(UTC)
    zone, theirs = next((z, now.astimezone(ZoneInfo(z)).date())
                         for z in ("Pacific/Kiritimati", "Etc/GMT+12")
                         if now.astimezone(ZoneInfo(z)).date() != date.today())
    app.store.set_sync_values(timezone=zone)
    assert app.store.today() == theirs
    contracts.ensure_catalogue(EditService(app.store), "acct")
    later = max(theirs, date.today())  # a new price from the later of the two days
    priority = _tier(app, "priority")
    app.store.update_document(priority.id, prices=[
        {"from": "2020-01-01", "monthly_cents": 30_000},
        {"from": later.isoformat(), "monthly_cents": 31_000}])
    price = "310.00 USD" if theirs == later else "300.00 USD"
    days = []
    build_report = contract_service.build_report
    monkeypatch.setattr(contract_service, "build_report",
                        lambda book, month, today, *rest: days.append(today) or build_report(
                            book, month, today, *rest))
    customer_id = app.store.customers()[0].id
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.push_screen(ReportScreen())
        await wait_for(pilot, lambda: days)
        assert days == [theirs]
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CatalogueScreen)
        table = app.screen.query_one(RecordTable)
        assert next(r[2] for r in table.rows if r[0] == "priority") == price
        app.push_screen(AgreementsScreen(customer_id))
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        assert app.screen.query_one("#in-start").value == theirs.isoformat()
