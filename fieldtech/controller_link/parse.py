"""Reading untrusted values out of device answers: every surprise becomes a ProtocolError."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fieldtech.controller_link.errors import ProtocolError

REQUIRED: Any = object()  # marker: the key must be present


def obj(value: Any, what: str, address: str | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"The device sent {what} in an unexpected form.", address=address)
    return value


def _get(d: dict[str, Any], key: str, default: Any, address: str | None) -> tuple[bool, Any]:
    """(present, value); raises if a required key is missing."""
    if key in d:
        return True, d[key]
    if default is REQUIRED:
        raise ProtocolError(f"The device's answer lacks {key!r}.", address=address)
    return False, default


def integer(d: dict[str, Any], key: str, address: str | None, default: Any = REQUIRED) -> Any:
    present, value = _get(d, key, default, address)
    if not present:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"The device sent {key!r} as {value!r}, not a number.", address=address)
    return value


def text(d: dict[str, Any], key: str, address: str | None, default: Any = REQUIRED) -> Any:
    present, value = _get(d, key, default, address)
    if present and not isinstance(value, str):
        raise ProtocolError(f"The device sent {key!r} as {value!r}, not text.", address=address)
    return value


def boolean(d: dict[str, Any], key: str, address: str | None, default: Any = REQUIRED) -> Any:
    present, value = _get(d, key, default, address)
    if not present or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ProtocolError(f"The device sent {key!r} as {value!r}, not yes/no.", address=address)


def int_list(value: Any, what: str, address: str | None) -> list[int]:
    if not isinstance(value, list) or any(
        isinstance(x, bool) or not isinstance(x, int) for x in value
    ):
        raise ProtocolError(f"The device sent {what} as {value!r}, not a list of numbers.",
                            address=address)
    return value


def timestamp(value: Any, what: str, address: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"The device sent {what} as {value!r}, not a date and time.",
                            address=address) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
