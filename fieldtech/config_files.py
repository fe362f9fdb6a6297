"""A controller's configuration as a TOML file (export, import, templates), with validation."""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from fieldtech.domain.errors import FieldError, ValidationError
from fieldtech.domain.models import Controller, ControllerConfig
from fieldtech.domain.validation import parse_config

FORMAT = "fieldtech-controller-config"
VERSION = 1


def to_toml(controller: Controller) -> str:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "controller": {
            "name": controller.name,
            "model": controller.model,
            "zone_count": controller.zone_count,
            "timezone": controller.timezone,
        },
    }
    config = controller.config.to_dict()
    doc["config"] = _drop_none(config)
    return tomli_w.dumps(doc)


def export_controller(controller: Controller, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(controller), encoding="utf-8")
    return path


def read_config(path: Path, zone_count: int) -> ControllerConfig:
    """The configuration in a TOML file, validated for a controller with `zone_count` zones.

    Raises ValidationError (with every problem) or OSError; never returns half a config.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path.name} is not valid TOML: {exc}"
        raise ValidationError([FieldError("file", msg)]) from exc
    except UnicodeDecodeError:
        raise ValidationError([FieldError("file", f"{path.name} is not a text file.")]) from None
    if doc.get("format") != FORMAT:
        raise ValidationError(
            [FieldError("file", f"{path.name} is not a fieldtech controller configuration.")]
        )
    if int(doc.get("version", 0)) > VERSION:
        raise ValidationError(
            [FieldError("file", f"{path.name} was written by a newer fieldtech; upgrade.")]
        )
    config = doc.get("config")
    if not isinstance(config, dict):
        raise ValidationError([FieldError("config", "The file has no [config] table.")])
    return parse_config(config, zone_count)


def templates(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.toml")) if directory.exists() else []


def _drop_none(value: Any) -> Any:
    # TOML has no null: an absent key reads back as None through the domain's defaults.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
