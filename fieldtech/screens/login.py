"""Sign in to a cloud account: server, e-mail, password → a token for the app (`signed_in`)."""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from fieldtech.domain.errors import CloudProblem, CloudUnavailable, FieldtechError
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.keymap_first import KeymapFirst
from fieldtech.screens.markup import escape
from fieldtech.screens.messages import SignedIn

DEFAULT_URL = "https://"


class LoginScreen(KeymapFirst, PromptFrames, ModalScreen[bool]):
    """Dismisses with True once signed in, False on Esc."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "login", "Sign in"),
    ]

    def __init__(self, url: str = "", email: str = ""):
        super().__init__()
        self.url = url or DEFAULT_URL
        self.email = email
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Sign in to your cloud account", classes="dialog-title")
            for name, label, value, password in (
                    ("url", "Server", self.url, False), ("email", "E-mail", self.email, False),
                    ("password", "Password", "", True)):
                with Horizontal(classes="field-row"):
                    yield Label(label, classes="field-label")
                    yield Input(value=value, id=f"in-{name}", password=password,
                                select_on_focus=False)
                yield Static("", id=f"err-{name}", classes="field-error empty")
            yield Static("", id="login-message", classes="field-error empty")
            yield Static("Enter signs in · Esc cancels. Nothing queued is lost either way.",
                         classes="dialog-hint")

    def on_mount(self) -> None:
        empty = next((i for i in self.query(Input) if not i.value or i.value == DEFAULT_URL),
                     None)
        (empty or self.query_one("#in-password", Input)).focus()

    def _value(self, name: str) -> str:
        return self.query_one(f"#in-{name}", Input).value.strip()

    def say(self, text: str) -> None:
        """A plain-text message: it may repeat the server's answer or the typed address."""
        box = self.query_one("#login-message", Static)
        box.update(escape(text))
        box.set_class(not text, "empty")

    def on_input_submitted(self) -> None:
        self.action_login()

    def action_login(self) -> None:
        url, email = self._value("url"), self._value("email")
        password = self.query_one("#in-password", Input).value
        missing = {name: f"Enter {what}." for name, what, value in (
            ("url", "the server's address", url.removeprefix(DEFAULT_URL)),
            ("email", "your e-mail", email), ("password", "your password", password))
            if not value}
        for name in ("url", "email", "password"):  # each under its own field
            box = self.query_one(f"#err-{name}", Static)
            box.update(missing.get(name, ""))
            box.set_class(name not in missing, "empty")
        if missing:
            self.say("")
            self.query_one(f"#in-{next(iter(missing))}", Input).focus()
            return
        if self.busy:
            return
        self.busy = True
        self.say("Signing in…")
        self._login(url, email, password)

    @work(thread=True, exclusive=True, group="login")
    def _login(self, url: str, email: str, password: str) -> None:
        from fieldtech.cloud.api import CloudAPI, RetryPolicy

        message = ""
        token = ""
        try:
            # A person is waiting: try twice, not for a minute.
            with CloudAPI(url, retry=RetryPolicy(attempts=2, base_s=0.2),
                          timeout=10) as api:
                token = api.login(email, password)["token"]
        except CloudProblem as exc:
            message = ("Wrong e-mail or password." if exc.slug == "bad-credentials"
                       else f"The server refused: {exc}")
        except CloudUnavailable as exc:
            message = str(exc).replace(" Your edits stay queued and will be sent later.", "")
        except (FieldtechError, ValueError, KeyError) as exc:  # not a fieldtech server, a bad URL
            message = f"That server did not answer as a fieldtech cloud does ({exc})."
        except Exception as exc:  # httpx's URL errors and the like: never crash the app
            message = f"Could not sign in: {exc}"
        self.app.call_from_thread(self._done, url, email, token, message)

    def _done(self, url: str, email: str, token: str, message: str) -> None:
        self.busy = False
        if not token:
            self.say(message)
            self.query_one("#in-password", Input).focus()
            return
        self.dismiss(True)
        self.post_message(SignedIn(url, email, token))

    def action_cancel(self) -> None:
        self.dismiss(False)
