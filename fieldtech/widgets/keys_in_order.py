"""Keys handled one at a time, in the order typed, even when they arrive in one burst.

Textual routes a key to the focused widget at once, but runs its binding only when the key has
bubbled back up to the app. Over SSH keys arrive together: in `e X`, the X is already on its
way through the controller screen when `e` opens the zone form, reaches the app with the form
on top, matches no binding there and is dropped; in a form, `Tab X` types the X into the field
the Tab was leaving. So the next key is routed only once the previous one has been handled to
the end (its bindings run) and a screen it opened has mounted and focused its first field.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from textual import events
from textual.app import App
from textual.dom import DOMNode

STUCK_S = 1.0  # a key whose path was torn down under it: route the next one anyway


class KeysInOrder(App):
    """An app whose keys wait for the one before them (mix in before `App`)."""

    def __init__(self, *args: object, **kwargs: object):
        super().__init__(*args, **kwargs)
        self._keys_waiting: deque[events.Key] = deque()
        self._key_in_flight: events.Key | None = None
        self._key_stuck: asyncio.TimerHandle | None = None
        self.last_key_at = 0.0  # time.monotonic() of the last key: timed repaints wait for idle

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self.last_key_at = time.monotonic()
            self._keys_waiting.append(event)
            if self._key_in_flight is None:
                await self._route_next_key()
            return
        await super().on_event(event)

    async def _route_next_key(self) -> None:
        if self._key_in_flight is not None or not self._keys_waiting:
            return
        key = self._keys_waiting.popleft()
        self._key_in_flight = key
        target: DOMNode = self.focused or self.screen  # where Textual routes it
        self._key_stuck = asyncio.get_running_loop().call_later(
            STUCK_S, self.call_later, self._key_done, key)
        await super().on_event(key)
        self._follow(target, key)

    def _follow(self, node: DOMNode | None, key: events.Key) -> None:
        """Queue a note behind `key` on each node it bubbles through, up to the app."""
        if node is None or node is self:
            self.call_later(self._key_done, key)  # behind the key's bindings, if it got here
        elif not node.call_later(self._follow, node.parent, key):
            self._follow(node.parent, key)  # that node is closing: the key stops there

    def _key_done(self, key: events.Key) -> None:
        if self._key_in_flight is not key:
            return
        if self._key_stuck is not None:
            self._key_stuck.cancel()
        # Behind the screen's mount and first focus, if the key opened a screen; then back
        # on the app's own queue, where keys are routed.
        screens = self.screen_stack
        if not screens or not screens[-1].call_later(self.call_later, self._next_key):
            self.call_later(self._next_key)

    async def _next_key(self) -> None:
        self._key_in_flight = None
        await self._route_next_key()
