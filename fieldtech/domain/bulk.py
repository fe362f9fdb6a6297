"""Building many plain records at once (a campaign's 5,000 controllers, a month's report)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while some 100,000 short-lived, acyclic objects are
    made: its passes over the whole heap as they pile up cost up to half of the work
    (reading 5,000 controllers: 0.45 s without, 0.5–0.9 s with; a report at 10,000 customers:
    0.3 s of 1). What it would have found is collected after. Left as it is if already off."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
