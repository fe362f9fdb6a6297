"""The steps every editing screen shares: open a form, ask first, save in a worker, say so.

A screen mixes `EditFlows` in and calls the edit service through `save`; the app hears what
happened through `RecordsChanged` / `ControllerGone` and reloads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from fieldtech.domain.errors import FieldError, FieldtechError
from fieldtech.screens.messages import ControllerGone, RecordsChanged, Synced
from fieldtech.screens.services import FieldtechScreen

if TYPE_CHECKING:  # the forms and the edit service load on first use, after the first paint
    from fieldtech.forms.fields import Field
    from fieldtech.services.edits import Deletion, Edit

Form = tuple["list[Field]", Any]


class EditFlows(FieldtechScreen):
    """A screen that edits records (the fleet, a controller)."""

    def open_form(self, title: str, form: Form, then: Callable[[Any], None],
                  action: str = "Save") -> None:
        """A form dialog; `then(value)` with what it built, unless cancelled."""
        from fieldtech.screens.forms import FormScreen

        fields, build = form
        self.app.push_screen(FormScreen(title, fields, build, action),
                             lambda result: result is not None and then(result))

    def confirm(self, question: str, then: Callable[[], None]) -> None:
        from fieldtech.screens.forms import ConfirmScreen

        self.app.push_screen(ConfirmScreen(question), lambda yes: yes and then())

    @work(thread=True, group="save")
    def save(self, write: Callable[[], Edit], show: bool = False) -> None:
        """Run an edit; say it is saved, and reload (showing the controller if `show`)."""
        try:
            edit = write()
        except (FieldtechError, OSError) as exc:  # forms validate first: a last line of defence
            self.app.call_from_thread(self.notify, f"Not saved: {exc}", severity="error")
            return
        self.app.call_from_thread(self._saved, edit, show)

    def _saved(self, edit: Edit, show: bool) -> None:
        self.notify(f"{edit.summary} — saved, will sync.", timeout=3)
        self.post_message(RecordsChanged(keep=edit.record_id,
                                         open_id=edit.record_id if show else None))

    def serial_checked(self, form: Form) -> Form:
        """A controller form that also refuses a serial another controller here holds, next
        to the field (the store refuses it too, but only after the form has closed)."""
        fields, build = form
        edits = self.services.edits

        def checked(values: dict[str, Any]) -> tuple[Any, list[FieldError]]:
            record, errors = build(values)
            if not any(e.field == "serial" for e in errors):
                errors = errors + edits.serial_errors(record)
            return record, errors
        return fields, checked

    # -- deleting -------------------------------------------------------------------------------

    @work(thread=True, group="save")
    def delete_record(self, entity: str, record_id: str) -> None:
        """Say what deleting means, ask, then delete (here now, in the cloud at the sync)."""
        try:
            deletion = self.services.edits.deletion(entity, record_id)
        except FieldtechError as exc:  # gone since it was shown
            self.app.call_from_thread(self.notify, f"Not deleted: {exc}", severity="warning")
            return
        self.app.call_from_thread(self._ask_delete, entity, record_id, deletion)

    def _ask_delete(self, entity: str, record_id: str, deletion: Deletion) -> None:
        if deletion.blocked:
            self.notify(f"Not deleted: {deletion.blocked}", severity="warning", timeout=6)
            return
        self.confirm(deletion.question(), lambda: self._delete(entity, record_id, deletion))

    @work(thread=True, group="save")
    def _delete(self, entity: str, record_id: str, deletion: Deletion) -> None:
        try:
            self.services.edits.delete(entity, record_id)
        except FieldtechError as exc:  # e.g. a controller added for the customer meanwhile
            self.app.call_from_thread(self.notify, f"Not deleted: {exc}", severity="warning",
                                      timeout=6)
            return
        self.app.call_from_thread(self._deleted, entity, record_id, deletion.done())

    def _deleted(self, entity: str, record_id: str, done: str) -> None:
        if entity == "controller":  # back to the fleet if it shows, saying `done`
            self.post_message(ControllerGone(record_id, why=done, notice=done))
        else:
            self.notify(done, timeout=4)
        self.post_message(RecordsChanged())



class ListFlows(EditFlows):
    """An editing screen showing a list it reads itself: read again when shown, after a sync
    and after each save (a list read as a form closed may have run before the save)."""

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def on_synced(self, _: Synced) -> None:
        self.reload()

    def reload(self) -> None:
        raise NotImplementedError

    def _saved(self, edit: Edit, show: bool) -> None:
        super()._saved(edit, show)
        self.reload()
