"""How names compare for a person: natural order ("Bulk 2" before "Bulk 10"), case folded."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(\d+)")
_DIGIT = re.compile(r"\d")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of `name` in natural order: runs of digits compare as numbers."""
    folded = name.casefold()
    if not _DIGIT.search(folded):  # most names: one comparison of text (10,000 rows a load)
        return ((1, folded),)
    return tuple((0, int(part)) if part.isdecimal() else (1, part)
                 for part in _NUMBER.split(folded) if part)
