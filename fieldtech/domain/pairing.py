"""Which program is which on two sides (record and device): by identity, not by position."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fieldtech.domain.models import Program

Pair = tuple[int | None, int | None]  # (index in ours, index in theirs); None: one side only


def pair_programs(ours: Sequence[Program], theirs: Sequence[Program],
                  stored_name: Callable[[str], str] = str) -> list[Pair]:
    """Pairs of indexes: same `id` first, then the same name among those left.

    Ours come first in our order (paired or not), then theirs that nothing paired with. The
    name step covers a side that cannot store ids (an OpenSprinkler); `stored_name` is how
    that side spells a name it was given. Never by position: that moved a deleted program's
    hidden settings onto the next one (issue 13).
    """
    match: dict[int, int] = {}
    free = list(range(len(theirs)))
    by_id = {theirs[j].id: j for j in free}
    for i, program in enumerate(ours):
        j = by_id.get(program.id)
        if j is not None and j in free:
            match[i] = j
            free.remove(j)
    for i, program in enumerate(ours):
        if i not in match:
            j = next((j for j in free if theirs[j].name == stored_name(program.name)), None)
            if j is not None:
                match[i] = j
                free.remove(j)
    pairs: list[Pair] = [(i, match.get(i)) for i in range(len(ours))]
    return pairs + [(None, j) for j in free]
