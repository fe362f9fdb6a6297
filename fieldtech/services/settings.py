"""User settings in one TOML file in the config dir: theme, key overrides, pinned controllers,
how often to sync.

Never holds a token (those live in the OS keyring). A broken file is reported, not overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fieldtech.domain.limits import CANARY_LIMIT_MINUTES
from fieldtech.offline_store.paths import config_dir

PINNED_MAX = 9  # the switcher shows digits 1-9
SYNC_EVERY_S = 60  # background sync period when signed in; 0 = only on demand (S)
SYNC_EVERY_MIN_S = 10  # an idle sync is one small request, but not a busy loop
VIEW_NAME_MAX = 40


@dataclass(frozen=True)
class View:
    """A saved view of a list: a name for a filter and a sort."""

    name: str
    filter: str = ""
    sort: str = ""  # a column of queries.FLEET_SORTS; "-status" is descending


@dataclass
class Settings:
    theme: str = "textual-dark"
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. "finder"="f"
    pinned: list[str] = field(default_factory=list)  # controller ids, switcher order
    ssh_profile: bool | None = None  # None: on when SSH_CONNECTION is set
    cursor_blink: bool | None = None  # None: blink, except in the SSH profile (bytes)
    mdns_interfaces: list[str] | None = None  # addresses mDNS binds on site; None = all
    sync_every_s: int = SYNC_EVERY_S
    views: list[View] = field(default_factory=list)  # the fleet's saved views, in order
    # how long a campaign's canary devices have to confirm it (services/campaigns.py)
    canary_limit_minutes: int = CANARY_LIMIT_MINUTES
    path: Path | None = field(default=None, compare=False)
    problem: str | None = field(default=None, compare=False)  # why the file could not be read

    @classmethod
    def load(cls, directory: Path | None = None) -> Settings:
        path = (directory or config_dir()) / "settings.toml"
        if not path.exists():
            return cls(path=path)
        import tomllib  # only with a settings file: ~1.7 ms of a start without one

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return cls(path=path, problem=f"{path} could not be read ({exc}); using defaults.")
        s = cls(path=path)
        if isinstance(data.get("theme"), str):
            s.theme = data["theme"]
        keys = data.get("keys", {})
        if isinstance(keys, dict):
            s.keys = {str(k): str(v) for k, v in keys.items() if isinstance(v, str)}
        pinned = data.get("pinned", [])
        if isinstance(pinned, list):
            s.pinned = [str(p) for p in pinned][:PINNED_MAX]
        if isinstance(data.get("ssh_profile"), bool):
            s.ssh_profile = data["ssh_profile"]
        if isinstance(data.get("cursor_blink"), bool):
            s.cursor_blink = data["cursor_blink"]
        interfaces = data.get("mdns_interfaces")
        if isinstance(interfaces, list) and interfaces:
            s.mdns_interfaces = [str(i) for i in interfaces]
        every = data.get("sync_every_s")
        if isinstance(every, int) and not isinstance(every, bool) and every >= 0:
            s.sync_every_s = every and max(every, SYNC_EVERY_MIN_S)
        limit = data.get("canary_limit_minutes")
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1:
            s.canary_limit_minutes = limit
        views = data.get("views", {})
        if isinstance(views, dict):  # [views."Offline in Tucson"] filter = "…" sort = "…"
            s.views = [View(str(name)[:VIEW_NAME_MAX], str(v.get("filter", "")),
                            str(v.get("sort", "")))
                       for name, v in views.items() if isinstance(v, dict)]
        return s

    def key_for(self, binding_id: str, default: str) -> str:
        """The key a binding is on, as the user remapped it (e.g. to name it in a message)."""
        return self.keys.get(binding_id, default).split(",")[0]

    def save(self) -> None:
        if self.path is None or self.problem:  # never overwrite a file we could not read
            return
        data: dict[str, object] = {"theme": self.theme, "pinned": self.pinned, "keys": self.keys}
        if self.ssh_profile is not None:
            data["ssh_profile"] = self.ssh_profile
        if self.cursor_blink is not None:
            data["cursor_blink"] = self.cursor_blink
        if self.mdns_interfaces is not None:
            data["mdns_interfaces"] = self.mdns_interfaces
        if self.sync_every_s != SYNC_EVERY_S:
            data["sync_every_s"] = self.sync_every_s
        if self.canary_limit_minutes != CANARY_LIMIT_MINUTES:
            data["canary_limit_minutes"] = self.canary_limit_minutes
        if self.views:
            data["views"] = {v.name: {"filter": v.filter, "sort": v.sort} for v in self.views}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        import tomli_w  # only to save: not on the start's path

        tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old file or the new one

    def toggle_pin(self, controller_id: str) -> bool:
        """Pin or unpin; returns True if now pinned. The oldest pin drops past nine."""
        if controller_id in self.pinned:
            self.pinned.remove(controller_id)
            return False
        self.pinned = [controller_id, *self.pinned][:PINNED_MAX]
        return True

    def save_view(self, view: View) -> None:
        """Keep `view` (one of the same name is replaced, in its place)."""
        names = [v.name for v in self.views]
        if view.name in names:
            self.views[names.index(view.name)] = view
        else:
            self.views.append(view)

    def delete_view(self, name: str) -> None:
        self.views = [v for v in self.views if v.name != name]

    def blink(self) -> bool:
        return self.cursor_blink if self.cursor_blink is not None else not self.use_ssh_profile()

    def use_ssh_profile(self) -> bool:
        if self.ssh_profile is not None:
            return self.ssh_profile
        return bool(os.environ.get("SSH_CONNECTION"))
