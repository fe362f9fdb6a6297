"""Forms for contracts (no textual): logging a time entry on site or offline."""

from __future__ import annotations

from datetime import date
from typing import Any

from fieldtech.domain.contracts import WorkKind, time_entry_errors
from fieldtech.domain.errors import FieldError
from fieldtech.forms.fields import Builder, Field

KIND_WORDS = {WorkKind.BASIC: "Basic support", WorkKind.ADVANCED: "Advanced support",
              WorkKind.CONCIERGE: "Concierge", WorkKind.VISIT: "Technician visit"}


def time_entry_form(customer_id: str, controller_id: str | None = None,
                    today: date | None = None) -> tuple[list[Field], Builder]:
    """Minutes, kind, date and a note; builds the time entry's fields, checked by the domain
    (minutes > 0, a real date) before the dialog closes."""
    fields = [
        Field("minutes", "Minutes", 30, "int", hint="time worked, 1 to 1440"),
        Field("kind", "Kind", WorkKind.ADVANCED.value, "select",
              options=[(words, kind.value) for kind, words in KIND_WORDS.items()]),
        Field("date", "Date", (today or date.today()).isoformat(), hint="YYYY-MM-DD"),
        Field("note", "Note", ""),
    ]

    def build(v: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        data = {"customer_id": customer_id, "controller_id": controller_id,
                "minutes": v["minutes"], "kind": v["kind"], "date": v["date"],
                "note": v["note"]}
        return data, time_entry_errors({k: x for k, x in data.items() if x is not None})

    return fields, build
