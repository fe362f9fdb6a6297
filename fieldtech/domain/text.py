"""How names compare for a person: natural order ("Bulk 2" before "Bulk 10"), case folded."""

from __future__ import annotations

import re
from functools import lru_cache

_NUMBER = re.compile(r"(\d+)")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=1 << 16)  # names repeat ("Front yard"): a sort of 10,000 reuses them
def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of `name` in natural order: runs of digits compare as numbers."""
    folded = name.casefold()
    if not _DIGIT.search(folded):  # most names: one comparison of text (10,000 rows a load)
        return ((1, folded),)
    return tuple((0, int(part)) if part.isdecimal() else (1, part)
                 for part in _NUMBER.split(folded) if part)


def natural_sort_text(name: str | None) -> str:
    """`natural_key(name)` as text whose plain (byte, code point) order is the same, for the
    store's index: the first screenful is read in the order the whole fleet is sorted in.
    A number is its digit count (4 wide) then its digits, after \x01; text follows \x02;
    both marks sort below any character a name may hold (no control characters)."""
    return "".join(f"\x01{len(str(part[1])):04d}{part[1]}" if part[0] == 0 else f"\x02{part[1]}"
                   for part in natural_key(name or ""))


def normalize_tags(text: str) -> str:
    """Tags as stored: lower case, one space apart, each once, sorted ("Spring, HOA" →
    "hoa spring"). Commas and spaces both separate."""
    return " ".join(sorted({t for t in text.casefold().replace(",", " ").split()}))


def city_of(address: str) -> str:
    """The city in an address written "street, city, state" (or "street, city"), else ""."""
    parts = [p.strip() for p in address.split(",")]
    if len(parts) >= 3:
        return parts[-2]
    return parts[1] if len(parts) == 2 else ""
