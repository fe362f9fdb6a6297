"""Keys over SSH mean what they mean typed slowly (issue 18): Esc is the Escape key at once,
Esc and a key in one read are two keys, and a key's sequence split across reads is one key.
The parser is fieldtech's (fieldtech/terminal/driver.py); test_ssh_bytes drives it in a pty."""

from __future__ import annotations

from textual import events

from fieldtech.terminal.driver import ESCAPE_GRACE, KeyParser


def keys(parser: KeyParser, *reads: str) -> list[str]:
    got = []
    for data in reads:
        got += [e.key for e in parser.feed(data) if isinstance(e, events.Key)]
    return got


def test_esc_and_a_key_in_one_read_are_two_keys() -> None:
    assert keys(KeyParser(), "\x1bf") == ["escape", "f"]  # Textual: alt+f, unbound: both lost
    assert keys(KeyParser(), "\x1b\x1bq") == ["escape", "escape", "q"]  # Textual: alt+q
    assert keys(KeyParser(), "j\x1b\x1b[Bk") == ["j", "escape", "down", "k"]


def test_sequences_are_still_keys() -> None:
    assert keys(KeyParser(), "\x1b[B\x1b[A\x1bOB") == ["down", "up", "down"]
    assert keys(KeyParser(), "\x1b", "[B") == ["down"]  # split by the pty: rejoined
    parser = KeyParser()
    clicks = list(parser.feed("\x1b[<0;10;5M\x1b[<0;10;5m"))
    assert [type(e) for e in clicks] == [events.MouseDown, events.MouseUp]


def test_an_esc_ending_a_read_waits_a_grace_not_textuals_delay() -> None:
    parser = KeyParser()
    assert keys(parser, "\x1b") == []  # maybe the start of a sequence
    assert parser.wait is not None and parser.wait <= ESCAPE_GRACE  # Textual: 0.1 s
    parser._timeout_time = 0.0  # the grace has passed
    assert [e.key for e in parser.tick()] == ["escape"]
    assert parser.wait is None
