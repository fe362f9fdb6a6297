"""What a form is made of, without textual: fields, builders and error placement.

Kept apart from the dialog (forms.py) so record forms can be described without loading
Textual's form widgets at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fieldtech.domain.errors import FieldError


@dataclass
class Field:
    name: str
    label: str
    value: Any = ""
    kind: str = "text"  # text | int | optional_int | bool | select | password
    options: Sequence[tuple[str, Any]] = ()  # for select: (label, value)
    hint: str = ""


Builder = Callable[[dict[str, Any]], tuple[Any, list[FieldError]]]


def field_for(error_path: str, names: Sequence[str]) -> str | None:
    """Which form field a domain error path belongs to ("zones.3.run_minutes" → run_minutes)."""
    parts = error_path.split(".")
    for part in reversed(parts):
        if part in names:
            return part
    return None
