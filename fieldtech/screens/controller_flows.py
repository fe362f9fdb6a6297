"""What a person can do to the controller on screen: each key's flow, from dialog to save.

The controller screen mixes this in. Every change goes through the edit service, applied to
the record as stored when it is written (never to the copy the screen showed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work

from fieldtech.domain.config_diff import summary
from fieldtech.domain.errors import FieldtechError
from fieldtech.domain.models import Controller, ControllerConfig, Program, Zone
from fieldtech.forms.fields import Field
from fieldtech.forms.records import (
    config_file_form,
    controller_form,
    file_form,
    path_form,
    program_form,
    rain_delay_form,
    zone_form,
)
from fieldtech.offline_store.paths import templates_dir
from fieldtech.screens.remote import RemoteFlows
from fieldtech.services import config_files
from fieldtech.services.edits import Edit


class ControllerFlows(RemoteFlows):
    """Edit flows for `self.controller` (the ControllerScreen sets it)."""

    controller: Controller | None
    # The path typed at the last `i`, offered again: a failed import is fixed and retried
    # without retyping it, and one file is easily applied to several controllers.
    import_path: str | None = None

    def edit_zone(self, controller: Controller, zone: Zone) -> None:
        edits = self.services.edits
        self.open_form(f"Zone {zone.number} — {controller.name}",
                       zone_form(zone, controller.zone_count, self.services.store.today()),
                       lambda z: self.save(lambda: edits.set_zone(controller.id, z), show=True))

    def edit_program(self, controller: Controller, index: int | None) -> None:
        programs = controller.config.programs
        program = programs[index] if index is not None else Program(name="New program")
        edits = self.services.edits
        self.open_form(f"Program — {program.name}", program_form(program, controller.zone_count),
                       lambda p: self.save(lambda: edits.save_program(controller.id, p, index),
                                           show=True))

    def delete_program(self, controller: Controller, index: int) -> None:
        program = controller.config.programs[index]
        edits = self.services.edits
        self.confirm(f"Delete program “{program.name}”?", lambda: self.save(
            lambda: edits.delete_program(controller.id, program), show=True))

    def edit_details(self, controller: Controller) -> None:
        self.open_form(f"Controller — {controller.name}",
                       self.serial_checked(controller_form(controller)),
                       lambda c: self._ask_resize(controller, c))

    @work(thread=True, group="files")
    def _ask_resize(self, controller: Controller, typed: Controller) -> None:
        """Fewer zones delete the ones above: say which (and their program minutes), ask."""
        edits = self.services.edits

        def write() -> Edit:
            return edits.update_controller(controller.id, typed)
        try:
            lines = edits.resize_losses(controller.id, typed.zone_count)
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, f"Not saved: {exc}", severity="error")
            return
        if not lines:
            self.app.call_from_thread(self.save, write, True)
            return
        self.app.call_from_thread(
            self.confirm, f"Save {typed.zone_count} zones for “{controller.name}”? This "
            f"deletes:\n{summary(lines)}", lambda: self.save(write, show=True))

    def edit_rain_delay(self, controller: Controller) -> None:
        edits = self.services.edits
        self.open_form(f"Rain delay — {controller.name}",
                       rain_delay_form(controller.config.rain_delay_until),
                       lambda result: self.save(
                           lambda: edits.set_rain_delay(controller.id, result["until"]),
                           show=True))

    def log_time(self, controller: Controller) -> None:
        from fieldtech.forms.contracts import time_entry_form

        edits = self.services.edits
        self.open_form(f"Log time — {controller.name}",
                       time_entry_form(controller.customer_id, controller.id,
                                       self.services.store.today()),
                       lambda data: self.save(
                           lambda: edits.create_document("time_entry", data)), "Log")

    # -- configuration files --------------------------------------------------------------------

    def export_config(self, controller: Controller) -> None:
        exports = self.services.data_dir / "exports"
        default = exports / f"{_slug(controller.name)}-{controller.id[:8]}.toml"
        self.open_form("Export configuration to",
                       file_form("File", str(default), exports),
                       lambda path: self._write_file(controller, path, template=False), "Export")

    def save_template(self, controller: Controller) -> None:
        folder = templates_dir(self.services.data_dir)
        self.open_form("Save as template",
                       file_form("Template name", _slug(controller.name), folder,
                                 hint=f"kept in {folder}; or type a path"),
                       lambda path: self._write_file(controller, path, template=True))

    @work(thread=True, group="files")
    def _write_file(self, controller: Controller, path: Path, template: bool) -> None:
        try:
            self.services.edits.export_config(controller.id, path, template)
        except (OSError, FieldtechError) as exc:
            self.app.call_from_thread(self.notify, f"Could not write: {exc}", severity="error")
            return
        folder = templates_dir(self.services.data_dir)
        if not template:
            done = f"Exported to {path}"
        elif path.parent == folder:
            done = f"Template saved: {path.stem} (t applies it)."
        else:  # a path of its own: t lists the templates folder only
            done = f"Template saved to {path}; t lists only those in {folder}."
        self.app.call_from_thread(self.notify, done, timeout=5)

    def import_config(self, controller: Controller) -> None:
        exports = self.services.data_dir / "exports"
        latest = config_files.newest(exports)
        default = self.import_path or (str(latest) if latest else f"{exports}/")
        edits = self.services.edits

        def read(path: Path) -> ControllerConfig:
            self.import_path = str(path)  # offered again, even when the file is refused
            return edits.read_config_file(controller.id, path)
        self.open_form("Import configuration from",
                       config_file_form(path_form("File", default), exports, read),
                       lambda chosen: self._ask_overwrite(controller, f"Import {chosen[0].name}",
                                                          chosen[1]), "Import")

    def apply_template(self, controller: Controller) -> None:
        folder = templates_dir(self.services.data_dir)
        found = config_files.templates(folder)
        if not found:
            self.notify("No templates yet: press T on a controller to save one.", timeout=5)
            return
        field = Field("path", "Template", str(found[0]), "select",
                      options=[(p.stem, str(p)) for p in found])
        edits = self.services.edits
        self.open_form(f"Apply a template to {controller.name}",
                       config_file_form(([field], lambda v: (v["path"], [])), folder,
                                        lambda path: edits.read_config_file(controller.id, path)),
                       lambda chosen: self._ask_overwrite(
                           controller, f"Apply template “{chosen[0].stem}”", chosen[1]),
                       "Apply")

    @work(thread=True, group="files")
    def _ask_overwrite(self, controller: Controller, what: str, config: ControllerConfig) -> None:
        """Say what `config` would overwrite on the controller as stored now, then ask."""
        edits = self.services.edits
        try:
            lines = edits.overwrites(controller.id, config)
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, f"Nothing changed: {exc}", severity="error")
            return
        self.app.call_from_thread(self._confirm_overwrite, controller, what, lines,
                                  lambda: edits.replace_config(controller.id, config, what))

    def _confirm_overwrite(self, controller: Controller, what: str, lines: list[str],
                           write: Callable[[], Any]) -> None:
        if not lines:
            self.notify(f"{controller.name} already has that configuration: nothing to "
                        "change.", timeout=4)
            return
        self.confirm(f"{what} to “{controller.name}”? It overwrites:\n{summary(lines)}\n"
                     "Its rain delay and zone suspensions stay as they are.",
                     lambda: self.save(write, show=True))

    def copy_config_from(self, controller: Controller) -> None:
        from fieldtech.screens.switcher import SwitcherScreen

        def picked(source_id: str | None) -> None:
            if source_id and source_id != controller.id:
                self._ask_copy(controller, source_id)
        self.app.push_screen(SwitcherScreen([], finder=True, purpose=(
            f"Copy the configuration to {controller.name} from…", "copy from")), picked)

    @work(thread=True, group="files")
    def _ask_copy(self, controller: Controller, source_id: str) -> None:
        edits = self.services.edits
        try:
            lines = edits.copy_overwrites(controller.id, source_id)
            source = self.services.store.controller(source_id).name
        except FieldtechError as exc:  # e.g. deleted (here or by a sync) since it was listed
            self.app.call_from_thread(self.notify, f"Not copied: {exc} Nothing changed.",
                                      severity="error")
            return
        self.app.call_from_thread(
            self._confirm_overwrite, controller, f"Copy the configuration of “{source}”", lines,
            lambda: edits.copy_config_from(controller.id, source_id))

    def toggle_pin(self, controller_id: str) -> None:
        settings = self.services.settings
        pinned = settings.toggle_pin(controller_id)
        settings.save()
        self.notify("Pinned: it keeps a digit in the switcher." if pinned else "Unpinned.",
                    timeout=2)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "controller"

