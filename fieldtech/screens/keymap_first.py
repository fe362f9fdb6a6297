"""The user's keymap (settings' [keys]) applied before the keys a focused text box types are
taken out of the bindings, not after, as Textual 8.2 does.

In Textual's order the switcher moved from `s` to F2 vanished whenever a filter or search box
had the focus, which is just where a key off the letters is wanted: `s` was dropped as text
the box types, and the keymap then found no switcher binding to move to F2. With the keymap
first, F2 is kept there and a binding moved onto a letter is dropped there (the box types
it), as on any other key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.keys import key_to_character

if TYPE_CHECKING:
    from textual.binding import BindingsMap
    from textual.dom import DOMNode


class KeymapFirst:
    """For a Screen (first among its bases): its binding chain, the keymap applied first.
    Mirrors `Screen._binding_chain` otherwise (Textual is pinned to 8.2.x)."""

    @property
    def _binding_chain(self) -> list[tuple[DOMNode, BindingsMap]]:
        app = self.app  # type: ignore[attr-defined]
        focused = self.focused  # type: ignore[attr-defined]
        if focused is not None and focused.loading:
            focused = None
        nodes = [self, app] if focused is None else list(focused.ancestors_with_self)
        chain = [(node, node._bindings.copy()) for node in nodes]
        if keymap := app._keymap:
            for node, bindings in chain:
                result = bindings.apply_keymap(keymap)
                if result.clashed_bindings:
                    app.handle_bindings_clash(result.clashed_bindings, node)
        # A widget's own keys go before those of the nodes above it, and a text box takes
        # the keys it types: those are no key of anything above it while it has the focus.
        for above, (_node, bindings) in enumerate(chain):
            for below, _ in chain[:above]:
                for key in list(bindings.key_to_bindings):
                    if below.check_consume_key(key, key_to_character(key)):
                        del bindings.key_to_bindings[key]
        return chain
