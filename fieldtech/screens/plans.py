"""Plans: the contractor's tier and usage, and a customer's Enthusiast plan (redeem a code,
assign an included plan, request a purchase). Those three need the cloud; usage shows from the
store while the cloud is loading or out of reach."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from fieldtech.domain.errors import CloudProblem, CloudUnavailable, NotSignedIn
from fieldtech.domain.models import Customer
from fieldtech.domain.plans import Tier, Usage, usage
from fieldtech.domain.validation import normalize_plan_code, plan_code_error
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import Synced, SyncWanted
from fieldtech.screens.services import FieldtechScreen
from fieldtech.screens.topbar import TopBar
from fieldtech.widgets.key_bar import KeyBar
from fieldtech.widgets.record_table import RecordTable
from fieldtech.widgets.text_line import TextBox

if TYPE_CHECKING:
    from fieldtech.cloud.api import CloudAPI

Words = Callable[[Customer], str]  # a message about the customer
Request = Callable[["CloudAPI", Customer], Any]  # one call of the cloud about the customer
BAR = 30  # cells of the controllers bar
# The cloud's refusals, told apart by slug, in the technician's words.
PROBLEMS = {
    "plan-code-unknown": "Unknown code",
    "plan-code-used": "Code already used",
    "plan-code-malformed": "Not a plan code",
    "already-enthusiast": "Already on Enthusiast",
    "quota-exceeded": "No included plan left",
    "not-found": "Not in the cloud yet (sync first, S)",
}
NEEDS_CLOUD = ("Redeeming a code, assigning an included plan and requesting a purchase need "
               "the cloud.")


def usage_text(u: Usage | None, source: str) -> str:
    """The tier, a bar of controllers used, and included Enthusiast plans."""
    if u is None:
        return "No account yet."
    share = min(1.0, u.controllers_used / u.controllers_limit) if u.controllers_limit else 1.0
    filled = round(share * BAR)
    over = u.controllers_used > u.controllers_limit
    bar = f"[{'red' if over else 'green'}]{'█' * filled}[/]{'░' * (BAR - filled)}"
    included = u.enthusiast_used + u.enthusiast_available
    return (f"[b]Plan[/b]         {u.tier.label} [dim]({escape(source)})[/dim]\n"
            f"[b]Controllers[/b]  {bar} {u.controllers_used} / {u.controllers_limit}"
            + (" [red]over the limit[/red]" if over else "") + "\n"
            f"[b]Enthusiast[/b]   {u.enthusiast_used} of {included} included plans used, "
            f"{u.enthusiast_available} available")


def usage_from_account(account: dict[str, Any]) -> Usage:
    """The plans figures as GET /v1/account gives them."""
    u = account["usage"]
    base = usage(Tier(account["tier"]), u["controllers_used"], u["enthusiast_used"])
    return Usage(base.tier, u["controllers_used"], u["controllers_limit"], u["enthusiast_used"],
                 u["enthusiast_available"], u.get("staff_limit", base.staff_limit))


def problem_text(exc: CloudProblem) -> str:
    label = PROBLEMS.get(exc.slug)
    return f"{label}: {exc}" if label else str(exc)


class PlansScreen(FieldtechScreen):
    DEFAULT_CSS = """
    #plans-usage { height: 3; padding: 0 1; background: $boost; }
    #plans-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    #plans-customers { height: 1fr; }
    #plans-code-row { height: 1; }
    #plans-code-row Label { width: 22; padding: 0 1; color: $text-muted; }
    #plans-code { height: 1; border: none; padding: 0 1; width: 1fr; background: $boost; }
    #plans-code.-invalid { background: $error 30%; }
    #plans-code-error { height: 1; padding: 0 1; color: $error; }
    #plans-message { height: 2; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="plans_back"),
        Binding("c", "code", "Redeem code", id="plans_redeem"),
        Binding("i", "included", "Included plan", id="plans_included"),
        Binding("o", "purchase", "Request purchase", id="plans_purchase"),
        Binding("slash", "filter", "Filter", id="plans_filter"),
    ]
    AUTO_FOCUS = "#plans-customers"

    def __init__(self, customer_id: str | None = None):
        super().__init__()
        self.customer_id = customer_id
        self.customers: list[Customer] = []
        self.shown: list[Customer] = []
        self.usage: Usage | None = None
        self.source = "last known"

    def compose(self) -> ComposeResult:
        table = RecordTable([("Customer", 40), ("Plan", 0)], empty="No customers yet.",
                            id="plans-customers")
        yield TopBar(id="topbar")
        yield TextBox(id="plans-usage")
        yield Input(placeholder="/ filter customers by name", id="plans-filter")
        yield Static(table.header(), classes="table-header")
        yield table
        with Horizontal(id="plans-code-row"):
            yield Label("Plan code", id="plans-code-label")
            yield Input(placeholder="XXXX-XXXX, Enter redeems for the customer above",
                        id="plans-code", select_on_focus=False)
        yield TextBox(id="plans-code-error")
        yield TextBox(id="plans-message")
        yield KeyBar()

    def on_mount(self) -> None:
        self._read_local()
        self._read_account()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#plans-customers", RecordTable)

    def say(self, text: str) -> None:
        """A plain-text message (it names customers and repeats the cloud's answers)."""
        self.query_one("#plans-message", TextBox).update(escape(text))

    # -- reading --------------------------------------------------------------------------------

    @work(thread=True, group="plans-local")
    def _read_local(self) -> None:
        store = self.services.store
        customers, local = store.customers(), store.usage()
        self.app.call_from_thread(self._local_loaded, customers, local)

    def _local_loaded(self, customers: list[Customer], local: Usage | None) -> None:
        self.customers = customers
        if self.usage is None:
            self._show_usage(local, self.source)
        self._filter()
        if self.customer_id:  # the first time only: later reads keep the user's choice
            ids = [c.id for c in self.shown]
            if self.customer_id in ids:
                self.table.move_to(ids.index(self.customer_id))  # the label follows (Moved)
            self.customer_id = None

    @work(thread=True, exclusive=True, group="plans-account")
    def _read_account(self) -> None:
        link = self.services.link
        if not link.connected:
            self.app.call_from_thread(self._account_failed, "local only. " + NEEDS_CLOUD
                                      + " Sign in with L.")
            return
        try:
            account = link.call(lambda api: api.account())
        except CloudUnavailable:
            self.app.call_from_thread(self._account_failed, "offline. " + NEEDS_CLOUD)
            return
        except NotSignedIn:
            self.app.call_from_thread(self._account_failed, "sign in needed (L). " + NEEDS_CLOUD)
            return
        except (CloudProblem, KeyError, ValueError) as exc:
            self.app.call_from_thread(self._account_failed, f"the cloud answered: {exc}")
            return
        self.app.call_from_thread(self._show_usage, usage_from_account(account), "from the cloud")

    def _account_failed(self, why: str) -> None:
        self.source = "last known"
        self._show_usage(self.usage, f"last known: {why.split('.')[0]}")
        self.say(f"Showing the last known usage: {why}")
        self.services.header.repaint()

    def _show_usage(self, u: Usage | None, source: str) -> None:
        self.usage, self.source = u, source
        self.query_one("#plans-usage", TextBox).update(usage_text(u, source))

    def on_synced(self, _: Synced) -> None:
        self._read_local()

    # -- choosing the customer ----------------------------------------------------------------

    def _filter(self) -> None:
        query = self.query_one("#plans-filter", Input).value.strip().casefold()
        self.shown = [c for c in self.customers if query in c.name.casefold()]
        self.table.set_rows([(c.name, c.plan.label)
                             for c in self.shown], keep_cursor=True)
        self._label()  # the row under the cursor may be another customer now

    def _label(self) -> None:
        customer = self.selected()
        name = customer.name if customer else "—"
        name = name if len(name) <= 11 else name[:10] + "…"
        self.query_one("#plans-code-label", Label).update(f"Code for {escape(name)}")

    def on_record_table_moved(self, _: RecordTable.Moved) -> None:
        self._label()

    def selected(self) -> Customer | None:
        if not self.shown:
            return None
        return self.shown[min(self.table.cursor, len(self.shown) - 1)]

    def action_filter(self) -> None:
        self.query_one("#plans-filter", Input).focus()

    def action_code(self) -> None:
        self.query_one("#plans-code", Input).focus()

    def on_record_table_selected(self) -> None:
        self.action_code()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "plans-filter":
            self._filter()
        elif event.input.id == "plans-code":
            error = plan_code_error(event.value) if event.value.strip() else None
            event.input.set_class(bool(error), "-invalid")
            self.query_one("#plans-code-error", TextBox).update(error or "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "plans-filter":
            self.table.focus()
        elif event.input.id == "plans-code":
            self.action_redeem()

    # -- the cloud's plan actions -------------------------------------------------------------

    def action_redeem(self) -> None:
        code = normalize_plan_code(self.query_one("#plans-code", Input).value)
        if error := plan_code_error(code):
            self.query_one("#plans-code-error", TextBox).update(error)
            return
        self._on_customer(lambda c: f"Redeeming {code} for {c.name}…",
                          lambda api, c: api.redeem_plan_code(c.id, code),
                          lambda c: f"{c.name} is now on Enthusiast (code {code}).")

    def action_included(self) -> None:
        self._ask(lambda c: f"Give {c.name} one of the account's included Enthusiast plans?"
                  + self._included_left(), self._included)

    def action_purchase(self) -> None:
        self._ask(lambda c: f"Request the purchase of an Enthusiast plan for {c.name}?",
                  self._purchase)

    def _included_left(self) -> str:
        u = self.usage
        if u is None:
            return ""
        return f" ({u.enthusiast_used} of {u.enthusiast_available} used, {self.source})"

    def _ask(self, question: Words, then: Callable[[], None]) -> None:
        """Spending a plan or asking for one is not undone with a key: ask first."""
        from fieldtech.screens.forms import ConfirmScreen

        customer = self.selected()
        if customer is None:
            self.say("Pick a customer first.")
            return
        self.app.push_screen(ConfirmScreen(question(customer)), lambda yes: yes and then())

    def _included(self) -> None:
        self._on_customer(lambda c: f"Assigning an included plan to {c.name}…",
                          lambda api, c: api.set_customer_plan(c.id, "enthusiast"),
                          lambda c: f"{c.name} is now on Enthusiast (an included plan).")

    def _purchase(self) -> None:
        self._on_customer(lambda c: f"Requesting a purchase for {c.name}…",
                          lambda api, c: api.request_purchase(c.id),
                          lambda c: f"Purchase of an Enthusiast plan requested for {c.name}.")

    def _on_customer(self, doing: Words, request: Request, done: Words) -> None:
        customer = self.selected()
        if customer is None:
            self.say("Pick a customer first.")
            return
        if not self.services.link.connected:
            self.say(f"Local only: {NEEDS_CLOUD} Sign in with L.")
            return
        self.say(doing(customer))
        self._cloud_action(customer, request, done)

    @work(thread=True, exclusive=True, group="plans-action")
    def _cloud_action(self, customer: Customer, request: Request, done: Words) -> None:
        ok = False
        try:
            self.services.link.call(lambda api: request(api, customer))
            message, ok = done(customer), True
        except CloudProblem as exc:
            message = problem_text(exc)
        except CloudUnavailable:
            message = f"Offline: {NEEDS_CLOUD} Nothing was changed; try again when online."
        except NotSignedIn:
            message = f"Sign in again (L): {NEEDS_CLOUD}"
        except Exception as exc:  # never let a surprise from the network close the app
            message = f"That did not work: {exc}"
        self.app.call_from_thread(self._action_done, message, ok)

    def _action_done(self, message: str, ok: bool) -> None:
        self.say(message)
        self.services.header.repaint()
        if ok:
            self.query_one("#plans-code", Input).value = ""
            self._read_account()
            self.post_message(SyncWanted())  # pulls the customer's new plan into the store

    def action_close(self) -> None:
        # Esc in a box leaves the box (what was typed stays); Esc on the list closes.
        if isinstance(self.focused, Input):
            self.table.focus()
            return
        self.dismiss()
