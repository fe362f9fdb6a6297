"""Every change a person can make to the records, in one place, for every front end.

The TUI, the CLI, on-site binding and (later) imports and campaigns call these functions; none
of them knows about Textual. Each one validates, checks what the plan allows, and writes the
record with its outbox row in one store transaction, applied to the record as stored at that
moment (never to a stale copy a screen showed). It returns an `Edit` that says what changed,
or raises a `FieldtechError`: a `ValidationError` carries one `FieldError` per field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldtech.domain.config_diff import config_changes
from fieldtech.domain.documents import Document, kind_of
from fieldtech.domain.errors import FieldError, NotFound, QuotaExceeded, ValidationError
from fieldtech.domain.models import Controller, ControllerConfig, Customer, Program, Zone, new_id
from fieldtech.domain.validation import check, normalize_serial, validate_controller
from fieldtech.offline_store.store import OutboxEntry, Store
from fieldtech.services import config_files

if TYPE_CHECKING:
    from fieldtech.controller_link import DeviceConfig, DeviceInfo

CUSTOMER_FIELDS = ("name", "email", "phone", "address", "plan", "self_management",
                   "membership", "tags")
# What the details form edits; the configuration follows a change of zone count.
BULK_CREATE_MAX = 500  # controllers made in one form
CONTROLLER_FIELDS = ("name", "model", "zone_count", "serial", "timezone", "location", "notes",
                     "tags")


@dataclass(frozen=True)
class Edit:
    """What one edit did: the words for the person, the record, the outbox row it queued."""

    summary: str
    record_id: str
    queued: OutboxEntry | None = None  # None: the record already said that (nothing to send)
    warning: str | None = None  # e.g. over the plan's limit as last known

    @property
    def changed(self) -> bool:
        return self.queued is not None


@dataclass(frozen=True)
class Deletion:
    """What deleting a record means, to say before asking (see `EditService.deletion`)."""

    what: str  # "controller “Front yard” (Ana Chen, FT1-…)"
    never_synced: bool  # it goes with its pending edits, nothing to undo
    blocked: str | None = None  # why it cannot be deleted yet (a customer's controllers)

    def question(self) -> str:
        if self.never_synced:
            after = ("It was never sent to the cloud: it goes away now with its pending "
                     "edits, and this cannot be undone.")
        else:
            after = ("It is removed from the cloud at the next sync; until then, pending "
                     "changes (u, then x to discard) bring it back.")
        return f"Delete {self.what}? {after}"

    def done(self) -> str:
        if self.never_synced:
            return "Deleted (it was never in the cloud)."
        return "Deleted: removed from the cloud at the next sync (u, then x, undoes it)."


class EditService:
    """The edits of one offline store (thread-safe as the store is: call from workers)."""

    def __init__(self, store: Store):
        self.store = store

    # -- customers ------------------------------------------------------------------------------

    def create_customer(self, customer: Customer) -> Edit:
        entry = self.store.create_customer(customer)
        return Edit(f"Customer {customer.name}", customer.id, entry)

    def update_customer(self, customer_id: str, typed: Customer) -> Edit:
        """Set the fields a person edits (the customer form's) from `typed`."""
        changes = {f: getattr(typed, f) for f in CUSTOMER_FIELDS}
        entry = self.store.update_customer(customer_id, **changes)
        return Edit(f"Customer {typed.name}", customer_id, entry)

    # -- controllers ----------------------------------------------------------------------------

    def create_controller(self, controller: Controller) -> Edit:
        """A new controller, hardware or not. Over the plan's limit as last known it is still
        kept and sent: the cloud decides (a colleague may have freed a slot); refused, it stays
        here as a draft with the reason."""
        usage = self.store.usage()
        over = bool(usage and usage.controllers_used >= usage.controllers_limit)
        entry = self.store.create_controller(controller)
        summary = f"Controller {controller.name}" + (
            " (over the plan's limit as last known: the cloud decides)" if over else "")
        return Edit(summary, controller.id, entry)

    def create_controllers(self, model: Controller, count: int,
                           template: ControllerConfig | None = None) -> Edit:
        """`count` new controllers for one customer like `model`, named "<name> 1" … "<name>
        N" (skipping names it has), each with `template`'s zones and programs cut or padded
        to its zone count, in ONE transaction. Over the plan's limit as last known it is
        refused before anything is written (QuotaExceeded, saying what would fix it)."""
        if not 1 <= count <= BULK_CREATE_MAX:
            raise ValidationError([FieldError("count", f"Between 1 and {BULK_CREATE_MAX}.")])
        usage = self.store.usage()
        if usage and usage.controllers_used + count > usage.controllers_limit:
            raise QuotaExceeded("Controllers", usage.controllers_used + count,
                                usage.controllers_limit, usage.tier.label,
                                usage.controller_warning(count) or "")
        self.store.customer(model.customer_id)  # NotFound if the customer is gone
        taken = {r.name for r in self.store.fleet_rows() if r.customer_id == model.customer_id}
        made: list[Controller] = []
        n = 0
        while len(made) < count:
            n += 1
            if (name := f"{model.name} {n}") in taken:
                continue
            one = replace(model, id=new_id(), name=name,
                          config=ControllerConfig.default_for(model.zone_count))
            if template is not None:
                source = replace(one, zone_count=len(template.zones), config=template)
                one = one.copy_config_from(source)
            check(validate_controller(one))
            made.append(one)
        self.store.create_many([], made)
        return Edit(f"{count} controllers, {made[0].name} … {made[-1].name}", made[0].id)

    def new_controller_defaults(self, customer_id: str) -> dict[str, Any]:
        """What a new controller of this customer starts with: the time zone its other
        controllers use, else the account's usual one."""
        timezone = self.store.usual_timezone(customer_id)
        return {"timezone": timezone} if timezone else {}

    def quota_warning(self) -> str | None:
        """What adding one controller would mean for the plan, from the last known usage."""
        usage = self.store.usage()
        return usage.controller_warning() if usage else None

    def serial_errors(self, controller: Controller) -> list[FieldError]:
        """The serial's error if another controller here holds it (to show under the field)."""
        return self.store.serial_errors(controller)

    def update_controller(self, controller_id: str, typed: Controller) -> Edit:
        """Set the details (name, model, zone count, serial, …) from `typed`; a new zone count
        cuts or pads the zones and drops cut zones from programs."""
        changes = {f: getattr(typed, f) for f in CONTROLLER_FIELDS}

        def change(current: Controller) -> dict[str, Any]:
            if typed.zone_count == current.zone_count:
                return changes
            resized = replace(current, zone_count=typed.zone_count).copy_config_from(current)
            return {**changes, "config": resized.config}
        return self._edit(controller_id, f"Controller {typed.name}", change)

    def set_zone(self, controller_id: str, zone: Zone) -> Edit:
        return self._edit(controller_id, f"Zone {zone.number}", lambda c: {"config": replace(
            c.config, zones=[zone if z.number == zone.number else z for z in c.config.zones])})

    def save_program(self, controller_id: str, program: Program, index: int | None) -> Edit:
        """Replace the program at `index`, or add it (index None, or past the end)."""
        def change(c: Controller) -> dict[str, Any]:
            programs = list(c.config.programs)
            if index is None or index >= len(programs):
                programs.append(program)
            else:
                programs[index] = program
            return {"config": replace(c.config, programs=programs)}
        return self._edit(controller_id, f"Program {program.name}", change)

    def delete_program(self, controller_id: str, program: Program) -> Edit:
        """Delete `program` as the person saw it: another program is never deleted instead."""
        return self._edit(controller_id, f"Program {program.name} deleted", lambda c: {
            "config": replace(c.config, programs=[
                p for p in c.config.programs if p != program])})

    def set_rain_delay(self, controller_id: str, until: datetime | None) -> Edit:
        return self._edit(controller_id, "Rain delay", lambda c: {
            "config": replace(c.config, rain_delay_until=until)})

    def replace_config(self, controller_id: str, config: ControllerConfig,
                       summary: str) -> Edit:
        """Zones and programs from `config`; the controller's own rain delay and zone
        suspensions stay (a file or another controller never starts or ends one)."""
        return self._edit(controller_id, summary, lambda current: {
            "config": config.keeping_state_of(current.config)})

    def read_config_file(self, controller_id: str, path: Path) -> ControllerConfig:
        """The configuration in a TOML file, validated as a whole against this controller
        (ValidationError with every problem, or OSError); nothing is written."""
        return config_files.read_config(path, self.store.controller(controller_id).zone_count)

    def import_config(self, controller_id: str, path: Path) -> Edit:
        """A configuration from a TOML file (an export or a template), validated as a whole
        against this controller: any problem raises ValidationError and changes nothing."""
        config = self.read_config_file(controller_id, path)
        return self.replace_config(controller_id, config, f"Imported {path.name}")

    def overwrites(self, controller_id: str, config: ControllerConfig) -> list[str]:
        """What `replace_config(config)` would change on the controller as stored, one line
        each (to show before asking); empty: it already has that configuration."""
        current = self.store.controller(controller_id).config
        return config_changes(current.to_dict(), config.keeping_state_of(current).to_dict())

    def copy_overwrites(self, controller_id: str, source_id: str) -> list[str]:
        """What `copy_config_from(source_id)` would change, one line each."""
        current = self.store.controller(controller_id)
        copied = current.copy_config_from(self._source(source_id))
        return config_changes(current.config.to_dict(), copied.config.to_dict())

    def resize_losses(self, controller_id: str, zone_count: int) -> list[str]:
        """What a lower zone count would delete (zones, their minutes in programs), one line
        each; empty when nothing is lost (the same or more zones)."""
        current = self.store.controller(controller_id)
        if zone_count >= current.zone_count:
            return []
        resized = replace(current, zone_count=zone_count).copy_config_from(current)
        return config_changes(current.config.to_dict(), resized.config.to_dict())

    def copy_config_from(self, controller_id: str, source_id: str) -> Edit:
        """The zones and programs of another controller, cut or padded to this zone count;
        this controller's rain delay and zone suspensions stay."""
        source = self._source(source_id)
        return self._edit(controller_id, f"Copied from {source.name}",
                          lambda c: {"config": c.copy_config_from(source).config})

    def _source(self, source_id: str) -> Controller:
        try:
            return self.store.controller(source_id)
        except NotFound:  # deleted (here or by a sync) since it was offered
            raise NotFound("That controller no longer exists.") from None

    def edit_controller(self, controller_id: str, summary: str,
                        change: Callable[[Controller], dict[str, Any]]) -> Edit:
        """Any other change: `change(record as stored now)` gives the fields to set."""
        return self._edit(controller_id, summary, change)

    def _edit(self, controller_id: str, summary: str,
              change: Callable[[Controller], dict[str, Any]]) -> Edit:
        entry = self.store.edit_controller(controller_id, change)
        return Edit(summary, controller_id, entry)

    # -- on site (the controller link is imported here, not at start-up: zeroconf, httpx) -----

    def bind_device(self, controller_id: str, device: DeviceInfo,
                    replace_existing: bool = False) -> tuple[Edit, list[str]]:
        """Give the record the device's serial (checked against the record as stored, inside
        the write): RecordAlreadyBound when it holds another serial and `replace_existing` is
        not set. Returns the edit and warnings to show (e.g. a model that differs)."""
        from fieldtech.controller_link.onsite import bind_serial

        holders = self._holders(device)
        warnings: list[str] = []

        def change(current: Controller) -> dict[str, Any]:
            binding = bind_serial(current, device, holders, replace_existing)
            warnings[:] = binding.warnings
            return {"serial": binding.controller.serial}
        return self._edit(controller_id, "Bound", change), warnings

    def create_bound(self, typed: Controller, device: DeviceInfo) -> tuple[Controller, list[str]]:
        """A new record for a device found on site: the serial is the device's, whatever was
        typed; refused if another record holds it."""
        from fieldtech.controller_link.onsite import bind_serial

        binding = bind_serial(replace(typed, serial=None), device, self._holders(device))
        self.create_controller(binding.controller)
        return binding.controller, list(binding.warnings)

    def pull_config(self, controller_id: str, read: DeviceConfig) -> Edit:
        """Take a device's configuration into the record (what we cannot show is kept)."""
        from fieldtech.controller_link.onsite import merge_pulled

        return self._edit(controller_id, "Pulled from the controller", lambda current: {
            "config": merge_pulled(current.config, read, current.zone_count)})

    def _holders(self, device: DeviceInfo) -> list[Controller]:
        """Records that already hold this device's serial (a serial binds one record only)."""
        serial = normalize_serial(device.serial or "")
        store = self.store
        return [store.controller(r.controller_id) for r in store.fleet_rows()
                if r.controller_id and r.serial and normalize_serial(r.serial) == serial]

    # -- deleting -------------------------------------------------------------------------------

    def deletion(self, entity: str, record_id: str) -> Deletion:
        """What deleting this customer or controller means (ask with it, then `delete`)."""
        store = self.store
        if entity == "controller":
            row = store.controller_row(record_id)
            what = f"controller “{row.name}” ({row.customer_name}, {row.serial or 'not linked'})"
            return Deletion(what, store.never_synced("controller", record_id))
        blocked = store.customer_still_needed(record_id)
        customer = store.customer(record_id)
        return Deletion(f"customer “{customer.name}”", store.never_synced("customer", record_id),
                        blocked)

    def delete(self, entity: str, record_id: str) -> Edit:
        """Delete here now, from the cloud at the next sync (StillNeeded for a customer with
        controllers, NotFound if it is gone already)."""
        if entity == "controller":
            entry = self.store.delete_controller(record_id)
        elif entity == "customer":
            entry = self.store.delete_customer(record_id)
        else:
            raise ValidationError([FieldError("entity", f"Cannot delete a {entity}.")])
        return Edit(f"Deleted {entity}", record_id, entry)

    # -- documents (tiers, agreements, time entries, work orders: fieldtech.domain.documents) ---

    def create_document(self, kind: str, data: dict[str, Any],
                        document_id: str | None = None) -> Edit:
        """A new document of a registered kind (ValidationError, or NotFound for its customer,
        before anything is written)."""
        record_id = document_id or new_id()
        entry = self.store.create_document(kind, record_id, data)
        return Edit(f"New {kind_of(kind).words}", record_id, entry)

    def update_document(self, document_id: str, changes: dict[str, Any]) -> Edit:
        """Set these fields on the document as stored now (None removes a field)."""
        entry = self.store.update_document(document_id, **changes)
        kind = self.store.document(document_id).kind
        return Edit(f"{kind_of(kind).words.capitalize()} changed", document_id, entry)

    def edit_document(self, document_id: str, summary: str,
                      change: Callable[[Document], dict[str, Any]]) -> Edit:
        """Any other change: `change(document as stored now)` gives the fields to set."""
        return Edit(summary, document_id, self.store.edit_document(document_id, change))

    def delete_document(self, document_id: str) -> Edit:
        """Delete here now, from the cloud at the next sync (discard undoes it until then)."""
        kind = self.store.document(document_id).kind
        entry = self.store.delete_document(document_id)
        return Edit(f"Deleted {kind_of(kind).words}", document_id, entry)

    # -- files (no record changes) --------------------------------------------------------------

    def export_config(self, controller_id: str, path: Path, template: bool = False) -> Path:
        """Write the controller's configuration to a TOML file; a `template` is configuration
        only (no rain delay or zone suspension in force)."""
        return config_files.export_controller(self.store.controller(controller_id), path,
                                              template)
