"""The membership catalogue (c on the report screen) and a customer's agreements (A on the fleet
or a controller): list, add and change tiers; sign, change and end an agreement. Every change
goes through the edit service in a worker (synced documents: queued here, pushed at the next
sync); the customer's membership follows the agreement (Store.membership_given)."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from fieldtech.domain.billing import money, service_end
from fieldtech.domain.contracts import (
    AGREEMENT,
    PACKAGE,
    TIER,
    Agreement,
    MembershipTier,
    Package,
)
from fieldtech.domain.errors import FieldtechError
from fieldtech.domain.plans import Membership
from fieldtech.forms.contracts import (
    COVERAGE_WORDS,
    agreement_form,
    end_form,
    package_form,
    tier_form,
)
from fieldtech.screens.flows import ListFlows
from fieldtech.screens.markup import escape
from fieldtech.screens.topbar import TopBar
from fieldtech.services import contracts
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from fieldtech.widgets.text_line import TextBox


def _packages(store: Any) -> list[Package]:
    """The provider's packages, in the order both screens show them."""
    return sorted((Package.from_document(d) for d in store.documents(PACKAGE.name)),
                  key=lambda p: (p.name, p.id))


class _ContractScreen(ListFlows):
    """What both screens share: a title, a table read in a worker, reloaded after each save."""

    DEFAULT_CSS = ".contract-title { height: 2; padding: 0 1; }"
    AUTO_FOCUS = "RecordTable"

    TITLE_TEXT = ""
    today: date | None = None  # the contractor's day, read with the rows (or given)

    def table(self) -> RecordTable:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        table = self.table()
        yield TopBar(id="topbar")
        yield TextBox(f"[b]{self.TITLE_TEXT}[/b]", classes="contract-title")
        yield Static(table.header(), classes="table-header")
        yield table
        yield KeyBar()

    def action_close(self) -> None:
        self.dismiss()

    def _title(self, text: str) -> None:
        self.query_one(".contract-title", TextBox).update(text)

    def _today(self) -> date:
        """The day a form starts from: the one read with the rows (or given), else the
        contractor's (the store's, kept in memory: no wait on the event loop)."""
        return self.today or self.services.store.today()

    def _row(self) -> int | None:
        table = self.query_one(RecordTable)
        return table.cursor if table.rows else None


class CatalogueScreen(_ContractScreen):
    """The membership tiers (and the provider's packages) every agreement is made from."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="catalogue_back"),
        Binding("n", "new_tier", "New tier", id="catalogue_new"),
        Binding("e", "edit_tier", "Edit tier", id="catalogue_edit"),
        Binding("p", "edit_package", "Edit package", id="catalogue_package"),
    ]

    def __init__(self, today: date | None = None):
        super().__init__()
        self.given_today = today  # None: the contractor's (the store's), read with the tiers
        self.today = today
        self.tiers: list[MembershipTier] = []
        self.packages: list[Package] = []
        self._package_at = -1  # the package `p` edited last

    TITLE_TEXT = "Membership catalogue"

    def table(self) -> RecordTable:
        return RecordTable([("Code", 10), ("Tier", 12), ("Monthly", 14), ("Response", 9),
                            ("Coverage", 14), ("In use", 0)],
                           empty="No tiers yet: n adds one.", id="catalogue-list")

    def reload(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="catalogue")
    def _read(self) -> None:
        store = self.services.store
        contracts.ensure_catalogue(self.services.edits)  # a new account's defaults, once
        tiers = [MembershipTier.from_document(d) for d in store.documents(TIER.name)]
        packages = _packages(store)
        used = Counter(d.data.get("tier_id") for d in store.documents(AGREEMENT.name))
        today = self.given_today or store.today()
        self.app.call_from_thread(self._show, tiers, packages, used, today)

    def _show(self, tiers: list[MembershipTier], packages: list[Package],
              used: Counter[str], today: date) -> None:
        self.today = today
        self.tiers = sorted(tiers, key=lambda t: (t.price_on(today), t.name))
        self.packages = packages
        rows = [(t.code, t.name, money(t.price_on(today), t.currency),
                 f"{t.response_minutes} min" if t.response_minutes else "best eff.",
                 COVERAGE_WORDS[t.coverage].split(" (")[0],
                 f"{used[t.id]} agreement{'' if used[t.id] == 1 else 's'}")
                for t in self.tiers]
        sold = "; ".join(f"{p.name}: {money(p.wholesale_cents, p.currency)} wholesale, "
                         f"{money(p.retail_cents, p.currency)} retail" for p in packages)
        self._title(f"[b]Membership catalogue[/b] — {len(self.tiers)} tiers; prices apply "
                    f"from the next term\n{escape(sold or 'No provider packages.')}")
        self.query_one(RecordTable).set_rows(rows, keep_cursor=True)

    def on_record_table_selected(self, _: RecordTable.Selected) -> None:
        self.action_edit_tier()

    def action_new_tier(self) -> None:
        if self.today is None:  # not read yet: the day its price applies from is not known
            return
        edits = self.services.edits
        self.open_form("New membership tier", tier_form(None, self._today()),
                       lambda data: self.save(lambda: edits.create_document(TIER.name, data)))

    def action_edit_package(self) -> None:
        """The provider's package: the first, then the next at each p (most accounts have
        one)."""
        if not self.packages:
            self.notify("No provider packages in this account.", timeout=4)
            return
        self._package_at = (self._package_at + 1) % len(self.packages)
        package, edits = self.packages[self._package_at], self.services.edits
        more = f" ({self._package_at + 1} of {len(self.packages)}; p again: the next)" if (
            len(self.packages) > 1) else ""
        self.open_form(f"Edit package — {package.name}{more}", package_form(package),
                       lambda data: self.save(lambda: edits.update_document(package.id, data)))

    def action_edit_tier(self) -> None:
        row = self._row()
        if row is None or row >= len(self.tiers):
            return
        tier, edits = self.tiers[row], self.services.edits
        self.open_form(f"Edit tier — {tier.name}", tier_form(tier, self._today()),
                       lambda data: self.save(lambda: edits.update_document(tier.id, data)))


class AgreementsScreen(_ContractScreen):
    """One customer's agreements, the latest first; the membership they give today."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="agreements_back"),
        Binding("n", "sign", "Sign agreement", id="agreements_sign"),
        Binding("e", "change", "Change", id="agreements_change"),
        Binding("x", "end", "End agreement", id="agreements_end"),
    ]

    def __init__(self, customer_id: str, today: date | None = None):
        super().__init__()
        self.customer_id = customer_id
        self.given_today = today  # None: the contractor's (the store's), read with the rest
        self.today = today
        self.agreements: list[Agreement] = []
        self.tiers: dict[str, MembershipTier] = {}
        self.packages: list[Package] = []

    TITLE_TEXT = "Agreements"

    def table(self) -> RecordTable:
        return RecordTable([("Tier", 12), ("Billing", 8), ("Start", 10), ("Status", 10),
                            ("Runs to", 10), ("Renews", 0)],
                           empty="No agreement: n signs one.", id="agreements-list")

    def reload(self) -> None:
        self._read()

    @work(thread=True, exclusive=True, group="agreements")
    def _read(self) -> None:
        store = self.services.store
        try:
            customer = store.customer(self.customer_id)
            contracts.ensure_catalogue(self.services.edits)  # a new account's defaults, once
            tiers = {d.id: MembershipTier.from_document(d) for d in store.documents(TIER.name)}
            agreements = [Agreement.from_document(d)
                          for d in store.documents(AGREEMENT.name, self.customer_id)]
            packages = _packages(store)
        except FieldtechError as exc:  # the customer was deleted meanwhile
            self.app.call_from_thread(self._title, escape(str(exc)))
            return
        today = self.given_today or store.today()
        self.app.call_from_thread(self._show, customer.name, customer.membership, tiers,
                                  agreements, packages, today)

    def _show(self, name: str, membership: Membership, tiers: dict[str, MembershipTier],
              agreements: list[Agreement], packages: list[Package], today: date) -> None:
        self.today = today
        self.tiers, self.packages = tiers, packages
        self.agreements = sorted(agreements, key=lambda a: (a.start, a.id), reverse=True)
        rows = []
        for a in self.agreements:
            tier = tiers.get(a.tier_id)
            end = service_end(a)
            rows.append((tier.name if tier else "(deleted tier)", a.billing.value,
                         a.start.isoformat(), a.status.value, end.isoformat() if end else "—",
                         "yes" if a.auto_renew else "no"))
        self._title(f"[b]Agreements[/b] — {escape(name)}\nMembership today: "
                    f"{membership.label} (it follows the agreement)")
        self.query_one(RecordTable).set_rows(rows, keep_cursor=True)

    def _chosen(self) -> Agreement | None:
        row = self._row()
        if row is None or row >= len(self.agreements):
            self.notify("No agreement yet: n signs one.", timeout=4)
            return None
        return self.agreements[row]

    def _catalogue(self) -> list[MembershipTier] | None:
        if self.today is None:  # not read yet
            return None
        if not self.tiers:  # all deleted through the API or another device
            self.notify("The catalogue has no tiers: add one first ($, then c).", timeout=5)
            return None
        today = self.today
        return sorted(self.tiers.values(), key=lambda t: (t.price_on(today), t.name))

    def on_record_table_selected(self, _: RecordTable.Selected) -> None:
        self.action_change()

    def action_sign(self) -> None:
        tiers = self._catalogue()
        if tiers is None:
            return
        edits, customer_id = self.services.edits, self.customer_id

        def sign(data: dict[str, Any]) -> None:
            self.save(lambda: contracts.sign_agreement(
                edits, customer_id, data["tier_id"], data["billing"],
                date.fromisoformat(data["start"]), bool(data["auto_renew"]),
                data["price_override_cents"], data["discount_bp"],
                [h["package_id"] for h in data["packages"]]))
        self.open_form("Sign an agreement",
                       agreement_form(customer_id, tiers, today=self._today(),
                                      packages=self.packages), sign, "Sign")

    def action_change(self) -> None:
        current, tiers = self._chosen(), self._catalogue()
        if current is None or tiers is None:
            return
        edits = self.services.edits
        self.open_form("Change the agreement",
                       agreement_form(self.customer_id, tiers, current,
                                      today=self._today(), packages=self.packages),
                       lambda data: self.save(
                           lambda: contracts.change_agreement(edits, current.id, data)))

    def action_end(self) -> None:
        current = self._chosen()
        if current is None:
            return
        edits = self.services.edits
        self.open_form("End the agreement", end_form(current, self._today()),
                       lambda data: self.save(lambda: contracts.end_agreement(
                           edits, current.id, date.fromisoformat(data["cancelled_on"]))), "End")
