"""What a person can do to the controller on screen: each key's flow, from dialog to save.

The controller screen mixes this in. Every change goes through the edit service, applied to
the record as stored when it is written (never to the copy the screen showed).
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from fieldtech.domain.errors import FieldtechError, ValidationError
from fieldtech.domain.models import Controller, Program, Zone
from fieldtech.forms.fields import Field
from fieldtech.forms.records import (
    controller_form,
    path_form,
    program_form,
    rain_delay_form,
    zone_form,
)
from fieldtech.offline_store.paths import templates_dir
from fieldtech.screens.flows import error_lines
from fieldtech.screens.remote import RemoteFlows
from fieldtech.services import config_files


class ControllerFlows(RemoteFlows):
    """Edit flows for `self.controller` (the ControllerScreen sets it)."""

    controller: Controller | None
    # The path typed at the last `i`, offered again: a failed import is fixed and retried
    # without retyping it, and one file is easily applied to several controllers.
    import_path: str | None = None

    def edit_zone(self, controller: Controller, zone: Zone) -> None:
        edits = self.services.edits
        self.open_form(f"Zone {zone.number} — {controller.name}",
                       zone_form(zone, controller.zone_count),
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
        edits = self.services.edits
        self.open_form(f"Controller — {controller.name}",
                       self.serial_checked(controller_form(controller)),
                       lambda c: self.save(lambda: edits.update_controller(controller.id, c),
                                           show=True))

    def edit_rain_delay(self, controller: Controller) -> None:
        edits = self.services.edits
        self.open_form(f"Rain delay — {controller.name}",
                       rain_delay_form(controller.config.rain_delay_until),
                       lambda result: self.save(
                           lambda: edits.set_rain_delay(controller.id, result["until"]),
                           show=True))

    # -- configuration files --------------------------------------------------------------------

    def export_config(self, controller: Controller) -> None:
        data_dir = self.services.data_dir
        default = data_dir / "exports" / f"{_slug(controller.name)}-{controller.id[:8]}.toml"
        self.open_form("Export configuration to", path_form("File", str(default)),
                       lambda path: self._write_file(controller, Path(path),
                                                     f"Exported to {path}"), "Export")

    def save_template(self, controller: Controller) -> None:
        default = templates_dir(self.services.data_dir) / f"{_slug(controller.name)}.toml"
        self.open_form("Save as template", path_form("Template file", str(default)),
                       lambda path: self._write_file(controller, Path(path),
                                                     f"Template saved: {Path(path).name}"))

    @work(thread=True, group="files")
    def _write_file(self, controller: Controller, path: Path, done: str) -> None:
        try:
            self.services.edits.export_config(controller.id, path)
        except (OSError, FieldtechError) as exc:
            self.app.call_from_thread(self.notify, f"Could not write: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, done, timeout=4)

    def import_config(self, controller: Controller) -> None:
        exports = self.services.data_dir / "exports"
        latest = config_files.newest(exports)
        default = self.import_path or (str(latest) if latest else f"{exports}/")

        def chosen(path: str) -> None:
            self.import_path = path
            self._import(controller, Path(path).expanduser())
        self.open_form("Import configuration from", path_form("File", default), chosen,
                       "Import")

    def apply_template(self, controller: Controller) -> None:
        found = config_files.templates(templates_dir(self.services.data_dir))
        if not found:
            self.notify("No templates yet: press T on a controller to save one.", timeout=5)
            return
        field = Field("path", "Template", str(found[0]), "select",
                      options=[(p.stem, str(p)) for p in found])
        self.open_form(f"Apply a template to {controller.name}",
                       ([field], lambda v: (v["path"], [])),
                       lambda path: self._import(controller, Path(path)), "Apply")

    @work(thread=True, group="files")
    def _import(self, controller: Controller, path: Path) -> None:
        try:
            edit = self.services.edits.import_config(controller.id, path)
        except ValidationError as exc:
            self.app.call_from_thread(self.notify, "Not imported — nothing changed:\n"
                                      + error_lines(exc.errors), severity="error", timeout=12)
            return
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"Could not read {path}: "
                                      f"{exc.strerror or exc}. Nothing changed.",
                                      severity="error")
            return
        except FieldtechError as exc:
            self.app.call_from_thread(self.notify, f"Not imported: {exc}", severity="error")
            return
        self.app.call_from_thread(self._saved, edit, True)

    def copy_config_from(self, controller: Controller) -> None:
        from fieldtech.screens.switcher import SwitcherScreen

        def picked(source_id: str | None) -> None:
            if source_id and source_id != controller.id:
                self._copy(controller, source_id)
        self.app.push_screen(SwitcherScreen([], finder=True), picked)

    @work(thread=True, group="files")
    def _copy(self, controller: Controller, source_id: str) -> None:
        try:
            edit = self.services.edits.copy_config_from(controller.id, source_id)
        except FieldtechError as exc:  # e.g. deleted (here or by a sync) since it was listed
            self.app.call_from_thread(self.notify, f"Not copied: {exc} Nothing changed.",
                                      severity="error")
            return
        self.app.call_from_thread(self._saved, edit, True)

    def toggle_pin(self, controller_id: str) -> None:
        settings = self.services.settings
        pinned = settings.toggle_pin(controller_id)
        settings.save()
        self.notify("Pinned: it keeps a digit in the switcher." if pinned else "Unpinned.",
                    timeout=2)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-") or "controller"

