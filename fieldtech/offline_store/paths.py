"""Where fieldtech keeps data and settings (platformdirs), and the demo's separate places."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "fieldtech"


def data_dir(override: str | os.PathLike[str] | None = None, demo: bool = False) -> Path:
    """The user data dir (or FIELDTECH_DATA_DIR / --data-dir); the demo lives in its own."""
    if override:
        base = Path(override)
    elif env := os.environ.get("FIELDTECH_DATA_DIR"):
        base = Path(env)
    else:
        from platformdirs import user_data_dir

        base = Path(user_data_dir(APP_NAME, appauthor=False))
    return base / "demo" if demo else base


def config_dir(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        return Path(override)
    if env := os.environ.get("FIELDTECH_CONFIG_DIR"):
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def store_path(data: Path) -> Path:
    return data / "fieldtech.db"


def templates_dir(data: Path) -> Path:
    return data / "templates"
