"""One form dialog for every record: fields, per-field errors, nothing saved half-valid.

A form is a list of `Field`s and a `build` function that turns the typed values into a record
and returns the domain's FieldErrors. The dialog shows each error under its field and only
dismisses (with the built record) once `build` reports none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from fieldtech.domain.errors import FieldError
from fieldtech.forms.fields import Builder, Field, field_for
from fieldtech.screens.frames import PromptFrames
from fieldtech.screens.keymap_first import KeymapFirst
from fieldtech.screens.markup import escape
from fieldtech.widgets.key_bar import KeyBar


class FormScreen(KeymapFirst, PromptFrames, ModalScreen[Any]):
    """Edit some fields; dismisses with the record `build` made, or None on cancel.

    Its title, choices and errors are plain text: they name records and repeat what was typed.

    `action` names what Ctrl+S does (Save, Import, Connect…), on the button and in the key bar.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
        Binding("tab", "app.focus_next", "Next field"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False),
    ]

    def __init__(self, title: str, fields: Sequence[Field], build: Builder,
                 action: str = "Save"):
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.build = build
        self.action = action
        keys = self._bindings.key_to_bindings
        keys["ctrl+s"] = [replace(b, description=action) for b in keys["ctrl+s"]]
        keys["tab"] = keys.pop("tab")  # shown after Save and Cancel, not before
        self._typed_at_start: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(escape(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="form-body"):
                for f in self.fields:
                    with Horizontal(classes="field-row"):
                        yield Label(f.label, classes="field-label")
                        yield self._input(f)
                    if f.hint:
                        yield Static(f.hint, classes="field-hint")
                    yield Static("", id=f"err-{f.name}", classes="field-error empty")
            yield Static("", id="err-form", classes="field-error empty")
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(f"{self.action} (Ctrl+S)", id="save", variant="primary")
        yield KeyBar()  # the form's own keys, over those of the screen below

    def _input(self, f: Field):
        if f.kind == "bool":  # a Select, not a Switch: readable in one line and under NO_COLOR
            return Select([("Yes", True), ("No", False)], value=bool(f.value), allow_blank=False,
                          id=f"in-{f.name}")
        if f.kind == "select":
            options = [(escape(label), value) for label, value in f.options]  # e.g. file names
            return Select(options, value=f.value, allow_blank=False, id=f"in-{f.name}")
        value = "" if f.value is None else str(f.value)
        if f.kind == "password":  # typed blind, never echoed on a screen someone can see
            return Input(value=value, id=f"in-{f.name}", password=True, select_on_focus=False)
        # No select-on-focus: a stray key must not replace the whole value.
        return Input(value=value, id=f"in-{f.name}", select_on_focus=False)

    def on_mount(self) -> None:
        first = self.query(".form-body Input, .form-body Select").first()
        first.focus()
        self._typed_at_start = self.typed()

    def typed(self) -> dict[str, Any]:
        """Each field's value as it stands in its widget, before any conversion."""
        return {f.name: self.query_one(f"#in-{f.name}").value for f in self.fields}

    def values(self) -> tuple[dict[str, Any], list[FieldError]]:
        """Typed values converted to Python; conversion problems as FieldErrors."""
        out: dict[str, Any] = {}
        errors: list[FieldError] = []
        for f in self.fields:
            raw = self.query_one(f"#in-{f.name}").value
            if f.kind in ("int", "optional_int"):
                text = str(raw).strip()
                if not text and f.kind == "optional_int":
                    out[f.name] = None
                    continue
                try:
                    out[f.name] = int(text)
                except ValueError:
                    errors.append(FieldError(f.name, "Enter a whole number."))
            elif f.kind == "text":
                out[f.name] = str(raw).strip()
            else:
                out[f.name] = raw
        return out, errors

    def action_save(self) -> None:
        values, errors = self.values()
        # Fields that did not convert are built from their old value, so every other field is
        # still checked: all the errors show at once, each under its own field.
        unconverted = {e.field for e in errors}
        trial = {**values, **{f.name: f.value for f in self.fields if f.name in unconverted}}
        try:
            record, checked = self.build(trial)
        except ValueError as exc:  # a builder's own parse error, e.g. "06:00 xx"
            record, checked = None, [FieldError("", str(exc))]
        names = [f.name for f in self.fields]
        errors += [e for e in checked if field_for(e.field, names) not in unconverted]
        if errors:
            self.show_errors(errors)
            return
        self.dismiss(record)

    def show_errors(self, errors: Sequence[FieldError]) -> None:
        names = [f.name for f in self.fields]
        by_field: dict[str, list[str]] = {}
        for e in errors:
            by_field.setdefault(field_for(e.field, names) or "form", []).append(e.message)
        for name in [*names, "form"]:
            box = self.query_one(f"#err-{name}", Static)
            messages = by_field.get(name, [])
            box.update(escape("\n".join(messages)))
            box.set_class(not messages, "empty")
            if name != "form":
                self.query_one(f"#in-{name}").set_class(bool(messages), "-invalid")
        first = next((n for n in names if n in by_field), None)
        if first:
            self.query_one(f"#in-{first}").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def on_input_submitted(self) -> None:
        self.action_save()

    def action_cancel(self) -> None:
        if self.typed() == self._typed_at_start:
            self.dismiss(None)
            return
        self.app.push_screen(ConfirmScreen("Discard your changes?"),
                             lambda discard: discard and self.dismiss(None))


class ConfirmScreen(KeymapFirst, PromptFrames, ModalScreen[bool]):
    """Ask a yes/no question (plain text: it names records); dismisses with the answer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(escape(self.question), classes="dialog-title")
            yield Static("[b]y[/b] yes · [b]n[/b] no", classes="dialog-hint")
        yield KeyBar()  # its own keys, not those of the form or screen below

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def help_rows(app: App[Any]) -> list[tuple[str, str, str]]:
    """(keys, description, binding id) of every key fieldtech defines where the focus is."""
    rows = [("s then 1–9", "open a pinned or recent controller", "")]
    for key, active in app.active_bindings.items():
        b = active.binding
        # Only keys fieldtech defines: Textual's own (Scroll Left, Copy selected text,
        # Focus Next…) mean nothing to a technician.
        if (b.description and b.action not in ("cursor(-1)", "cursor(1)")
                and b.action in _own_actions(active.node)):
            rows.append((app.get_key_display(b) or key, b.description, b.id or ""))
    rows.append(("↑↓ PgUp PgDn", "move in lists; Enter opens", ""))
    # The screen's filter words (`/`), as queries.help_lines gives them (fleet, triage).
    for syntax, meaning in getattr(app.screen, "FILTER_HELP", ()):
        rows.append((syntax, f"filter: {meaning}", ""))
    return rows


def _own_actions(node: object) -> set[str]:
    """The actions bound in fieldtech's own classes of `node` (not in Textual's bases)."""
    actions: set[str] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("fieldtech"):
            for b in cls.__dict__.get("BINDINGS", ()):
                actions.add(b.action if isinstance(b, Binding) else b[1])
    return actions


class HelpScreen(KeymapFirst, PromptFrames, ModalScreen[None]):
    """Every key of the screen below and of the app, with its current (remappable) key."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]
    AUTO_FOCUS = "#help-body"  # ↑↓ PgUp PgDn scroll the keys

    def __init__(self, rows: list[tuple[str, str, str]]):
        super().__init__()
        self.rows = rows  # (keys, description, binding id)

    def compose(self) -> ComposeResult:
        lines = [f" [b]{escape(f'{keys:<14}')}[/b] {escape(desc)}"
                 + (f" [dim]({escape(bid)})[/dim]" if bid else "")
                 for keys, desc, bid in self.rows]
        with Vertical(classes="dialog", id="help-dialog"):
            yield Static("Keys", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static("\n".join(lines))
            yield Static("Remap a key in settings.toml under \\[keys], e.g. finder = \"ctrl+f\" "
                         "(ids in parentheses). ↑↓ PgUp PgDn scroll; Esc closes.",
                         classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
