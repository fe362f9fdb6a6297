"""Textual's parsed style sheets, kept between starts (issue 17: start ≤ 1.5× a bare app).

Textual parses app.tcss and every widget class's DEFAULT_CSS at each start: ~9 ms of CPU
before the first paint here (14 ms under load), read back parsed in a fraction of that. An
entry is used only for the very same CSS text, read from the same place with the same
tie-breaker and scope, under the same theme variables (all of it is the entry's key, compared
whole: no hash to collide), and only by the Textual and Rich that wrote it: the file records the
size and modification time of the modules that parse CSS and of those the parsed rules are
made of, and is ignored whole when any differs (an upgrade, an edited install) or when Python's
version does. A changed style sheet is parsed afresh, never served stale.

The file is a pickle, which can run code when read: it is read only when the user owns it and
nobody else may write to it (as ssh treats its keys), in the user's own cache folder, made for
them alone; anything wrong with it (cut short, another format, not ours) reads as no cache.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import rich
import textual
from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet

FILE_NAME = "styles.pickle"
KEPT_AT_MOST = 200  # entries: a developer's edits of app.tcss each add one
_TEXTUAL = Path(textual.__file__).parent
_RICH = Path(rich.__file__).parent
# What parsed rules depend on besides their text: the parser and the classes they hold.
PARSER_FILES = (*sorted((_TEXTUAL / "css").glob("*.py")), _TEXTUAL / "color.py",
                _TEXTUAL / "geometry.py", _TEXTUAL / "style.py", _TEXTUAL / "__init__.py",
                _RICH / "style.py", _RICH / "color.py", _RICH / "__init__.py")

Key = tuple[str, tuple[str, str], bool, int, str, tuple[tuple[str, str], ...]]


def parser_fingerprint(files: tuple[Path, ...] = PARSER_FILES) -> tuple[Any, ...]:
    """What must be the same for kept rules to be the ones a parse would make now."""
    stats = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            stats.append((str(path), None))
        else:
            stats.append((str(path), st.st_size, st.st_mtime_ns))
    return (sys.version, pickle.HIGHEST_PROTOCOL, *stats)


class StyleCache:
    """The parsed rules kept in `folder`, read once when made; `save` writes what was new."""

    def __init__(self, folder: Path, fingerprint: tuple[Any, ...] | None = None):
        self.path = folder / FILE_NAME
        self.fingerprint = parser_fingerprint() if fingerprint is None else fingerprint
        self._kept: dict[Key, list[RuleSet]] = self._read()
        self._new: dict[Key, list[RuleSet]] = {}
        self.used = 0  # entries served from the file (tests, and to see that it works)

    def _read(self) -> dict[Key, list[RuleSet]]:
        try:
            with open(self.path, "rb") as file:
                st = os.fstat(file.fileno())
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return {}  # another user's, or writable by others: never unpickled
                kept = pickle.load(file)
        except Exception:  # missing, cut short, garbage, classes gone: no cache, parse
            return {}
        if (not isinstance(kept, dict) or kept.get("fingerprint") != self.fingerprint
                or not isinstance(kept.get("rules"), dict)):
            return {}
        return kept["rules"]

    def get(self, key: Key) -> list[RuleSet] | None:
        rules = self._kept.get(key)
        if rules is not None:
            self.used += 1
        return rules

    def put(self, key: Key, rules: list[RuleSet]) -> None:
        self._new[key] = rules

    def save(self) -> None:
        """Write the kept rules and the new ones (newest last, the oldest dropped past
        KEPT_AT_MOST), if any are new; atomically, so a reader sees the old file or this."""
        if not self._new:
            return
        rules = {**self._kept, **self._new}
        rules = dict(list(rules.items())[-KEPT_AT_MOST:])
        data = pickle.dumps({"fingerprint": self.fingerprint, "rules": rules},
                            protocol=pickle.HIGHEST_PROTOCOL)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".styles-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._kept, self._new = rules, {}


class CachedStylesheet(Stylesheet):
    """Textual's stylesheet, taking parsed rules from a StyleCache when it has them.

    Only the parse of one source is replaced; a theme change's reparse makes a plain
    Stylesheet (Textual's own), which parses as always."""

    def __init__(self, cache: StyleCache, *, variables: dict[str, str] | None = None):
        super().__init__(variables=variables)
        self.cache = cache
        self._variables_key: tuple[dict[str, str], tuple[tuple[str, str], ...]] | None = None

    def _parse_rules(self, css: str, read_from: tuple[str, str], is_default_rules: bool = False,
                     tie_breaker: int = 0, scope: str = "") -> list[RuleSet]:
        variables = self._variables
        if self._variables_key is None or self._variables_key[0] is not variables:
            self._variables_key = (variables, tuple(sorted(variables.items())))
        key = (css, tuple(read_from), is_default_rules, tie_breaker, scope,
               self._variables_key[1])
        rules = self.cache.get(key)
        if rules is None:
            rules = super()._parse_rules(css, read_from, is_default_rules, tie_breaker, scope)
            # Errors are raised, never kept; nor a source Textual names by its hash() (random
            # in each process: it would never be found again).
            if (not any(rule.errors for rule in rules)
                    and tuple(read_from) != ("", str(hash(css)))):
                self.cache.put(key, rules)
        return rules


def user_cache_dir() -> Path:
    """FIELDTECH_CACHE_DIR, else the user's cache folder (XDG's on Linux, as platformdirs
    says; platformdirs itself elsewhere: importing it cost ~3 ms of the start)."""
    if env := os.environ.get("FIELDTECH_CACHE_DIR"):
        return Path(env)
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
        return Path(base) / "fieldtech"
    from platformdirs import user_cache_dir as platform_cache_dir

    return Path(platform_cache_dir("fieldtech", appauthor=False))
