"""The forms of fleet work at scale (no textual): a campaign (which bulk change, then what
it sets), many new controllers from a template, a CSV file to import or export."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fieldtech.domain import limits as L
from fieldtech.domain.errors import FieldError, ValidationError
from fieldtech.domain.models import Controller, Customer, new_id
from fieldtech.domain.plans import Membership
from fieldtech.domain.validation import validate_controller
from fieldtech.forms.fields import Builder, Field
from fieldtech.services import config_files
from fieldtech.services.campaigns import KIND_LABELS, BulkChange, Kind


def kind_form(marked: int) -> tuple[list[Field], Builder]:
    field = Field("kind", f"Change on {marked} marked controllers", Kind.RAIN_DELAY, "select",
                  options=[(label, kind) for kind, label in KIND_LABELS.items()])
    return [field], lambda v: (v["kind"], [])


def change_form(kind: Kind, templates: list[Path], today: date) -> tuple[list[Field], Builder]:
    """The fields of one kind of change; builds a BulkChange (a template is read and checked
    here, so a bad file shows under its field)."""
    fields: list[Field] = {
        Kind.RAIN_DELAY: [Field("hours", "Rain delay (hours; 0 clears it)", 24, "int",
                                hint=f"0–{L.RAIN_DELAY_HOURS_MAX}")],
        Kind.SEASONAL: [Field("percent", "Seasonal adjustment % (every zone)", 100, "int",
                              hint=f"{L.SEASONAL_ADJUST_MIN}–{L.SEASONAL_ADJUST_MAX}; 100 = "
                                   "as programmed")],
        Kind.SUSPEND: [Field("until", "Suspend watering until", str(today + timedelta(
            days=120)), hint="YYYY-MM-DD (winterization: the spring start-up date)")],
        Kind.RESUME: [],
        Kind.TEMPLATE: [Field("template", "Template", str(templates[0]) if templates else "",
                              "select", options=[(p.stem, str(p)) for p in templates])]
        if templates else [Field("template", "Template file", "", hint="a .toml template")],
        Kind.MEMBERSHIP: [Field("membership", "Membership of their customers",
                                Membership.STANDARD, "select",
                                options=[(m.label, m) for m in Membership])],
        Kind.TAGS: [Field("add_tags", "Add tags", "", hint="words, e.g. spring hoa"),
                    Field("remove_tags", "Remove tags", "")],
    }[kind]

    def build(v: dict[str, Any]) -> tuple[BulkChange | None, list[FieldError]]:
        values: dict[str, Any] = {k: v[k] for k in ("hours", "percent", "membership",
                                                    "add_tags", "remove_tags") if k in v}
        errors: list[FieldError] = []
        if "until" in v:
            try:
                values["until"] = date.fromisoformat(str(v["until"]).strip())
            except ValueError:
                errors.append(FieldError("until", "Enter a date as YYYY-MM-DD."))
        if "template" in v:
            path = Path(str(v["template"]))
            try:  # a template for any zone count: each controller's mismatch is shown after
                values["template"] = config_files.read_config(path, L.ZONES_MAX)
                values["template_name"] = path.stem
            except ValidationError as exc:
                errors += [FieldError("template", e.message) for e in exc.errors][:1]
            except OSError as exc:
                errors.append(FieldError("template", f"Cannot read {path}: {exc}"))
        if errors:
            return None, errors
        change = BulkChange(kind, **values)
        return change, change.errors()

    return fields, build


NO_TEMPLATE = ""


def bulk_controllers_form(customer: Customer, templates: list[Path], timezone: str = "UTC"
                          ) -> tuple[list[Field], Builder]:
    """N controllers for `customer`: a name they share (numbered), model, zones, time zone,
    and a template; builds (model controller, count, template config or None)."""
    fields = [
        Field("count", "How many", 10, "int", hint="1–500, named “<name> 1” … “<name> N”"),
        Field("name", "Name", "Controller"),
        Field("model", "Model", "FT-8"),
        Field("zone_count", "Zones", 8, "int", hint=f"{L.ZONES_MIN}–{L.ZONES_MAX}"),
        Field("timezone", "Time zone", timezone),
        Field("template", "Template", NO_TEMPLATE, "select",
              options=[("none: every zone, no program", NO_TEMPLATE)]
              + [(p.stem, str(p)) for p in templates]),
    ]

    def build(v: dict[str, Any]) -> tuple[Any, list[FieldError]]:
        errors: list[FieldError] = []
        count = v["count"]
        if not isinstance(count, int) or not 1 <= count <= 500:
            errors.append(FieldError("count", "Between 1 and 500."))
        name = str(v["name"]).strip()
        model = Controller(id=new_id(), customer_id=customer.id,
                           name=f"{name} {count if isinstance(count, int) else 1}",
                           model=str(v["model"]).strip(), zone_count=v["zone_count"],
                           timezone=str(v["timezone"]).strip())
        errors += [e for e in validate_controller(model) if not e.field.startswith("zones.")]
        template = None
        if v["template"]:
            try:
                template = config_files.read_config(Path(v["template"]), L.ZONES_MAX)
            except (ValidationError, OSError) as exc:
                errors.append(FieldError("template", f"Cannot use it: {exc}"))
        return (replace(model, name=name), count, template), errors

    return fields, build


def csv_file_form(label: str, default: str) -> tuple[list[Field], Builder]:
    field = Field("path", label, default, hint="a .csv file: customer, email, …, controller, "
                                               "model, zones, serial (see the README)")

    def build(v: dict[str, Any]) -> tuple[Path | None, list[FieldError]]:
        text = str(v["path"]).strip()
        if not text:
            return None, [FieldError("path", "Name a file.")]
        return Path(text).expanduser(), []

    return [field], build
